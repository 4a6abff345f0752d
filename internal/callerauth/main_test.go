package callerauth

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"extauthz/internal/leakcheck"
)

// suiteLogs records everything the package's tests log; TestMain fails the
// run if it holds a credential or any private key the tests made (issue
// remembers each).
var suiteLogs leakcheck.Recorder

func TestMain(m *testing.M) {
	if target := os.Getenv(childEnv); target != "" {
		os.Exit(childMain(target)) // a re-executed copy playing a local process
	}
	os.Exit(leakcheck.Main(m, &suiteLogs))
}

// logText keeps the lines a test's logger wrote; they also go to suiteLogs.
type logText struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logText) Write(p []byte) (int, error) {
	suiteLogs.Write(p)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logText) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// count returns how many lines contain s.
func (l *logText) count(s string) int {
	return strings.Count(l.String(), s)
}

// testLogger logs JSON at debug level into a fresh logText.
func testLogger() (*slog.Logger, *logText) {
	lt := &logText{}
	return slog.New(slog.NewJSONHandler(lt, &slog.HandlerOptions{Level: slog.LevelDebug})), lt
}

// countingObserver counts events; handshakes also signals each failure.
type countingObserver struct {
	rejected, reloadFailed, handshakeFailed atomic.Int64
	handshakes                              chan struct{}
}

func newObserver() *countingObserver {
	return &countingObserver{handshakes: make(chan struct{}, 1024)}
}

func (o *countingObserver) CallerRejected()  { o.rejected.Add(1) }
func (o *countingObserver) TLSReloadFailed() { o.reloadFailed.Add(1) }
func (o *countingObserver) HandshakeFailed() {
	o.handshakeFailed.Add(1)
	select {
	case o.handshakes <- struct{}{}:
	default:
	}
}
