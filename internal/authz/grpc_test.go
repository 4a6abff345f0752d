package authz

import (
	"context"
	"net"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// TestCheckOverGRPC registers the server on a real gRPC server on loopback
// and checks that what a client receives equals what Check returns directly,
// for an allowed request and for each denial.
func TestCheckOverGRPC(t *testing.T) {
	s := newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken)), AllowedHosts: anthropicOnly})
	gs := grpc.NewServer()
	authv3.RegisterAuthorizationServer(gs, s)
	conn := serve(t, gs)
	client := authv3.NewAuthorizationClient(conn)

	cases := map[string]codes.Code{
		"client_beta":        codes.OK,
		"header_map_raw":     codes.OK,
		"other_host":         codes.PermissionDenied,
		"no_http_attributes": codes.InvalidArgument,
		"empty":              codes.InvalidArgument,
	}
	for name, wantCode := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req := loadRequest(t, name)
			got, err := client.Check(ctx, req)
			if err != nil {
				t.Fatalf("RPC failed: %v", err) // denials are responses, never RPC errors
			}
			if c := codes.Code(got.GetStatus().GetCode()); c != wantCode {
				t.Errorf("status code %v, want %v", c, wantCode)
			}
			direct, _ := s.Check(ctx, req)
			if !proto.Equal(got, direct) {
				t.Error("the response over gRPC differs from the direct one")
			}
		})
	}
}

// serve runs g on loopback until the test ends and returns a client
// connection to it.
func serve(t *testing.T, g *grpc.Server) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(lis) }()
	t.Cleanup(func() {
		g.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
