package tokens

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestNewRefresherRequiresLayers(t *testing.T) {
	if _, err := NewRefresher(RefresherOptions{}); err == nil {
		t.Fatal("NewRefresher without source and exchanger succeeded")
	}
	r, err := NewRefresher(RefresherOptions{Source: &fakeSource{}, Exchanger: &fakeExchanger{lifetime: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if tok, hint := r.Token(time.Now()); tok != nil || hint != time.Second {
		t.Errorf("before Run: Token = %v, %v; want nil, 1s", tok, hint)
	}
	if s := r.Status(); s.Ready || s.Token != nil {
		t.Errorf("before Run: Status = %+v", s)
	}
}

// TestRefresherDefaultName: a refresher given no name logs as credential
// "default", the single credential's name everywhere.
func TestRefresherDefaultName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, logs := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: &fakeExchanger{lifetime: time.Hour}})
		synctest.Wait()
		records := logs.records(t)
		if len(records) == 0 {
			t.Fatal("no log lines")
		}
		for _, r := range records {
			if r["credential"] != DefaultName || DefaultName != "default" {
				t.Errorf("log line %q has credential %v, want %q", r["msg"], r["credential"], "default")
			}
		}
	})
}

func TestRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: &fakeExchanger{lifetime: time.Hour}})
		synctest.Wait()
		if err := r.Run(context.Background()); !errors.Is(err, ErrAlreadyRunning) {
			t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
		}
	})
}

// TestRefresherSchedule runs several refreshes at each lifetime and checks
// every interval against the policy, with real jitter from a seeded source.
func TestRefresherSchedule(t *testing.T) {
	for _, lifetime := range []time.Duration{10 * time.Second, 60 * time.Second, 600 * time.Second, 3600 * time.Second} {
		t.Run(lifetime.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := min(lifetime/2, 15*time.Minute)
				ex := &fakeExchanger{lifetime: lifetime}
				rng := rand.New(rand.NewPCG(1, uint64(lifetime)))
				r, _ := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex, Rand: rng.Float64})
				t0 := time.Now()
				// Walk in steps of L/20 for 8 lifetimes: a token is always
				// servable and never past its expiry.
				for now := t0; now.Before(t0.Add(8 * lifetime)); now = time.Now() {
					synctest.Wait()
					tok, _ := r.Token(now)
					if tok == nil {
						t.Fatalf("at +%v: no servable token", now.Sub(t0))
					}
					if !now.Before(tok.Expiry) || !now.Before(tok.Edge) {
						t.Fatalf("at +%v: token past its edge", now.Sub(t0))
					}
					time.Sleep(lifetime / 20)
				}
				calls := ex.callTimes()
				if len(calls) < 9 {
					t.Fatalf("%d exchanges in 8 lifetimes, want at least 9", len(calls))
				}
				if !calls[0].Equal(t0) {
					t.Errorf("first exchange at +%v, want at once", calls[0].Sub(t0))
				}
				seen := map[time.Duration]bool{}
				for i := 1; i < len(calls); i++ {
					d := calls[i].Sub(calls[i-1])
					if d < lifetime-a || d >= lifetime-a*8/10 {
						t.Errorf("interval %d = %v, want in [%v, %v)", i, d, lifetime-a, lifetime-a*8/10)
					}
					if d < lifetime/4 {
						t.Errorf("interval %d = %v is below L/4", i, d)
					}
					seen[d] = true
				}
				if len(seen) < 2 {
					t.Error("refresh intervals are not jittered")
				}
			})
		})
	}
}

// TestRefresherBackoffBeforeFirstToken: 1 s doubling, capped at 5 s while
// there has never been a token; every attempt reported.
func TestRefresherBackoffBeforeFirstToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := &fakeExchanger{lifetime: time.Hour, behave: func(context.Context, int) error {
			return &ExchangeError{StatusCode: http.StatusServiceUnavailable}
		}}
		obs := &recorder{}
		r, logs := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex, Observer: obs, Rand: fixedRand(0.5)})
		t0 := time.Now()
		time.Sleep(30 * time.Second)
		synctest.Wait()
		want := []time.Duration{0, 1, 3, 7, 11500, 16, 20500, 25, 29500} // seconds, or ms where > 1000
		calls := ex.callTimes()
		if len(calls) != len(want) {
			t.Fatalf("%d attempts in 30 s, want %d", len(calls), len(want))
		}
		for i, w := range want {
			if w > 1000 {
				w *= time.Millisecond
			} else {
				w *= time.Second
			}
			if got := calls[i].Sub(t0); got != w {
				t.Errorf("attempt %d at +%v, want +%v", i+1, got, w)
			}
		}
		outcomes, _, _ := obs.snapshot()
		for _, o := range outcomes {
			if o != OutcomeError {
				t.Errorf("outcome %q, want error", o)
			}
		}
		s := r.Status()
		if s.Ready || s.ConsecutiveFailures != len(want) || s.Rejected {
			t.Errorf("Status = %+v", s)
		}
		if tok, hint := r.Token(time.Now()); tok != nil || hint < time.Second || hint > 5*time.Second {
			t.Errorf("Token = %v, %v; want nil and a hint within the 5 s cap", tok, hint)
		}
		if n := logs.count(t, slog.LevelWarn, "token refresh failing"); n != 1 {
			t.Errorf("%d WARN lines for one failure streak, want 1", n)
		}
	})
}

// TestRefresherBackoffWithToken: after a token of L = 1 h the cap is 60 s;
// the old token is served throughout; success resets the streak.
func TestRefresherBackoffWithToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var failing atomic.Bool
		ex := &fakeExchanger{lifetime: time.Hour, behave: failWhile(&failing, &ExchangeError{StatusCode: http.StatusBadGateway})}
		obs := &recorder{}
		r, logs := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex, Observer: obs, Rand: fixedRand(0.5)})
		synctest.Wait()
		failing.Store(true)
		t0 := time.Now()
		refresh := refreshDelay(time.Hour, 0.5)
		time.Sleep(refresh + 4*time.Minute)
		synctest.Wait()
		calls := ex.callTimes()
		want := []time.Duration{0, 1, 2, 4, 8, 16, 32, 54, 54, 54} // gaps in seconds after the refresh point
		if len(calls) < len(want)+1 {
			t.Fatalf("%d calls, want at least %d", len(calls), len(want)+1)
		}
		if got := calls[1].Sub(t0); got != refresh {
			t.Errorf("first refresh at +%v, want +%v", got, refresh)
		}
		for i := 1; i < len(want); i++ {
			if got := calls[i+1].Sub(calls[i]); got != want[i]*time.Second {
				t.Errorf("gap %d = %v, want %v", i, got, want[i]*time.Second)
			}
		}
		if tok, _ := r.Token(time.Now()); tok == nil || tok.Generation != 1 {
			t.Fatalf("the old token is not served during the outage: %v", tok)
		}
		failing.Store(false)
		time.Sleep(time.Minute)
		synctest.Wait()
		s := r.Status()
		if !s.Ready || s.Token.Generation != 2 || s.ConsecutiveFailures != 0 {
			t.Errorf("after healing: Status = %+v", s)
		}
		if n := logs.count(t, slog.LevelInfo, "token refresh recovered"); n != 1 {
			t.Errorf("%d recovery INFO lines, want 1", n)
		}
		if n := logs.count(t, slog.LevelWarn, "token refresh failing"); n != 1 {
			t.Errorf("%d WARN lines, want 1", n)
		}
	})
}

// TestRefresherNonRecoverable: 401 from the token endpoint and from the
// identity provider are reported as rejected, logged at ERROR once per
// streak, and retried at the cap.
func TestRefresherNonRecoverable(t *testing.T) {
	for _, c := range []struct {
		name string
		src  *fakeSource
		ex   *fakeExchanger
	}{
		{"token endpoint 401", &fakeSource{}, &fakeExchanger{lifetime: time.Hour, behave: func(context.Context, int) error {
			return &ExchangeError{StatusCode: http.StatusUnauthorized, Type: "authentication_error", Message: "Authentication failed"}
		}}},
		{"token endpoint 400", &fakeSource{}, &fakeExchanger{lifetime: time.Hour, behave: func(context.Context, int) error {
			return &ExchangeError{StatusCode: http.StatusBadRequest, Type: "invalid_grant"}
		}}},
		{"identity provider 403", &fakeSource{fail: func(int) error {
			return &IdentityError{Source: sourceGitHubActions, StatusCode: http.StatusForbidden}
		}}, &fakeExchanger{lifetime: time.Hour}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				obs := &recorder{}
				r, logs := startRefresher(t, RefresherOptions{Source: c.src, Exchanger: c.ex, Observer: obs, Rand: fixedRand(0.5)})
				time.Sleep(20 * time.Second)
				synctest.Wait()
				outcomes, _, _ := obs.snapshot()
				if len(outcomes) != 5 { // at 0, 4.5, 9, 13.5, 18 s: the 5 s cap jittered to 4.5 s
					t.Errorf("%d attempts in 20 s, want 5 (retried at the cap)", len(outcomes))
				}
				for _, o := range outcomes {
					if o != OutcomeRejected {
						t.Errorf("outcome %q, want rejected", o)
					}
				}
				if s := r.Status(); !s.Rejected || s.Ready {
					t.Errorf("Status = %+v, want Rejected", s)
				}
				if n := logs.count(t, slog.LevelError, "token refresh rejected (non-recoverable; retrying at the backoff cap)"); n != 1 {
					t.Errorf("%d ERROR lines, want 1 per streak", n)
				}
				if n := logs.count(t, slog.LevelWarn, "token refresh failing"); n != 0 {
					t.Errorf("%d WARN lines besides the ERROR, want 0", n)
				}
			})
		})
	}
}

func TestRefresherRetryAfter(t *testing.T) {
	for _, c := range []struct {
		retryAfter, want time.Duration
	}{
		{30 * time.Second, 30 * time.Second},
		{10 * time.Minute, 60 * time.Second}, // honoured up to 60 s
		{0, time.Second},
	} {
		t.Run(c.retryAfter.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ex := &fakeExchanger{lifetime: time.Hour, behave: func(_ context.Context, n int) error {
					if n == 1 {
						return &ExchangeError{StatusCode: http.StatusTooManyRequests, RetryAfter: c.retryAfter}
					}
					return nil
				}}
				r, _ := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex, Rand: fixedRand(0.5)})
				t0 := time.Now()
				synctest.Wait()
				if tok, hint := r.Token(time.Now()); tok != nil || hint != min(c.want, 60*time.Second) {
					t.Errorf("during Retry-After: Token = %v, hint %v; want nil, %v", tok, hint, c.want)
				}
				time.Sleep(2 * time.Minute)
				calls := ex.callTimes()
				if len(calls) < 2 || calls[1].Sub(t0) != c.want {
					t.Fatalf("second attempt not at +%v: %v", c.want, calls)
				}
			})
		})
	}
}

// TestRefresherSlowAnswerShortLifetime: a token of L = 15 s answered after
// 9 s, past the refresh point drawn for it (8.25 s), is refreshed by its
// edge − 1 s and does not lapse. The refresher used to wait a whole refresh
// delay from the answer (to +17.25 s), leaving no servable token from the
// edge at +13.5 s although the endpoint answered every request; the soak
// found it.
func TestRefresherSlowAnswerShortLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lifetime = 15 * time.Second // S = 1.5 s: edge at +13.5 s
		ex := &fakeExchanger{lifetime: lifetime, behave: func(ctx context.Context, n int) error {
			if n == 1 {
				time.Sleep(9 * time.Second)
			}
			return nil
		}}
		r, _ := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex, Rand: fixedRand(0.5)})
		t0 := time.Now()
		time.Sleep(9 * time.Second)
		synctest.Wait()
		first, _ := r.Token(time.Now())
		if first == nil || first.Generation != 1 || !first.Edge.Equal(t0.Add(13500*time.Millisecond)) {
			t.Fatalf("first token %v, want generation 1 with its edge at +13.5 s", first)
		}
		for time.Since(t0) < 30*time.Second {
			now := time.Now()
			if tok, _ := r.Token(now); tok == nil {
				t.Fatalf("no servable token at +%v; exchanges at %v", now.Sub(t0), ex.callTimes())
			}
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
		}
		calls := ex.callTimes()
		if len(calls) < 2 || !calls[1].Equal(t0.Add(12500*time.Millisecond)) {
			t.Errorf("exchanges at %v; want the second at edge − 1 s, +12.5 s", calls)
		}
		if len(calls) >= 2 && calls[1].Sub(calls[0]) < lifetime/2 {
			t.Errorf("second exchange %v after the first, under L/2", calls[1].Sub(calls[0]))
		}
	})
}

// TestRefresherStaleServingUntilEdge: with every refresh failing, the token
// is served right up to its edge and never after; one attempt starts at
// edge − 1 s; Ready flips and StatusChanged fires when the edge passes.
func TestRefresherStaleServingUntilEdge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lifetime = 100 * time.Second // S = 10 s, edge at +90 s, cap 10 s
		ex := &fakeExchanger{lifetime: lifetime, behave: func(_ context.Context, n int) error {
			if n > 1 {
				return &ExchangeError{StatusCode: http.StatusInternalServerError}
			}
			return nil
		}}
		obs := &recorder{}
		r, logs := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex, Observer: obs, Rand: fixedRand(0.5)})
		t0 := time.Now()
		edge := t0.Add(90 * time.Second)
		synctest.Wait()
		for step := 0; step < 200; step++ {
			now := time.Now()
			tok, hint := r.Token(now)
			switch {
			case now.Before(edge) && tok == nil:
				t.Fatalf("at +%v (before the edge): no token", now.Sub(t0))
			case !now.Before(edge) && tok != nil:
				t.Fatalf("at +%v (past the edge): token served", now.Sub(t0))
			case tok == nil && (hint < time.Second || hint > 60*time.Second):
				t.Fatalf("hint %v outside [1s, 60s]", hint)
			}
			if ready := r.Status().Ready; ready != (tok != nil) {
				t.Fatalf("at +%v: Status().Ready = %v, Token = %v", now.Sub(t0), ready, tok)
			}
			time.Sleep(500 * time.Millisecond)
			synctest.Wait()
		}
		lastChance := false
		for _, c := range ex.callTimes() {
			lastChance = lastChance || c.Equal(edge.Add(-time.Second))
		}
		if !lastChance {
			t.Errorf("no attempt at edge − 1 s; attempts at %v", ex.callTimes())
		}
		_, _, statuses := obs.snapshot()
		flipped := false
		for i := 1; i < len(statuses); i++ {
			if statuses[i-1].Ready && !statuses[i].Ready && statuses[i].Token != nil {
				flipped = true
			}
		}
		if !flipped {
			t.Error("StatusChanged never reported Ready turning false at the edge")
		}
		if n := logs.count(t, slog.LevelWarn, "access token passed its edge; no servable token until a refresh succeeds"); n != 1 {
			t.Errorf("%d edge WARN lines, want 1", n)
		}
	})
}

// TestRefresherRecoversAfterLongOutage: an outage five lifetimes long; once
// the endpoint heals, a new token arrives within the backoff cap + 1 s.
func TestRefresherRecoversAfterLongOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lifetime = 60 * time.Second // cap 6 s
		var failing atomic.Bool
		ex := &fakeExchanger{lifetime: lifetime, behave: failWhile(&failing, &ExchangeError{StatusCode: http.StatusServiceUnavailable})}
		rng := rand.New(rand.NewPCG(7, 7))
		r, _ := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex, Rand: rng.Float64})
		synctest.Wait()
		failing.Store(true)
		time.Sleep(5 * lifetime)
		synctest.Wait()
		if tok, _ := r.Token(time.Now()); tok != nil {
			t.Fatal("a token is served five lifetimes into the outage")
		}
		failing.Store(false)
		healedAt := time.Now()
		for r.Status().Token.Generation < 2 {
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
		}
		if took := time.Since(healedAt); took > backoffCap(lifetime)+time.Second {
			t.Errorf("recovered %v after healing, want within cap + 1 s = %v", took, backoffCap(lifetime)+time.Second)
		}
		if tok, _ := r.Token(time.Now()); tok == nil {
			t.Error("no servable token after recovery")
		}
	})
}

// TestRefresherHungExchanger: an exchanger that hangs costs one attempt
// timeout, whether it honours its context or ignores it.
func TestRefresherHungExchanger(t *testing.T) {
	for _, honours := range []bool{true, false} {
		name := map[bool]string{true: "honours context", false: "ignores context"}[honours]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				t.Cleanup(func() { close(release) })
				ex := &fakeExchanger{lifetime: time.Hour, behave: func(ctx context.Context, n int) error {
					if n != 1 {
						return nil
					}
					if honours {
						<-ctx.Done()
						return ctx.Err()
					}
					<-release
					return nil
				}}
				obs := &recorder{}
				r, _ := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex, Observer: obs, Rand: fixedRand(0.5), AttemptTimeout: 10 * time.Second})
				t0 := time.Now()
				time.Sleep(time.Minute)
				synctest.Wait()
				outcomes, elapsed, _ := obs.snapshot()
				if len(outcomes) != 2 || outcomes[0] != OutcomeTimeout || outcomes[1] != OutcomeSuccess {
					t.Fatalf("outcomes %v, want [timeout success]", outcomes)
				}
				if elapsed[0] != 10*time.Second {
					t.Errorf("hung attempt took %v, want the 10 s budget", elapsed[0])
				}
				s := r.Status()
				if !s.Ready || s.Token.Generation != 1 || !s.Token.Sent.Equal(t0.Add(11*time.Second)) {
					t.Errorf("Status = %+v; want the first token sent at +11 s (timeout + 1 s backoff)", s)
				}
			})
		})
	}
}

// TestRefresherInvalidate: the current generation triggers a refresh now,
// a stale one is ignored, repeats within 30 s are rate-limited, and the old
// token is served until the new one arrives.
func TestRefresherInvalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := &fakeExchanger{lifetime: time.Hour, latency: 2 * time.Second}
		r, _ := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex, Rand: fixedRand(0.5)})
		time.Sleep(2 * time.Second)
		synctest.Wait()
		first, _ := r.Token(time.Now())
		if first == nil || first.Generation != 1 {
			t.Fatalf("first token %v", first)
		}

		r.Invalidate(first.Generation)
		synctest.Wait()
		if n := ex.count(); n != 2 {
			t.Fatalf("%d exchanges after Invalidate(current), want 2", n)
		}
		if tok, _ := r.Token(time.Now()); tok != first {
			t.Error("the invalidated token is not served while its replacement is fetched")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		second, _ := r.Token(time.Now())
		if second == nil || second.Generation != 2 {
			t.Fatalf("after Invalidate: token %v, want generation 2", second)
		}

		r.Invalidate(second.Generation) // current, but within 30 s of the last
		synctest.Wait()
		if n := ex.count(); n != 2 {
			t.Errorf("Invalidate within 30 s was not rate-limited (%d exchanges)", n)
		}
		// Past the rate limit, only the generation stands between a stale
		// report and a refresh.
		time.Sleep(30 * time.Second)
		r.Invalidate(first.Generation) // stale
		synctest.Wait()
		if n := ex.count(); n != 2 {
			t.Errorf("stale Invalidate triggered an exchange (%d)", n)
		}
		r.Invalidate(second.Generation)
		synctest.Wait()
		if n := ex.count(); n != 3 {
			t.Errorf("%d exchanges after Invalidate 30 s later, want 3", n)
		}
	})
}

// TestRefresherReportsStart: observers hear of the refresher as it starts,
// before its first attempt ends, so metrics show "no token yet" (expiry 0,
// no failures) instead of nothing while a first exchange hangs.
func TestRefresherReportsStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obs := &recorder{}
		ex := &fakeExchanger{lifetime: time.Hour, latency: 5 * time.Second}
		startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex, Observer: obs})
		t0 := time.Now()
		synctest.Wait()
		_, _, statuses := obs.snapshot()
		if len(statuses) != 1 {
			t.Fatalf("%d status reports while the first attempt runs, want 1", len(statuses))
		}
		if s := statuses[0]; s.Ready || s.Token != nil || s.ConsecutiveFailures != 0 || !s.NextAttempt.Equal(t0) {
			t.Errorf("start status %+v; want no token, no failures, an attempt due now", s)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if _, _, statuses = obs.snapshot(); len(statuses) != 2 || !statuses[1].Ready {
			t.Errorf("after the first exchange: %d reports, last %+v", len(statuses), statuses[len(statuses)-1])
		}
	})
}

// TestRefresherStop: cancelling Run reports a final status with no next
// attempt and leaves the last token to its edge.
func TestRefresherStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logger, _ := captureLogs(t)
		obs := &recorder{}
		r, err := NewRefresher(RefresherOptions{Source: &fakeSource{}, Exchanger: &fakeExchanger{lifetime: time.Hour}, Observer: obs, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		_, _, statuses := obs.snapshot()
		last := statuses[len(statuses)-1]
		if !last.NextAttempt.IsZero() || !last.Ready || last.Token == nil {
			t.Errorf("final status %+v; want no next attempt and the token still servable", last)
		}
	})
}

// TestRefresherConcurrentReaders: many readers of Token and Status while the
// refresher replaces short-lived tokens and is invalidated (run with -race).
func TestRefresherConcurrentReaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := &fakeExchanger{lifetime: 10 * time.Second, latency: 30 * time.Millisecond}
		r, _ := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex})
		time.Sleep(time.Second)
		var wg sync.WaitGroup
		var mu sync.Mutex
		bad := 0
		for i := range 16 {
			wg.Go(func() {
				end := time.Now().Add(40 * time.Second)
				for now := time.Now(); now.Before(end); now = time.Now() {
					tok, _ := r.Token(now)
					s := r.Status()
					if tok == nil || s.Token == nil || !now.Before(tok.Edge) {
						mu.Lock()
						bad++
						mu.Unlock()
					}
					if i%4 == 0 && tok != nil {
						r.Invalidate(tok.Generation)
					}
					time.Sleep(time.Duration(20+i) * time.Millisecond)
				}
			})
		}
		wg.Wait()
		if bad != 0 {
			t.Errorf("%d reads without a servable token", bad)
		}
	})
}
