package service

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"extauthz/internal/config"
)

// lockedBuffer is a bytes.Buffer for a logger shared with Run's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	suiteLogs.Write(p)
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLoopbackWithoutCallerCheckWarnsOnce: design.md's one WARN at start
// when every local process can call Check, and none when something checks.
func TestLoopbackWithoutCallerCheckWarnsOnce(t *testing.T) {
	sock := "unix:" + filepath.Join(t.TempDir(), "grpc.sock")
	for _, c := range []struct {
		name  string
		env   map[string]string
		warns int
	}{
		{"loopback TCP, no caller check", map[string]string{"EXTAUTHZ_GRPC_ADDR": "127.0.0.1:0"}, 1},
		{"unix socket", map[string]string{"EXTAUTHZ_GRPC_ADDR": sock}, 0},
		{"unix socket with a uid check", map[string]string{"EXTAUTHZ_GRPC_ADDR": sock, "EXTAUTHZ_ALLOWED_CALLERS": "uid:101"}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"ANTHROPIC_API_KEY": staticKey, "EXTAUTHZ_HTTP_ADDR": "off", "EXTAUTHZ_ADMIN_ADDR": "off"}
			for k, v := range c.env {
				env[k] = v
			}
			cfg, err := config.Load(context.Background(), config.MapEnv(env))
			if err != nil {
				t.Fatal(err)
			}
			var logs lockedBuffer
			svc, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Lookup: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatal(err)
			}
			// Run logs its start, warning included, before it looks at its
			// context: one already cancelled makes it start and stop.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := svc.Run(ctx); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), `"extauthz serving"`) {
				t.Fatalf("no start line:\n%s", logs.String())
			}
			if got := strings.Count(logs.String(), "any local process can call Check"); got != c.warns {
				t.Errorf("%d WARNs, want %d:\n%s", got, c.warns, logs.String())
			}
		})
	}
}
