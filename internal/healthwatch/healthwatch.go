// Package healthwatch waits for a gRPC server's grpc.health.v1 status through
// the Watch stream, so callers (tests, tools) block on the server's own
// notification instead of polling.
package healthwatch

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Wait blocks until the server behind conn reports want for service ("" is
// the whole server), ctx ends, or the stream fails. It waits for the
// connection to come up (WaitForReady), so it may be called before the
// server listens.
func Wait(ctx context.Context, conn grpc.ClientConnInterface, service string, want healthpb.HealthCheckResponse_ServingStatus) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream, so a server's GracefulStop need not wait for it
	stream, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: service}, grpc.WaitForReady(true))
	if err != nil {
		return err
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("waiting for %v: %w", want, err)
		}
		if resp.GetStatus() == want {
			return nil
		}
	}
}
