package tokens

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestRefreshNowNotRunning: before Run and after it ends RefreshNow returns
// ErrNotRunning at once, and starts nothing.
func TestRefreshNowNotRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := &fakeExchanger{lifetime: time.Hour}
		logger, _ := captureLogs(t)
		r, err := NewRefresher(RefresherOptions{Source: &fakeSource{}, Exchanger: ex, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.RefreshNow(context.Background()); !errors.Is(err, ErrNotRunning) {
			t.Errorf("before Run: RefreshNow = %v, want ErrNotRunning", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		synctest.Wait()
		cancel()
		<-done
		if _, err := r.RefreshNow(context.Background()); !errors.Is(err, ErrNotRunning) {
			t.Errorf("after Run: RefreshNow = %v, want ErrNotRunning", err)
		}
		if n := ex.count(); n != 1 {
			t.Errorf("%d exchanges, want only Run's first", n)
		}
	})
}

// TestRefreshNowStarts: with a fresh token and nothing in flight, RefreshNow
// exchanges at once and returns the new token's status.
func TestRefreshNowStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := &fakeExchanger{lifetime: time.Hour, latency: time.Second}
		spans := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
		r, _ := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex, Rand: fixedRand(0.5), TracerProvider: tp})
		time.Sleep(time.Minute)
		t0 := time.Now()
		s, err := r.RefreshNow(context.Background())
		if err != nil {
			t.Fatalf("RefreshNow = %v", err)
		}
		if got := time.Since(t0); got != time.Second {
			t.Errorf("RefreshNow took %v, want the exchange's 1 s", got)
		}
		calls := ex.callTimes()
		if len(calls) != 2 || !calls[1].Equal(t0) {
			t.Fatalf("exchanges at %v; want a second one at once", calls)
		}
		if !s.Ready || s.Token.Generation != 2 || s.ConsecutiveFailures != 0 || s.LastError != "" {
			t.Errorf("status %+v; want generation 2, ready, no error", s)
		}
		if want := t0.Add(refreshDelay(time.Hour, 0.5)); !s.NextAttempt.Equal(want) {
			t.Errorf("next attempt %v, want the new token's schedule %v", s.NextAttempt, want)
		}
		var triggers []string
		for _, sp := range spans.Ended() {
			for _, a := range sp.Attributes() {
				if a.Key == "extauthz.refresh.trigger" {
					triggers = append(triggers, a.Value.AsString())
				}
			}
		}
		if strings.Join(triggers, ",") != "cold,manual" {
			t.Errorf("span triggers %v, want [cold manual]", triggers)
		}
	})
}

// TestRefreshNowJoins: callers that arrive while an attempt is in flight
// (here the first, cold one) wait for it; no second exchange starts.
func TestRefreshNowJoins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := &fakeExchanger{lifetime: time.Hour, latency: 3 * time.Second}
		r, _ := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex})
		time.Sleep(time.Second)
		var wg sync.WaitGroup
		statuses := make([]Status, 8)
		errs := make([]error, 8)
		for i := range statuses {
			wg.Go(func() { statuses[i], errs[i] = r.RefreshNow(context.Background()) })
		}
		wg.Wait()
		if n := ex.count(); n != 1 {
			t.Errorf("%d exchanges, want the one in flight only", n)
		}
		for i, s := range statuses {
			if errs[i] != nil || s.Token == nil || s.Token.Generation != 1 || !s.Ready {
				t.Errorf("caller %d: %+v, %v; want the joined attempt's token", i, s, errs[i])
			}
		}
	})
}

// TestRefreshNowFailure: a failed attempt's error comes back scrubbed, equal
// to Status.LastError, and still matches the cause with errors.As; the next
// success clears LastError.
func TestRefreshNowFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		failing := false
		ex := &fakeExchanger{lifetime: time.Hour, behave: func(context.Context, int) error {
			mu.Lock()
			defer mu.Unlock()
			if failing {
				return &ExchangeError{StatusCode: http.StatusUnauthorized, Type: "authentication_error",
					Message: "assertion Bearer " + numberedJWT(9) + " rejected"}
			}
			return nil
		}}
		obs := &recorder{}
		r, _ := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex, Observer: obs})
		synctest.Wait()
		mu.Lock()
		failing = true
		mu.Unlock()

		s, err := r.RefreshNow(context.Background())
		var xe *ExchangeError
		if !errors.As(err, &xe) || xe.StatusCode != http.StatusUnauthorized {
			t.Fatalf("RefreshNow = %v; want the *ExchangeError", err)
		}
		assertNoSecrets(t, "RefreshNow's error", err.Error())
		if !strings.Contains(err.Error(), "authentication_error") || err.Error() != s.LastError {
			t.Errorf("error %q, LastError %q; want the same scrubbed text", err, s.LastError)
		}
		if !s.Ready || s.ConsecutiveFailures != 1 || !s.Rejected || s.Token.Generation != 1 {
			t.Errorf("status %+v; want the old token served, one rejected failure", s)
		}
		_, _, statuses := obs.snapshot()
		if last := statuses[len(statuses)-1]; last.LastError != s.LastError {
			t.Errorf("observer's LastError %q, want %q", last.LastError, s.LastError)
		}

		mu.Lock()
		failing = false
		mu.Unlock()
		s, err = r.RefreshNow(context.Background())
		if err != nil || s.LastError != "" || s.ConsecutiveFailures != 0 || s.Token.Generation != 2 {
			t.Errorf("after a success: %+v, %v; want LastError cleared", s, err)
		}
	})
}

// TestRefreshNowContextBoundsOnlyTheWait: a caller that gives up leaves the
// attempt running to its own end.
func TestRefreshNowContextBoundsOnlyTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := &fakeExchanger{lifetime: time.Hour, latency: 5 * time.Second}
		r, _ := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex})
		time.Sleep(time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		t0 := time.Now()
		s, err := r.RefreshNow(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) != time.Second {
			t.Fatalf("RefreshNow = %v after %v; want DeadlineExceeded after 1 s", err, time.Since(t0))
		}
		if s.Token == nil || s.Token.Generation != 1 {
			t.Errorf("status %+v; want the current token", s)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if st := r.Status(); st.Token.Generation != 2 || st.ConsecutiveFailures != 0 {
			t.Errorf("the abandoned wait cancelled the attempt: %+v", st)
		}
		if n := ex.count(); n != 2 {
			t.Errorf("%d exchanges, want 2", n)
		}
		done, cancelled := context.WithCancel(context.Background())
		cancelled()
		if _, err := r.RefreshNow(done); !errors.Is(err, context.Canceled) {
			t.Errorf("RefreshNow(done ctx) = %v, want Canceled", err)
		}
		synctest.Wait()
		if n := ex.count(); n != 2 {
			t.Errorf("a done ctx started an exchange (%d)", n)
		}
	})
}

// TestRefreshNowStopDuringWait: Run ending while a caller waits releases it
// with ErrNotRunning.
func TestRefreshNowStopDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := &fakeExchanger{lifetime: time.Hour, latency: 5 * time.Second}
		logger, _ := captureLogs(t)
		r, err := NewRefresher(RefresherOptions{Source: &fakeSource{}, Exchanger: ex, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		synctest.Wait() // the first attempt is in flight
		got := make(chan error)
		go func() {
			_, err := r.RefreshNow(context.Background())
			got <- err
		}()
		time.Sleep(time.Second)
		cancel()
		if err := <-got; !errors.Is(err, ErrNotRunning) {
			t.Errorf("RefreshNow = %v, want ErrNotRunning", err)
		}
		<-done
	})
}

// TestRefreshNowDuringBackoff: in a failure streak RefreshNow does not wait
// for the backoff; it counts in the streak like any attempt.
func TestRefreshNowDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := &fakeExchanger{lifetime: time.Hour, behave: func(_ context.Context, n int) error {
			if n <= 2 {
				return &ExchangeError{StatusCode: http.StatusServiceUnavailable, RetryAfter: 30 * time.Second}
			}
			return nil
		}}
		r, _ := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex})
		synctest.Wait()
		t0 := time.Now()
		s, err := r.RefreshNow(context.Background())
		if err == nil || s.ConsecutiveFailures != 2 || time.Since(t0) != 0 {
			t.Fatalf("second attempt: %+v, %v; want a failure at once, the second of the streak", s, err)
		}
		s, err = r.RefreshNow(context.Background())
		if err != nil || !s.Ready || s.Token.Generation != 1 {
			t.Errorf("third attempt: %+v, %v; want the first token", s, err)
		}
	})
}
