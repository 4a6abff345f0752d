package feedback

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"extauthz/internal/authz"
	"extauthz/internal/grpctest"
)

// serve runs s on a gRPC server built like the service's (the fast Check
// codec, which hands these messages to the standard one) on loopback until
// the test ends, and returns a client connection to it.
func serve(t *testing.T, s *Server, opts ...grpc.ServerOption) *grpc.ClientConn {
	t.Helper()
	g := grpc.NewServer(append(opts, grpc.ForceServerCodecV2(authz.NewCodec()))...)
	s.Register(g)
	return grpctest.Serve(t, g)
}

// testContext bounds a test's RPCs; no assertion depends on it.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// stream opens an access-log stream on conn and sends msgs on it.
func openStream(t *testing.T, conn *grpc.ClientConn, msgs ...*accesslogv3.StreamAccessLogsMessage) accesslogv3.AccessLogService_StreamAccessLogsClient {
	t.Helper()
	c, err := accesslogv3.NewAccessLogServiceClient(conn).StreamAccessLogs(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := c.Send(m); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	return c
}

// closeStream closes c and checks that the only answer is the empty
// response.
func closeStream(t *testing.T, c accesslogv3.AccessLogService_StreamAccessLogsClient) {
	t.Helper()
	resp, err := c.CloseAndRecv()
	if err != nil {
		t.Fatalf("CloseAndRecv: %v", err)
	}
	if !proto.Equal(resp, &accesslogv3.StreamAccessLogsResponse{}) {
		t.Errorf("the server answered %v, want the empty response", resp)
	}
}

// TestStreamOverGRPC sends what an Envoy would and checks every count, and
// that the one upstream 401 of the current generation made exactly one
// Invalidate call and one refresh.
func TestStreamOverGRPC(t *testing.T) {
	creds, obs := newFakeCredentials("team-a", "team-b"), newCountingObserver()
	conn := serve(t, newTestServer(t, creds, obs, nil))
	c := openStream(t, conn,
		httpMessage(identifier(), stampedEntry("team-a", 1, 200, viaUpstream), stampedEntry("team-b", 1, 529, viaUpstream)),
		httpMessage(nil,
			stampedEntry("team-a", 1, 401, viaUpstream),
			stampedEntry("team-b", 1, 401, "ext_authz_denied"),
			stampedEntry("team-b", 0, 401, viaUpstream),
			stampedEntry("team-x", 1, 401, viaUpstream),
			entryWith(nil, 403, "ext_authz_denied")))
	closeStream(t, c)

	ignored, upstream := obs.snapshot()
	wantIgnored := map[string]int{ReasonLocalReply: 1, ReasonUnknownCredential: 1, ReasonNoMetadata: 1}
	wantUpstream := map[[2]string]int{{"team-a", ClassOther}: 1, {"team-b", Class5xx}: 1, {"team-a", Class401}: 1, {"team-b", Class401}: 1}
	if !maps.Equal(ignored, wantIgnored) || !maps.Equal(upstream, wantUpstream) {
		t.Errorf("counted ignored %v, upstream %v; want %v, %v", ignored, upstream, wantIgnored, wantUpstream)
	}
	if got := creds.creds["team-a"].invalidated; len(got) != 1 || got[0] != 1 {
		t.Errorf("team-a was invalidated with generations %v, want exactly [1]", got)
	}
	if a, b := creds.refreshes("team-a"), creds.refreshes("team-b"); a != 1 || b != 0 {
		t.Errorf("refreshes: team-a %d, team-b %d; want 1, 0 (team-b's 401s were stale or local)", a, b)
	}
}

// TestBurstOverGRPC sends 10,000 upstream 401s of the current generation:
// each reaches Invalidate, the credential refreshes once.
func TestBurstOverGRPC(t *testing.T) {
	creds, obs := newFakeCredentials("team-a").frozen(), newCountingObserver()
	var logs logBuffer
	conn := serve(t, newTestServer(t, creds, obs, &logs))
	m := httpMessage(nil, repeat(stampedEntry("team-a", 1, 401, viaUpstream), 1000)...)
	c := openStream(t, conn, httpMessage(identifier()))
	for range 10 {
		if err := c.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	closeStream(t, c)
	if got := creds.invalidations(); got != 10_000 {
		t.Errorf("%d Invalidate calls, want 10000", got)
	}
	if got := creds.refreshes("team-a"); got != 1 {
		t.Errorf("%d refreshes, want 1", got)
	}
	if got := len(logs.lines(t, "upstream answered 401")); got != 1 {
		t.Errorf("%d INFO lines about 401 feedback, want 1", got)
	}
}

// TestRejectedCaller: a stream Authorize refuses fails with its status, and
// nothing it sent is read or counted.
func TestRejectedCaller(t *testing.T) {
	creds, obs := newFakeCredentials("team-a"), newCountingObserver()
	var authorized atomic.Int32
	s, err := NewServer(Options{Credentials: creds, Observer: obs, Logger: testLogger(nil),
		Authorize: func(context.Context) error {
			authorized.Add(1)
			return status.Error(codes.PermissionDenied, "caller not allowed")
		}})
	if err != nil {
		t.Fatal(err)
	}
	conn := serve(t, s)
	c, err := accesslogv3.NewAccessLogServiceClient(conn).StreamAccessLogs(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	c.Send(httpMessage(identifier(), stampedEntry("team-a", 1, 401, viaUpstream))) // may fail: the server may have answered
	_, err = c.CloseAndRecv()
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("stream ended with %v, want PermissionDenied", err)
	}
	if authorized.Load() != 1 || obs.total() != 0 || creds.invalidations() != 0 {
		t.Errorf("authorize called %d times, %d entries counted, %d invalidations; want 1, 0, 0", authorized.Load(), obs.total(), creds.invalidations())
	}
}

// TestConcurrentStreams runs streams in parallel; every entry is counted
// exactly once and the one credential refreshes once.
func TestConcurrentStreams(t *testing.T) {
	const streams, messages = 8, 20
	creds, obs := newFakeCredentials("team-a", "team-b").frozen(), newCountingObserver()
	conn := serve(t, newTestServer(t, creds, obs, nil))
	batch := httpMessage(nil,
		stampedEntry("team-a", 1, 401, viaUpstream),
		stampedEntry("team-b", 1, 200, viaUpstream),
		stampedEntry("team-c", 1, 200, viaUpstream),
		entryWith(nil, 200, viaUpstream))
	clients := make([]accesslogv3.AccessLogService_StreamAccessLogsClient, streams)
	for i := range clients {
		clients[i] = openStream(t, conn, httpMessage(identifier()))
	}
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for _, c := range clients {
		wg.Go(func() {
			for range messages {
				if err := c.Send(batch); err != nil {
					errs <- err
					return
				}
			}
			if _, err := c.CloseAndRecv(); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ignored, upstream := obs.snapshot()
	n := streams * messages
	wantIgnored := map[string]int{ReasonUnknownCredential: n, ReasonNoMetadata: n}
	wantUpstream := map[[2]string]int{{"team-a", Class401}: n, {"team-b", ClassOther}: n}
	if !maps.Equal(ignored, wantIgnored) || !maps.Equal(upstream, wantUpstream) {
		t.Errorf("counted ignored %v, upstream %v; want %v, %v", ignored, upstream, wantIgnored, wantUpstream)
	}
	if got := creds.refreshes("team-a"); got != 1 {
		t.Errorf("team-a refreshed %d times, want 1", got)
	}
}

// TestGarbageBytes sends messages that are not StreamAccessLogsMessages:
// each such stream ends with grpc's Internal status, is counted, and the
// streams around it go on.
func TestGarbageBytes(t *testing.T) {
	creds, obs := newFakeCredentials("team-a"), newCountingObserver()
	conn := serve(t, newTestServer(t, creds, obs, nil))
	healthy := openStream(t, conn, httpMessage(identifier(), stampedEntry("team-a", 1, 200, viaUpstream)))

	garbage := map[string][]byte{
		"invalid wire type":  {0x0f},
		"truncated field":    {0x0a, 0x05, 0x01},
		"invalid UTF-8":      {0x0a, 0x03, 0x12, 0x01, 0xff}, // identifier.log_name
		"varint overflow":    {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"group never closed": {0x0b},
	}
	desc := &grpc.StreamDesc{StreamName: "StreamAccessLogs", ClientStreams: true}
	for name, b := range garbage {
		t.Run(name, func(t *testing.T) {
			cs, err := conn.NewStream(testContext(t), desc, accesslogv3.AccessLogService_StreamAccessLogs_FullMethodName, grpc.ForceCodecV2(grpctest.RawCodec{}))
			if err != nil {
				t.Fatal(err)
			}
			cs.SendMsg(&b) // may fail once the server has ended the stream
			cs.CloseSend()
			var reply []byte
			err = cs.RecvMsg(&reply)
			if status.Code(err) != codes.Internal {
				t.Errorf("stream ended with %v, want Internal", err)
			}
		})
	}

	if err := healthy.Send(httpMessage(nil, stampedEntry("team-a", 1, 503, viaUpstream))); err != nil {
		t.Fatalf("the healthy stream broke: %v", err)
	}
	closeStream(t, healthy)
	closeStream(t, openStream(t, conn, httpMessage(identifier(), stampedEntry("team-a", 1, 429, viaUpstream))))
	obs.await(len(garbage) + 3) // grpc ends a garbage stream before the server counts it
	ignored, upstream := obs.snapshot()
	if want := map[string]int{ReasonUndecodable: len(garbage)}; !maps.Equal(ignored, want) {
		t.Errorf("ignored = %v, want %v", ignored, want)
	}
	if len(upstream) != 3 {
		t.Errorf("upstream = %v, want the three good entries", upstream)
	}
}

// TestMessageOverLimit: a message over the server's receive limit ends its
// stream with ResourceExhausted and is counted.
func TestMessageOverLimit(t *testing.T) {
	obs := newCountingObserver()
	conn := serve(t, newTestServer(t, newFakeCredentials("team-a"), obs, nil), grpc.MaxRecvMsgSize(4096))
	c, err := accesslogv3.NewAccessLogServiceClient(conn).StreamAccessLogs(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	c.Send(httpMessage(identifier(), repeat(stampedEntry("team-a", 1, 200, viaUpstream), 100)...)) // may fail once the server has ended the stream
	if _, err := c.CloseAndRecv(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("stream ended with %v, want ResourceExhausted", err)
	}
	obs.await(1)
	if ignored, _ := obs.snapshot(); !maps.Equal(ignored, map[string]int{ReasonTooLarge: 1}) {
		t.Errorf("ignored = %v", ignored)
	}
}
