package admin

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"extauthz/internal/leakcheck"
	"extauthz/internal/secret"
	"extauthz/internal/tokens"
	adminv1 "extauthz/proto-gen/extauthz/admin/v1"
)

// refresh calls RefreshCredential directly and records its answer.
func refresh(t *testing.T, s *Server, name string) (*adminv1.Credential, error) {
	t.Helper()
	resp, err := s.RefreshCredential(t.Context(), &adminv1.RefreshCredentialRequest{Name: name})
	if err != nil {
		suiteLogs.Write([]byte(err.Error() + "\n"))
		return nil, err
	}
	return record(resp).GetCredential(), nil
}

func wantCode(t *testing.T, err error, code codes.Code, contains string) {
	t.Helper()
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), contains) {
		t.Fatalf("error = %v, want %v containing %q", err, code, contains)
	}
}

func TestRefreshCredentialRunsOneAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		c := &fakeCredential{name: "team-a", info: wifInfo("svac_a")}
		c.set(fresh(token(testToken, now, 10*time.Minute, 1), now.Add(5*time.Minute)))
		c.refresh = func(context.Context) (tokens.Status, error) {
			st := fresh(token(testToken2, time.Now(), 10*time.Minute, 2), time.Now().Add(5*time.Minute))
			c.set(st)
			return st, nil
		}
		s := newServer(t, Options{}, c)
		got, err := refresh(t, s, "team-a")
		if err != nil {
			t.Fatal(err)
		}
		if got.GetGeneration() != 2 || got.GetTokenFingerprint() != secret.New(testToken2).Fingerprint() ||
			got.GetState() != adminv1.CredentialState_CREDENTIAL_STATE_FRESH || got.GetServiceAccountId() != "svac_a" {
			t.Errorf("refreshed credential = %v", got)
		}
	})
}

// TestRefreshCredentialRateLimit: a second call for the same credential
// within 5 s is RESOURCE_EXHAUSTED, whatever the first one's outcome; other
// credentials, unknown names and static keys do not count; after 5 s it runs.
func TestRefreshCredentialRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &fakeCredential{name: "team-a", info: wifInfo("svac_a")}
		a.refresh = func(context.Context) (tokens.Status, error) {
			return a.Status(), errors.New("token endpoint: HTTP 503")
		}
		b := &fakeCredential{name: "team-b", info: wifInfo("svac_b")}
		s := newServer(t, Options{}, a, b, StaticKey("static", secret.New(testKey)))

		_, err := refresh(t, s, "team-a")
		wantCode(t, err, codes.Unavailable, "HTTP 503")
		time.Sleep(4 * time.Second)
		_, err = refresh(t, s, "team-a")
		wantCode(t, err, codes.ResourceExhausted, "try again in 1s")
		if _, err := refresh(t, s, "team-b"); err != nil {
			t.Fatalf("another credential was limited: %v", err)
		}
		_, err = refresh(t, s, "static")
		wantCode(t, err, codes.FailedPrecondition, "static keys do not refresh")
		_, err = refresh(t, s, "static")
		wantCode(t, err, codes.FailedPrecondition, "static keys do not refresh")
		time.Sleep(time.Second)
		_, err = refresh(t, s, "team-a")
		wantCode(t, err, codes.Unavailable, "HTTP 503")
		if n := a.refreshCalls(); n != 2 {
			t.Errorf("team-a refreshed %d times, want 2", n)
		}
	})
}

// TestRefreshCredentialInjectedClock: the limiter reads Options.Now.
func TestRefreshCredentialInjectedClock(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	c := &fakeCredential{name: "default", info: wifInfo("svac_d")}
	s := newServer(t, Options{Now: func() time.Time { return now }}, c)
	if _, err := refresh(t, s, "default"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(RefreshInterval - time.Millisecond)
	_, err := refresh(t, s, "default")
	wantCode(t, err, codes.ResourceExhausted, "try again in 1s")
	now = now.Add(time.Millisecond)
	if _, err := refresh(t, s, "default"); err != nil {
		t.Fatal(err)
	}
}

// TestRefreshCredentialUnknownName: NOT_FOUND quotes a well-formed name only,
// so a credential pasted as a name is never echoed, and lists the configured
// names.
func TestRefreshCredentialUnknownName(t *testing.T) {
	s := newServer(t, Options{}, &fakeCredential{name: "team-a", info: wifInfo("a")}, &fakeCredential{name: "team-b", info: wifInfo("b")})
	_, err := refresh(t, s, "team-c")
	wantCode(t, err, codes.NotFound, `no credential named "team-c"; configured: team-a, team-b`)
	for _, name := range []string{testToken, testJWT, "Team-A", "a\x1b[2Jb", strings.Repeat("a", 33), "", "team_a"} {
		_, err := refresh(t, s, name)
		wantCode(t, err, codes.NotFound, "not a credential name")
		if msg := status.Convert(err).Message(); strings.Contains(msg, name) && name != "" || strings.ContainsRune(msg, '\x1b') {
			t.Errorf("NOT_FOUND echoed %q: %s", name, msg)
		}
	}
}

// TestRefreshCredentialFailureIsScrubbed: UNAVAILABLE carries the attempt's
// reason scrubbed at the boundary, even when the credential did not scrub
// it; the log line too.
func TestRefreshCredentialFailureIsScrubbed(t *testing.T) {
	c := &fakeCredential{name: "default", info: wifInfo("svac_d")}
	c.refresh = func(context.Context) (tokens.Status, error) { return c.Status(), errors.New(leakyReason) }
	s := newServer(t, Options{}, c)
	_, err := refresh(t, s, "default")
	wantCode(t, err, codes.Unavailable, `refresh of credential "default" failed: token endpoint: HTTP 401: assertion [REDACTED] rejected`)
	if leaks := leakcheck.Find(err.Error(), testToken, testJWT, testBearer); len(leaks) > 0 || strings.ContainsRune(err.Error(), '\x1b') {
		t.Errorf("UNAVAILABLE message leaks: %v", leaks)
	}
}

func TestRefreshCredentialNotRunning(t *testing.T) {
	c := &fakeCredential{name: "default", info: wifInfo("svac_d")}
	c.refresh = func(context.Context) (tokens.Status, error) { return c.Status(), tokens.ErrNotRunning }
	_, err := refresh(t, newServer(t, Options{}, c), "default")
	wantCode(t, err, codes.Unavailable, "not refreshing now")
}

// TestRefreshCredentialDeadlineBoundsTheWaitOnly: when the caller's deadline
// passes first the call ends with DEADLINE_EXCEEDED; the attempt, which the
// credential owns, is not cancelled by it.
func TestRefreshCredentialDeadlineBoundsTheWaitOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		attemptDone := make(chan struct{})
		c := &fakeCredential{name: "default", info: wifInfo("svac_d")}
		c.refresh = func(ctx context.Context) (tokens.Status, error) {
			go func() { <-release; close(attemptDone) }() // the attempt, on its own
			<-ctx.Done()
			return c.Status(), ctx.Err()
		}
		s := newServer(t, Options{}, c)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		_, err := s.RefreshCredential(ctx, &adminv1.RefreshCredentialRequest{Name: "default"})
		wantCode(t, err, codes.DeadlineExceeded, "")
		close(release)
		<-attemptDone
	})
}

// TestRefreshCredentialWithRefresher drives a real tokens.Refresher through
// FromRefresher: a requested refresh yields a new generation, a failing one
// UNAVAILABLE and the stale state, and before Run UNAVAILABLE.
func TestRefreshCredentialWithRefresher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := &scriptedExchanger{}
		r, err := tokens.NewRefresher(tokens.RefresherOptions{Name: "default", Source: jwtSource{}, Exchanger: ex, Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		s := newServer(t, Options{}, FromRefresher("default", wifInfo("svac_d"), r))
		_, err = refresh(t, s, "default")
		wantCode(t, err, codes.Unavailable, "not refreshing now")

		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		synctest.Wait() // the first token
		time.Sleep(RefreshInterval)
		got, err := refresh(t, s, "default")
		if err != nil {
			t.Fatal(err)
		}
		if got.GetGeneration() != 2 || got.GetState() != adminv1.CredentialState_CREDENTIAL_STATE_FRESH {
			t.Errorf("after a requested refresh: %v", got)
		}

		ex.fail(errors.New("upstream said " + testToken))
		time.Sleep(RefreshInterval)
		_, err = refresh(t, s, "default")
		wantCode(t, err, codes.Unavailable, "upstream said [REDACTED]")
		list, _ := s.ListCredentials(t.Context(), nil)
		if c := record(list).GetCredentials()[0]; c.GetState() != adminv1.CredentialState_CREDENTIAL_STATE_STALE ||
			c.GetConsecutiveFailures() != 1 || c.GetLastError() != "upstream said [REDACTED]" {
			t.Errorf("after a failed refresh: %v", c)
		}
		cancel()
		<-done
	})
}

// jwtSource hands out a fresh test JWT per attempt.
type jwtSource struct{}

func (jwtSource) IdentityToken(context.Context) (secret.Value, error) {
	return secret.New(testJWT), nil
}

// scriptedExchanger grants 10-minute tokens with a new value each time until
// fail sets an error.
type scriptedExchanger struct {
	mu  sync.Mutex
	n   int
	err error
}

func (e *scriptedExchanger) fail(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.err = err
}

func (e *scriptedExchanger) Exchange(context.Context, secret.Value) (tokens.Grant, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return tokens.Grant{}, e.err
	}
	e.n++
	return tokens.Grant{AccessToken: secret.New(testToken + strings.Repeat("x", e.n)), ExpiresIn: 10 * time.Minute}, nil
}
