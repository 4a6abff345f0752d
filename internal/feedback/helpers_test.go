package feedback

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogdatav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"extauthz/internal/leakcheck"
)

// Secrets the test entries carry in their request headers, as Envoy would
// copy them when configured to log headers. No log line may hold them.
const (
	testBearer = "sk-ant-oat01-feedback-test-bearer-token"
	testAPIKey = "sk-ant-api03-feedback-test-client-key"
)

// suiteLogs records every log line of the package's tests; TestMain fails
// the run if one holds a credential.
var suiteLogs leakcheck.Recorder

func TestMain(m *testing.M) {
	suiteLogs.Remember(testBearer, testAPIKey)
	slog.SetDefault(slog.New(slog.NewJSONHandler(&suiteLogs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	os.Exit(leakcheck.Main(m, &suiteLogs))
}

// logBuffer keeps one test's log lines, safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines decodes the JSON lines written so far whose msg contains substr.
func (l *logBuffer) lines(t *testing.T, substr string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v", err)
		}
		if msg, _ := m["msg"].(string); strings.Contains(msg, substr) {
			out = append(out, m)
		}
	}
	return out
}

// testLogger logs everything, DEBUG included, as JSON into the suite's
// recorder and into buf (which may be nil).
func testLogger(buf io.Writer) *slog.Logger {
	w := io.Writer(&suiteLogs)
	if buf != nil {
		w = io.MultiWriter(&suiteLogs, buf)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// invalidateInterval is the fake credential's limit, the refresher's.
const invalidateInterval = 30 * time.Second

// fakeCredentials are configured credentials that rate-limit invalidations
// like tokens.Refresher: a stale generation is ignored, and at most one
// refresh starts per invalidateInterval. A refresh does not change the
// generation until the test rotates it, as a refresh takes a while.
type fakeCredentials struct {
	mu    sync.Mutex
	creds map[string]*fakeCredential
	calls int // Invalidate calls with a generation other than NoGeneration
	// now is the fake's clock: time.Now (faked inside a synctest bubble)
	// unless a test that runs outside a bubble freezes it.
	now func() time.Time
}

type fakeCredential struct {
	generation  uint64
	lastRefresh time.Time
	refreshes   int
	invalidated []uint64 // generations passed, NoGeneration excluded
}

// newFakeCredentials configures names, each at generation 1.
func newFakeCredentials(names ...string) *fakeCredentials {
	f := &fakeCredentials{creds: map[string]*fakeCredential{}, now: time.Now}
	for _, n := range names {
		f.creds[n] = &fakeCredential{generation: 1}
	}
	return f
}

func (f *fakeCredentials) Invalidate(name string, generation uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.creds[name]
	if !ok {
		return false
	}
	if generation == NoGeneration {
		return true
	}
	f.calls++
	if len(c.invalidated) < 16 {
		c.invalidated = append(c.invalidated, generation)
	}
	now := f.now()
	if generation != c.generation || !c.lastRefresh.IsZero() && now.Sub(c.lastRefresh) < invalidateInterval {
		return true
	}
	c.lastRefresh = now
	c.refreshes++
	return true
}

// frozen stops the fake's clock, for tests over real gRPC that cannot run
// in a synctest bubble: a refresh limit then never lapses, however slow the
// machine.
func (f *fakeCredentials) frozen() *fakeCredentials {
	at := time.Now()
	f.now = func() time.Time { return at }
	return f
}

// refreshes is how many refreshes name started.
func (f *fakeCredentials) refreshes(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creds[name].refreshes
}

// invalidations is how many Invalidate calls named a generation.
func (f *fakeCredentials) invalidations() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// rotate gives name a new token generation and returns it.
func (f *fakeCredentials) rotate(name string) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creds[name].generation++
	return f.creds[name].generation
}

// countingObserver counts what the server reports.
type countingObserver struct {
	mu       sync.Mutex
	changed  *sync.Cond // broadcast on every count
	ignored  map[string]int
	upstream map[[2]string]int // {credential, class}
	n        int               // every count
}

func newCountingObserver() *countingObserver {
	o := &countingObserver{ignored: map[string]int{}, upstream: map[[2]string]int{}}
	o.changed = sync.NewCond(&o.mu)
	return o
}

func (o *countingObserver) UpstreamResponse(credential, class string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.upstream[[2]string{credential, class}]++
	o.n++
	o.changed.Broadcast()
}

func (o *countingObserver) EntryIgnored(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ignored[reason]++
	o.n++
	o.changed.Broadcast()
}

// await blocks until at least n entries were counted, for counts the server
// makes after the client has seen the stream end.
func (o *countingObserver) await(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.n < n {
		o.changed.Wait()
	}
}

// snapshot returns copies of the counts.
func (o *countingObserver) snapshot() (ignored map[string]int, upstream map[[2]string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ignored, upstream = map[string]int{}, map[[2]string]int{}
	for k, v := range o.ignored {
		ignored[k] = v
	}
	for k, v := range o.upstream {
		upstream[k] = v
	}
	return ignored, upstream
}

// total is the number of entries counted either way.
func (o *countingObserver) total() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n
}

// newTestServer returns a Server over creds and obs that logs into buf
// (which may be nil).
func newTestServer(t testing.TB, creds Credentials, obs Observer, buf io.Writer) *Server {
	t.Helper()
	s, err := NewServer(Options{Credentials: creds, Observer: obs, Logger: testLogger(buf)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stampedEntry is an entry whose request carried generation of credential
// (in the canonical namespace, with Envoy's own ext_authz_duration beside
// it) and whose response had code and details. The request headers hold the
// test secrets, as Envoy copies them when told to log headers.
func stampedEntry(credential string, generation uint64, code uint32, details string) *accesslogdatav3.HTTPAccessLogEntry {
	md, err := structpb.NewStruct(map[string]any{
		credentialField: credential, generationField: float64(generation), "ext_authz_duration": 3.0})
	if err != nil {
		panic(err)
	}
	return entryWith(map[string]*structpb.Struct{extauthzNamespace: md}, code, details)
}

// entryWith is an entry with the given filter metadata and response.
func entryWith(filterMetadata map[string]*structpb.Struct, code uint32, details string) *accesslogdatav3.HTTPAccessLogEntry {
	return &accesslogdatav3.HTTPAccessLogEntry{
		CommonProperties: &accesslogdatav3.AccessLogCommon{
			Metadata: &corev3.Metadata{FilterMetadata: filterMetadata},
		},
		Request: &accesslogdatav3.HTTPRequestProperties{
			Authority: "api.anthropic.com",
			RequestHeaders: map[string]string{
				"authorization": "Bearer " + testBearer,
				"x-api-key":     testAPIKey,
			},
		},
		Response: &accesslogdatav3.HTTPResponseProperties{
			ResponseCode:        wrapperspb.UInt32(code),
			ResponseCodeDetails: details,
		},
	}
}

// identifier is what Envoy sends on a stream's first message.
func identifier() *accesslogv3.StreamAccessLogsMessage_Identifier {
	return &accesslogv3.StreamAccessLogsMessage_Identifier{
		Node:    &corev3.Node{Id: "sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local", Cluster: "extauthz-test"},
		LogName: "extauthz_feedback",
	}
}

// httpMessage carries entries, with an identifier if id is not nil.
func httpMessage(id *accesslogv3.StreamAccessLogsMessage_Identifier, entries ...*accesslogdatav3.HTTPAccessLogEntry) *accesslogv3.StreamAccessLogsMessage {
	return &accesslogv3.StreamAccessLogsMessage{
		Identifier: id,
		LogEntries: &accesslogv3.StreamAccessLogsMessage_HttpLogs{
			HttpLogs: &accesslogv3.StreamAccessLogsMessage_HTTPAccessLogEntries{LogEntry: entries},
		},
	}
}

// repeat returns n references to e.
func repeat(e *accesslogdatav3.HTTPAccessLogEntry, n int) []*accesslogdatav3.HTTPAccessLogEntry {
	out := make([]*accesslogdatav3.HTTPAccessLogEntry, n)
	for i := range out {
		out[i] = e
	}
	return out
}

// memStream is an in-memory StreamAccessLogs server stream: Recv returns
// what the test sends on in until it is closed, then io.EOF.
type memStream struct {
	grpc.ServerStream // nil: the server must use only the methods below
	ctx               context.Context
	in                chan *accesslogv3.StreamAccessLogsMessage
	closed            *accesslogv3.StreamAccessLogsResponse
}

func newMemStream(ctx context.Context) *memStream {
	return &memStream{ctx: ctx, in: make(chan *accesslogv3.StreamAccessLogsMessage)}
}

func (m *memStream) Context() context.Context { return m.ctx }

func (m *memStream) Recv() (*accesslogv3.StreamAccessLogsMessage, error) {
	select {
	case msg, ok := <-m.in:
		if !ok {
			return nil, io.EOF
		}
		return msg, nil
	case <-m.ctx.Done():
		return nil, m.ctx.Err()
	}
}

func (m *memStream) SendAndClose(r *accesslogv3.StreamAccessLogsResponse) error {
	m.closed = r
	return nil
}
