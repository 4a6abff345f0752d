package envoymodel

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	datav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	grpcv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	tracingv3 "github.com/envoyproxy/go-control-plane/envoy/type/tracing/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// memALS is an in-memory AccessLogServiceClient: every StreamAccessLogs call
// becomes a memStream the test can read and end. It lets the logger run
// inside a synctest bubble, where a real socket would not.
type memALS struct {
	mu      sync.Mutex
	refuse  bool // StreamAccessLogs fails, as when Envoy cannot start a stream
	streams []*memStream
}

func (m *memALS) StreamAccessLogs(ctx context.Context, _ ...grpc.CallOption) (accesslogv3.AccessLogService_StreamAccessLogsClient, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refuse {
		return nil, status.Error(codes.Unavailable, "no healthy upstream")
	}
	s := &memStream{ctx: ctx, end: make(chan struct{})}
	m.streams = append(m.streams, s)
	return s, nil
}

// received returns the messages of every stream so far, stream by stream.
func (m *memALS) received() [][]*accesslogv3.StreamAccessLogsMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([][]*accesslogv3.StreamAccessLogsMessage, len(m.streams))
	for i, s := range m.streams {
		s.mu.Lock()
		out[i] = append(out[i], s.msgs...)
		s.mu.Unlock()
	}
	return out
}

// memStream is one stream of a memALS; only Send and RecvMsg are used.
type memStream struct {
	grpc.ClientStream
	ctx  context.Context
	end  chan struct{} // closed: the server has returned
	mu   sync.Mutex
	msgs []*accesslogv3.StreamAccessLogsMessage
}

func (s *memStream) Send(m *accesslogv3.StreamAccessLogsMessage) error {
	select {
	case <-s.end:
		return io.EOF
	default:
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	s.mu.Unlock()
	return nil
}

func (s *memStream) RecvMsg(any) error {
	select {
	case <-s.end:
		return io.EOF // the server returned OK
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

func (s *memStream) CloseAndRecv() (*accesslogv3.StreamAccessLogsResponse, error) {
	return nil, errors.New("not used")
}

// alsConfig is an http_grpc logger config; zero values keep Envoy's defaults.
func alsConfig(interval time.Duration, bufferBytes *uint32) *grpcv3.HttpGrpcAccessLogConfig {
	common := &grpcv3.CommonGrpcAccessLogConfig{
		LogName:             "extauthz",
		GrpcService:         &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: "extauthz"}}},
		TransportApiVersion: corev3.ApiVersion_V3,
	}
	if interval > 0 {
		common.BufferFlushInterval = durationpb.New(interval)
	}
	if bufferBytes != nil {
		common.BufferSizeBytes = wrapperspb.UInt32(*bufferBytes)
	}
	return &grpcv3.HttpGrpcAccessLogConfig{CommonConfig: common}
}

var testNode = &corev3.Node{Id: "sidecar-1", Cluster: "ci"}

// runLogger starts a logger of v over client, stopped when the test ends.
func runLogger(t *testing.T, v Version, cfg *grpcv3.HttpGrpcAccessLogConfig, client accesslogv3.AccessLogServiceClient) *AccessLogger {
	t.Helper()
	l, err := NewAccessLogger(v, cfg, testNode, client)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return l
}

// entry is a distinguishable access log entry.
func entry(path string) *datav3.HTTPAccessLogEntry {
	return &datav3.HTTPAccessLogEntry{Request: &datav3.HTTPRequestProperties{Path: path}}
}

// paths lists the entries' paths of a message, and whether it carries the
// identifier.
func paths(m *accesslogv3.StreamAccessLogsMessage) ([]string, bool) {
	var out []string
	for _, e := range m.GetHttpLogs().GetLogEntry() {
		out = append(out, e.GetRequest().GetPath())
	}
	return out, m.GetIdentifier() != nil
}

func mustLog(t *testing.T, l *AccessLogger, path string) {
	t.Helper()
	if err := l.Log(context.Background(), entry(path)); err != nil {
		t.Fatal(err)
	}
}

// endStream makes the server end stream i.
func (m *memALS) endStream(i int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	close(m.streams[i].end)
}

// want describes one expected message: its entries' paths and whether it
// carries the identifier.
type want struct {
	paths      []string
	identifier bool
}

// checkStreams compares what als received, stream by stream, with wants.
func checkStreams(t *testing.T, als *memALS, wants ...[]want) {
	t.Helper()
	got := als.received()
	if len(got) != len(wants) {
		t.Fatalf("%d streams, want %d: %v", len(got), len(wants), got)
	}
	for i, msgs := range got {
		if len(msgs) != len(wants[i]) {
			t.Fatalf("stream %d: %d messages, want %d: %v", i, len(msgs), len(wants[i]), msgs)
		}
		for j, m := range msgs {
			p, id := paths(m)
			if !slices.Equal(p, wants[i][j].paths) || id != wants[i][j].identifier {
				t.Errorf("stream %d message %d: entries %q identifier %v, want %+v", i, j, p, id, wants[i][j])
			}
			if id && (m.GetIdentifier().GetLogName() != "extauthz" || m.GetIdentifier().GetNode().GetId() != "sidecar-1") {
				t.Errorf("stream %d: identifier %v", i, m.GetIdentifier())
			}
		}
	}
}

// TestAccessLoggerBatchesAndIdentifiesEachStream: entries wait for the flush
// timer; the first message of a stream carries the identifier and later ones
// do not; after the server ends a stream the next flush opens another, whose
// first message carries the identifier again.
func TestAccessLoggerBatchesAndIdentifiesEachStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		als := &memALS{}
		l := runLogger(t, Envoy139, alsConfig(0, nil), als)
		mustLog(t, l, "/1")
		mustLog(t, l, "/2")
		synctest.Wait()
		checkStreams(t, als)
		time.Sleep(defaultFlushInterval) // the flush timer fires
		synctest.Wait()
		checkStreams(t, als, []want{{[]string{"/1", "/2"}, true}})

		mustLog(t, l, "/3")
		time.Sleep(defaultFlushInterval)
		synctest.Wait()
		checkStreams(t, als, []want{{[]string{"/1", "/2"}, true}, {[]string{"/3"}, false}})

		als.endStream(0)
		synctest.Wait() // the logger has seen the stream end
		mustLog(t, l, "/4")
		if err := l.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkStreams(t, als,
			[]want{{[]string{"/1", "/2"}, true}, {[]string{"/3"}, false}},
			[]want{{[]string{"/4"}, true}})
	})
}

// TestAccessLoggerFlushesAFullBuffer: an entry that brings the buffer to
// buffer_size_bytes is sent at once, so 1 sends every entry as it comes.
func TestAccessLoggerFlushesAFullBuffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		als := &memALS{}
		one := uint32(1)
		l := runLogger(t, Envoy139, alsConfig(time.Hour, &one), als)
		mustLog(t, l, "/1")
		mustLog(t, l, "/2")
		checkStreams(t, als, []want{{[]string{"/1"}, true}, {[]string{"/2"}, false}})

		als2 := &memALS{}
		size := uint32(2*proto.Size(entry("/a")) + 1)
		l2 := runLogger(t, Envoy139, alsConfig(time.Hour, &size), als2)
		mustLog(t, l2, "/a")
		mustLog(t, l2, "/b")
		checkStreams(t, als2)
		mustLog(t, l2, "/c")
		checkStreams(t, als2, []want{{[]string{"/a", "/b", "/c"}, true}})
	})
}

// TestAccessLoggerWhenTheStreamCannotStart: from 1.39 a batch whose stream
// could not start is kept for the next flush; earlier versions lose it.
func TestAccessLoggerWhenTheStreamCannotStart(t *testing.T) {
	for _, v := range Versions() {
		t.Run(v.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				als := &memALS{refuse: true}
				l := runLogger(t, v, alsConfig(time.Hour, nil), als)
				mustLog(t, l, "/1")
				if err := l.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
				als.mu.Lock()
				als.refuse = false
				als.mu.Unlock()
				mustLog(t, l, "/2")
				if err := l.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
				if v.keepsUnsentBatch() {
					checkStreams(t, als, []want{{[]string{"/1", "/2"}, true}})
				} else {
					checkStreams(t, als, []want{{[]string{"/2"}, true}})
				}
				stats, err := l.Stats(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if stats.FlushFailed != 1 || stats.Written != 2 {
					t.Errorf("stats %+v", stats)
				}
			})
		})
	}
}

// TestAccessLoggerDropsWhenTheBufferStaysFull: while no stream can start, a
// full buffer refuses new entries (1.39 keeps the unsent batch, so its
// buffer stays full).
func TestAccessLoggerDropsWhenTheBufferStaysFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		als := &memALS{refuse: true}
		size := uint32(proto.Size(entry("/a")))
		l := runLogger(t, Envoy139, alsConfig(time.Hour, &size), als)
		mustLog(t, l, "/a") // fills the buffer; the flush fails and keeps it
		mustLog(t, l, "/b") // the buffer is still full: dropped
		stats, err := l.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if stats != (AccessLogStats{Written: 1, Dropped: 1, FlushFailed: 2}) {
			t.Errorf("stats %+v", stats)
		}
	})
}

func TestAccessLoggerAfterRun(t *testing.T) {
	l, err := NewAccessLogger(Envoy139, alsConfig(0, nil), testNode, &memALS{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.Run(ctx)
	if err := l.Log(context.Background(), entry("/")); !errors.Is(err, ErrLoggerStopped) {
		t.Errorf("Log after Run: %v", err)
	}
}

func TestNewAccessLoggerRefusesWhatItDoesNotModel(t *testing.T) {
	bad := map[string]func(*grpcv3.HttpGrpcAccessLogConfig){
		"no log_name":    func(c *grpcv3.HttpGrpcAccessLogConfig) { c.CommonConfig.LogName = "" },
		"V2":             func(c *grpcv3.HttpGrpcAccessLogConfig) { c.CommonConfig.TransportApiVersion = corev3.ApiVersion_V2 },
		"logged headers": func(c *grpcv3.HttpGrpcAccessLogConfig) { c.AdditionalRequestHeadersToLog = []string{"authorization"} },
		"filter state":   func(c *grpcv3.HttpGrpcAccessLogConfig) { c.CommonConfig.FilterStateObjectsToLog = []string{"x"} },
		"custom tags": func(c *grpcv3.HttpGrpcAccessLogConfig) {
			c.CommonConfig.CustomTags = []*tracingv3.CustomTag{{Tag: "t"}}
		},
		"retry policy":     func(c *grpcv3.HttpGrpcAccessLogConfig) { c.CommonConfig.GrpcStreamRetryPolicy = &corev3.RetryPolicy{} },
		"zero flush every": func(c *grpcv3.HttpGrpcAccessLogConfig) { c.CommonConfig.BufferFlushInterval = durationpb.New(0) },
	}
	for name, mutate := range bad {
		cfg := alsConfig(0, nil)
		mutate(cfg)
		if _, err := NewAccessLogger(Envoy139, cfg, testNode, &memALS{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewAccessLogger(Version(0), alsConfig(0, nil), testNode, &memALS{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("unknown version: %v", err)
	}
}
