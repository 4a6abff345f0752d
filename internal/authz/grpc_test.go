package authz

import (
	"context"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"extauthz/internal/grpctest"
)

// TestCheckOverGRPC registers the server on a real gRPC server on loopback
// and checks that what a client receives equals what Check returns directly,
// for an allowed request and for each denial.
func TestCheckOverGRPC(t *testing.T) {
	s := newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken)), AllowedHosts: anthropicOnly})
	gs := grpc.NewServer()
	authv3.RegisterAuthorizationServer(gs, s)
	conn := grpctest.Serve(t, gs)
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
