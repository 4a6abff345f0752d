package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"extauthz/internal/logthrottle"
	"extauthz/internal/secret"
)

// leaks counts log lines, written by any test of this package, that carried a
// test secret. TestMain fails the run when it is not zero, so every test that
// logs is also a test that credentials stay out of logs.
var leaks atomic.Int64

// leakWatch is the writer under every test logger: it checks each line as it
// is written (the fuzzers log far too much to keep) and forwards it.
type leakWatch struct{ next io.Writer }

func (w leakWatch) Write(p []byte) (int, error) {
	for _, s := range testSecrets {
		if bytes.Contains(p, []byte(s)) {
			leaks.Add(1)
		}
	}
	if w.next != nil {
		return w.next.Write(p)
	}
	return len(p), nil
}

// testLogger logs everything, DEBUG included, as JSON through leakWatch into
// w (which may be nil).
func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(leakWatch{w}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestMain(m *testing.M) {
	slog.SetDefault(testLogger(nil))
	code := m.Run()
	if n := leaks.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d log lines carried a test credential\n", n)
		code = 1
	}
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines decodes the JSON log lines written so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %v", err)
		}
		out = append(out, m)
	}
	return out
}

// TestLogsNeverCarryCredentials runs every golden case with a DEBUG logger
// and checks both that lines were written and that no secret is in them.
func TestLogsNeverCarryCredentials(t *testing.T) {
	var buf syncBuffer
	for _, c := range checkCases {
		s := newTestServer(t, Options{Credentials: single(c.mode, c.creds), AllowedHosts: c.hosts, Logger: testLogger(&buf)})
		if _, err := s.Check(context.Background(), loadRequest(t, c.request)); err != nil {
			t.Fatal(err)
		}
	}
	lines := buf.lines(t)
	levels := map[string]int{}
	for _, l := range lines {
		levels[l["level"].(string)]++
	}
	if levels["DEBUG"] == 0 || levels["WARN"] == 0 || levels["ERROR"] == 0 {
		t.Fatalf("expected DEBUG, WARN and ERROR lines, got %v", levels)
	}
	all := buf.b.String()
	for _, s := range testSecrets {
		if strings.Contains(all, s) {
			t.Errorf("a test secret (%d bytes) appears in the logs", len(s))
		}
	}
	if !strings.Contains(all, secret.New(testToken).Fingerprint()) {
		t.Error("DEBUG lines do not carry the credential fingerprint")
	}
}

func TestDenialLogsAreRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		s := newTestServer(t, Options{Credentials: single(ModeWIF, notServable(3*time.Second)), Logger: testLogger(&buf)})
		req := loadRequest(t, "basic")
		ctx := context.Background()
		for range 5 {
			s.Check(ctx, req)
		}
		s.Check(ctx, loadRequest(t, "empty")) // another kind has its own budget
		if got := buf.lines(t); len(got) != 2 {
			t.Fatalf("%d lines after 5 unavailable + 1 invalid denial in one instant, want 2", len(got))
		}
		time.Sleep(logthrottle.DefaultInterval)
		s.Check(ctx, req)
		lines := buf.lines(t)
		if len(lines) != 3 {
			t.Fatalf("%d lines after a second, want 3", len(lines))
		}
		last := lines[2]
		if last["level"] != "WARN" || last["result"] != "unavailable" || last["suppressed"] != float64(4) || last["retry_after_s"] != float64(3) {
			t.Errorf("last line = %v, want WARN unavailable suppressed=4 retry_after_s=3", last)
		}
	})
}

func TestUnusableCredentialLogsError(t *testing.T) {
	var buf syncBuffer
	s := newTestServer(t, Options{Credentials: single(ModeStaticKey, StaticKey(secret.New("k\r\nx-"+badSecretMark))), Logger: testLogger(&buf)})
	resp, _ := s.Check(context.Background(), loadRequest(t, "basic"))
	if resp.GetDeniedResponse().GetStatus().GetCode() != 503 {
		t.Fatalf("status = %v, want 503", resp.GetDeniedResponse().GetStatus())
	}
	lines := buf.lines(t)
	if len(lines) != 1 || lines[0]["level"] != "ERROR" {
		t.Fatalf("lines = %v, want one ERROR", lines)
	}
}

func TestAllowedIsLoggedOnlyAtDebug(t *testing.T) {
	var buf syncBuffer
	info := slog.New(slog.NewJSONHandler(leakWatch{&buf}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s := newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken)), Logger: info})
	s.Check(context.Background(), loadRequest(t, "basic"))
	if got := buf.lines(t); len(got) != 0 {
		t.Errorf("an allowed check logged %d lines at INFO", len(got))
	}
}
