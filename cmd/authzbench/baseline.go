package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// baselineToken stands in for a WIF access token: the emulator's shape and
// length (sk-ant-oat01- and 43 base64url characters). It is not a credential.
const baselineToken = "sk-ant-oat01-BASELINE.not.a.token.0123456789abcdefghijkl"

// baselineResponse is the baseline's one answer: the shape of extauthz's WIF
// OK response (authorization and anthropic-beta, both with append=false and
// OVERWRITE_IF_EXISTS_OR_ADD; x-api-key removed).
func baselineResponse() *authv3.CheckResponse {
	set := func(k, v string) *corev3.HeaderValueOption {
		return &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: k, Value: v},
			Append:       wrapperspb.Bool(false),
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		}
	}
	return &authv3.CheckResponse{
		Status: &status.Status{},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers:         []*corev3.HeaderValueOption{set("authorization", "Bearer "+baselineToken), set("anthropic-beta", "oauth-2025-04-20")},
			HeadersToRemove: []string{"x-api-key"},
		}},
	}
}

// baselineAuthz returns one prebuilt response to every Check: what the most
// straightforward Go ext_authz server costs.
type baselineAuthz struct{ resp *authv3.CheckResponse }

var _ authv3.AuthorizationServer = baselineAuthz{}

func (b baselineAuthz) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return b.resp, nil
}

// runBaseline is the hidden baseline-server mode: a grpc.NewServer() with
// no options, the Authorization service and grpc.health.v1 (SERVING, for
// the benchmark's readiness check). It prints "listening ADDR" and serves
// until SIGTERM or SIGINT.
func runBaseline(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("baseline-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "baseline-server: %v\n", err)
		return 1
	}
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, baselineAuthz{baselineResponse()})
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	context.AfterFunc(ctx, srv.Stop)
	fmt.Fprintf(stdout, "listening %s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintf(stderr, "baseline-server: %v\n", err)
		return 1
	}
	return 0
}
