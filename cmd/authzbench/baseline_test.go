package main

import (
	"context"
	"net"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"

	"extauthz/internal/loadgen"
)

// TestBaselineUnderLoad drives the baseline's handler on a default grpc-go
// server with the raw HTTP/2 client, as the benchmark does, and expects
// every response to pass the load-time check.
func TestBaselineUnderLoad(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, baselineAuthz{baselineResponse()})
	go srv.Serve(ln)
	defer srv.Stop()

	req, err := encodeRequest(envoyCheckRequest(false, ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, client := range []loadgen.Client{loadgen.ClientH2, loadgen.ClientGRPC} {
		res, err := loadgen.Run(context.Background(), loadgen.Options{Addr: ln.Addr().String(), Method: checkMethod,
			Request: req, Check: wantFor(serverBaseline, false).check, Client: client, Conns: 2, InFlight: 4, Duration: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests == 0 || res.Errors != 0 {
			t.Errorf("%s: %d requests, %d errors (%v)", client, res.Requests, res.Errors, res.FirstError)
		}
	}
}
