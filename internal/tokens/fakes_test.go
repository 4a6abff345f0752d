package tokens

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"extauthz/internal/secret"
)

// Known test secrets. Logs, errors and spans must never contain them; the
// markers catch every access token and JWT the fakes make.
const (
	testRequestToken  = "ghreqtok-TEST-request-token-value-7f3a9c"
	accessTokenPrefix = "sk-ant-oat01-test-"
)

// forbidden are substrings that betray a leaked credential in captured
// output: every fake access token starts with sk-ant-, every fake JWT with
// eyJ, and the GitHub request token is unique.
var forbidden = []string{"sk-ant-", "eyJ", testRequestToken}

// assertNoSecrets fails t if text contains a known test secret. It never
// prints the text itself.
func assertNoSecrets(t testing.TB, where, text string) {
	t.Helper()
	for _, f := range forbidden {
		if n := strings.Count(text, f); n > 0 {
			t.Errorf("%s contains %d occurrence(s) of a known test secret marker (%d bytes of output withheld)", where, n, len(text))
		}
	}
}

// testJWT builds an unsigned but well-formed JWT with the given claims.
func testJWT(claims map[string]any) string {
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "ES256", "kid": "test-key", "typ": "JWT"}) + "." +
		enc(claims) + "." + base64.RawURLEncoding.EncodeToString([]byte("not-a-real-signature"))
}

// numberedJWT is the n-th JWT a fake source hands out.
func numberedJWT(n int) string {
	return testJWT(map[string]any{
		"iss": "https://token.actions.githubusercontent.com",
		"sub": "repo:octo/extauthz:ref:refs/heads/main",
		"aud": "https://api.anthropic.com",
		"jti": fmt.Sprintf("jti-%d", n),
		"iat": 946684800 + n, "exp": 946684800 + n + 300,
	})
}

// logCapture is a debug-level JSON logger whose output is checked for
// secrets when the test ends.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// records decodes every captured line.
func (c *logCapture) records(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(c.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v", err)
		}
		out = append(out, m)
	}
	return out
}

// count is how many records have the level and message.
func (c *logCapture) count(t testing.TB, level slog.Level, msg string) int {
	n := 0
	for _, r := range c.records(t) {
		if r["level"] == level.String() && r["msg"] == msg {
			n++
		}
	}
	return n
}

// captureLogs returns a debug logger whose output is asserted free of test
// secrets when t ends.
func captureLogs(t testing.TB) (*slog.Logger, *logCapture) {
	c := &logCapture{}
	t.Cleanup(func() { assertNoSecrets(t, "log output", c.String()) })
	return slog.New(slog.NewJSONHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug})), c
}

// fakeSource hands out numbered JWTs, or the error fail returns.
type fakeSource struct {
	mu   sync.Mutex
	n    int
	fail func(n int) error // optional
}

func (s *fakeSource) IdentityToken(ctx context.Context) (secret.Value, error) {
	s.mu.Lock()
	s.n++
	n, fail := s.n, s.fail
	s.mu.Unlock()
	if fail != nil {
		if err := fail(n); err != nil {
			return secret.Value{}, err
		}
	}
	return secret.New(numberedJWT(n)), nil
}

// fakeExchanger grants numbered tokens of a fixed lifetime after an optional
// latency, unless behave (called with the call number, 1-based) says
// otherwise. It records when each call started.
type fakeExchanger struct {
	lifetime time.Duration
	latency  time.Duration
	behave   func(ctx context.Context, n int) error // optional; may block

	mu    sync.Mutex
	calls []time.Time
}

func (x *fakeExchanger) Exchange(ctx context.Context, assertion secret.Value) (Grant, error) {
	x.mu.Lock()
	x.calls = append(x.calls, time.Now())
	n := len(x.calls)
	x.mu.Unlock()
	if assertion.IsZero() {
		return Grant{}, fmt.Errorf("fake exchanger: %w", ErrEmptyIdentityToken)
	}
	if x.latency > 0 {
		t := time.NewTimer(x.latency)
		select {
		case <-ctx.Done():
			t.Stop()
			return Grant{}, ctx.Err()
		case <-t.C:
		}
	}
	if x.behave != nil {
		if err := x.behave(ctx, n); err != nil {
			return Grant{}, err
		}
	}
	return Grant{AccessToken: secret.New(fmt.Sprintf("%s%d", accessTokenPrefix, n)), ExpiresIn: x.lifetime}, nil
}

// failWhile is a fakeExchanger behaviour: err while failing is set, else a
// grant.
func failWhile(failing *atomic.Bool, err error) func(context.Context, int) error {
	return func(context.Context, int) error {
		if failing.Load() {
			return err
		}
		return nil
	}
}

// callTimes returns a copy of the call start times.
func (x *fakeExchanger) callTimes() []time.Time {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]time.Time(nil), x.calls...)
}

func (x *fakeExchanger) count() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.calls)
}

// recorder is an Observer that keeps every event.
type recorder struct {
	mu       sync.Mutex
	outcomes []Outcome
	elapsed  []time.Duration
	statuses []Status
}

func (o *recorder) ExchangeFinished(outcome Outcome, elapsed time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.outcomes = append(o.outcomes, outcome)
	o.elapsed = append(o.elapsed, elapsed)
}

func (o *recorder) StatusChanged(s Status) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.statuses = append(o.statuses, s)
}

func (o *recorder) snapshot() ([]Outcome, []time.Duration, []Status) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Outcome(nil), o.outcomes...), append([]time.Duration(nil), o.elapsed...), append([]Status(nil), o.statuses...)
}

// fixedRand returns u every time.
func fixedRand(u float64) func() float64 { return func() float64 { return u } }

// startRefresher builds a refresher over src and ex with a captured logger
// and runs it until the test ends. Call inside a synctest bubble for virtual
// time.
func startRefresher(t *testing.T, o RefresherOptions) (*Refresher, *logCapture) {
	t.Helper()
	logger, logs := captureLogs(t)
	o.Logger = logger
	r, err := NewRefresher(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v", err)
		}
	})
	return r, logs
}
