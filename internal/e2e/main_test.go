package e2e

import (
	"os"
	"strings"
	"sync"
	"testing"

	"extauthz/internal/leakcheck"
)

// Credentials the tests use. None may reach a log, or the upstream unless
// it is the one the upstream is meant to get.
const (
	// clientKey is what a sandboxed client holds in place of a real key.
	clientKey = "sk-ant-api03-e2e-client-placeholder-never-upstream"
	// clientBearer is an Authorization the client sends of its own accord.
	clientBearer = "Bearer client-e2e-bearer-never-upstream"
	// staticKey is the real key of static-key mode.
	staticKey = "sk-ant-api03-e2e-static-key-0123456789abcdef"
)

// logs records every log line of the suite (service, emulator) and every
// reply a client got; TestMain fails the run if one holds a credential.
var logs suiteLog

// suiteLog is a leakcheck.Recorder whose text tests can also search, to
// prove that the logs they vouch for were captured at all.
type suiteLog struct {
	leakcheck.Recorder
	mu   sync.Mutex
	text strings.Builder
}

func (l *suiteLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.text.Write(p)
	l.mu.Unlock()
	return l.Recorder.Write(p)
}

// contains reports whether the recorded text holds s.
func (l *suiteLog) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.text.String(), s)
}

func TestMain(m *testing.M) {
	logs.Remember(clientKey, clientBearer, staticKey)
	os.Exit(leakcheck.Main(m, &logs.Recorder))
}
