package healthwatch

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestWait(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	defer srv.Stop()
	conn, err := grpc.NewClient("passthrough:///"+ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // hang guard only
	defer cancel()
	if err := Wait(ctx, conn, "svc", healthpb.HealthCheckResponse_NOT_SERVING); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Wait(ctx, conn, "svc", healthpb.HealthCheckResponse_SERVING) }()
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	if err := Wait(short, conn, "svc", healthpb.HealthCheckResponse_NOT_SERVING); err == nil {
		t.Error("Wait on an ended context returned nil")
	}
}
