package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestSIGTERMStopsCleanly runs the real binary: once it is SERVING, SIGTERM
// must turn health NOT_SERVING, stop the servers and exit 0.
func TestSIGTERMStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "extauthz")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			grpcAddr, httpAddr, _ := sockets(t)
			var stderr output
			cmd := exec.Command(bin, "dev")
			cmd.Env = append(os.Environ(), "EXTAUTHZ_GRPC_ADDR="+grpcAddr, "EXTAUTHZ_HTTP_ADDR="+httpAddr, "EXTAUTHZ_ADMIN_ADDR=off", "EXTAUTHZ_LOG_FORMAT=json")
			cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			waitServing(t, grpcAddr)

			conn, err := dial(grpcAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			stream, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if resp, err := stream.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("before the signal: %v %v", resp.GetStatus(), err)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			resp, err := stream.Recv()
			if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
				t.Errorf("after the signal health said %v (%v), want NOT_SERVING", resp.GetStatus(), err)
			}
			cancel() // end the watch so that GracefulStop need not wait for it
			if err := cmd.Wait(); err != nil {
				t.Errorf("exit after %v: %v\n%s", sig, err, stderr.String())
			}
			log := stderr.String()
			for _, want := range []string{`"msg":"shutting down"`, `"msg":"stopped"`} {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %s", want)
				}
			}
			if strings.Contains(log, "graceful stop timed out") {
				t.Error("graceful stop was cut short")
			}
		})
	}
}
