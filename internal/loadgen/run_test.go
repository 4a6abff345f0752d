package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	echoMethod = "/test.Echo/Call"
	failMethod = "/test.Echo/Fail"
	hangMethod = "/test.Echo/Hang"
)

var (
	testRequest  = bytes.Repeat([]byte{0x0a, 0x03, 'a', 'b', 'c'}, 100) // 500 bytes
	testResponse = []byte{0x0a, 0x02, 'o', 'k'}
	errWrongBody = errors.New("wrong response body")
)

// startServer runs a grpc-go server on loopback that answers echoMethod
// with testResponse (after checking the request arrived intact), failMethod
// with PERMISSION_DENIED, and hangMethod never. opts are added to the
// server's options (transport credentials, interceptors).
func startServer(t *testing.T, opts ...grpc.ServerOption) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(append(opts, grpc.ForceServerCodecV2(rawCodec{}), grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(ss)
		var req rawMessage
		if err := ss.RecvMsg(&req); err != nil {
			return err
		}
		if !bytes.Equal(req.b, testRequest) {
			return status.Error(codes.InvalidArgument, "request bytes changed on the way")
		}
		switch method {
		case failMethod:
			return status.Error(codes.PermissionDenied, "no")
		case hangMethod:
			<-ss.Context().Done()
			return ss.Context().Err()
		}
		return ss.SendMsg(&rawMessage{b: testResponse})
	}))...)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

func checkOK(msg []byte) error {
	if !bytes.Equal(msg, testResponse) {
		return errWrongBody
	}
	return nil
}

// Both clients, in both loops, over cleartext and over mutual TLS with a
// server that also checks the client certificate's SAN.
func TestRunCountsGoodResponses(t *testing.T) {
	p := newTestPKI(t)
	servers := []struct {
		name string
		addr string
		tls  *tls.Config
	}{
		{"cleartext", startServer(t), nil},
		{"mTLS", startTLSServer(t, p), p.clientConfig()},
	}
	for _, srv := range servers {
		for _, c := range []struct {
			name string
			o    Options
		}{
			{"h2 closed loop", Options{Client: ClientH2, Conns: 2, InFlight: 8}},
			{"grpc closed loop", Options{Client: ClientGRPC, Conns: 2, InFlight: 8}},
			{"h2 open loop", Options{Client: ClientH2, Conns: 2, Rate: 2000}},
			{"grpc open loop", Options{Client: ClientGRPC, Conns: 2, Rate: 2000, InFlight: 16}},
		} {
			t.Run(srv.name+" "+c.name, func(t *testing.T) { runCountsGoodResponses(t, srv.addr, srv.tls, c.o) })
		}
	}
}

// runCountsGoodResponses runs o against the echo server at addr.
func runCountsGoodResponses(t *testing.T, addr string, cfg *tls.Config, o Options) {
	o.Addr, o.TLS, o.Method, o.Request, o.Check = addr, cfg, echoMethod, testRequest, checkOK
	o.Settle, o.Duration = 50*time.Millisecond, 200*time.Millisecond
	var starts, ends int
	o.WindowStart = func() { starts++ }
	o.WindowEnd = func() { ends++ }
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != 0 || res.FirstError != nil || res.Unanswered != 0 {
		t.Fatalf("requests %d, errors %d (%v), unanswered %d; want some, none and none", res.Requests, res.Errors, res.FirstError, res.Unanswered)
	}
	if res.Latency.Count() != res.Requests {
		t.Errorf("%d latencies for %d requests", res.Latency.Count(), res.Requests)
	}
	if starts != 1 || ends != 1 {
		t.Errorf("window hooks ran %d and %d times, want once each", starts, ends)
	}
	if res.Throughput() <= 0 || res.Elapsed <= 0 {
		t.Errorf("throughput %v over %v", res.Throughput(), res.Elapsed)
	}
	if o.Rate > 0 && res.Lag.Count() == 0 {
		t.Error("open loop recorded no pacing lag")
	}
}

func TestRunCountsFailures(t *testing.T) {
	addr := startServer(t)
	for _, client := range []Client{ClientH2, ClientGRPC} {
		t.Run(string(client)+" grpc status", func(t *testing.T) {
			res, err := Run(context.Background(), Options{Addr: addr, Method: failMethod, Request: testRequest,
				Client: client, InFlight: 4, Duration: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests != 0 || res.Errors == 0 {
				t.Fatalf("requests %d, errors %d; want only errors", res.Requests, res.Errors)
			}
			if se := new(statusError); client == ClientH2 && (!errors.As(res.FirstError, se) || se.code != int(codes.PermissionDenied)) {
				t.Errorf("first error %v, want grpc-status %d", res.FirstError, codes.PermissionDenied)
			}
			if client == ClientGRPC && status.Code(res.FirstError) != codes.PermissionDenied {
				t.Errorf("first error %v, want PermissionDenied", res.FirstError)
			}
		})
		t.Run(string(client)+" check", func(t *testing.T) {
			res, err := Run(context.Background(), Options{Addr: addr, Method: echoMethod, Request: testRequest,
				Client: client, InFlight: 4, Duration: 100 * time.Millisecond,
				Check: func([]byte) error { return errWrongBody }})
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests != 0 || res.Errors == 0 || !errors.Is(res.FirstError, errWrongBody) {
				t.Fatalf("requests %d, errors %d, first %v; want only check failures", res.Requests, res.Errors, res.FirstError)
			}
		})
	}
}

// A server that stops answering has no latencies to look fast with: its
// requests are counted unanswered.
func TestRunCountsUnansweredRequests(t *testing.T) {
	addr := startServer(t)
	for _, client := range []Client{ClientH2, ClientGRPC} {
		t.Run(string(client), func(t *testing.T) {
			res, err := Run(context.Background(), Options{Addr: addr, Method: hangMethod, Request: testRequest,
				Client: client, Conns: 2, InFlight: 3, Duration: 50 * time.Millisecond, Drain: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			// The raw client queues all six at once; grpc-go's workers
			// may not all have started on a busy machine.
			if res.Requests != 0 || res.Errors != 0 || res.Latency.Count() != 0 || res.Unanswered == 0 || res.Unanswered > 6 ||
				client == ClientH2 && res.Unanswered != 6 {
				t.Errorf("requests %d, errors %d, latencies %d, unanswered %d; want 0, 0, 0 and 6",
					res.Requests, res.Errors, res.Latency.Count(), res.Unanswered)
			}
		})
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{
		{},
		{Addr: "127.0.0.1:1", Method: echoMethod, Duration: time.Second, Client: "carrier-pigeon"},
		{Addr: "127.0.0.1:1", Method: echoMethod, Duration: time.Second, Conns: -1},
		{Addr: "127.0.0.1:1", Method: echoMethod, Duration: 0, InFlight: 1},
		{Addr: "127.0.0.1:1", Method: echoMethod, Duration: time.Second, Rate: -5},
		{Addr: "127.0.0.1:1", Method: echoMethod, Duration: time.Second, Drain: -time.Second},
	} {
		if _, err := Run(context.Background(), o); !errors.Is(err, ErrOptions) {
			t.Errorf("Run(%+v) = %v, want ErrOptions", o, err)
		}
	}
}

func TestRunReportsAnUnreachableServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Run(context.Background(), Options{Addr: addr, Method: echoMethod, InFlight: 1, Duration: time.Second}); err == nil {
		t.Error("Run against a closed port succeeded")
	}
}
