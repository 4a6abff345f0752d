package leakcheck

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"
)

// Recorder collects everything a package's tests log or print, and the
// secrets those tests used, so that TestMain can fail the run if any output
// held a credential. It is safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	known []string
}

// Write records p.
func (r *Recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

// Remember adds values that must never appear in the recorded output.
func (r *Recorder) Remember(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.known = append(r.known, secrets...)
}

// Leaks describes every credential in the recorded output.
func (r *Recorder) Leaks() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Find(r.buf.String(), r.known...)
}

// Main runs the tests and then fails the run if r recorded a credential. Use
// it as `func TestMain(m *testing.M) { os.Exit(leakcheck.Main(m, &rec)) }`.
func Main(m *testing.M, r *Recorder) int {
	code := m.Run()
	if leaks := r.Leaks(); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "credentials in test output: %v\n", leaks)
		return 1
	}
	return code
}
