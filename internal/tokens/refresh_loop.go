package tokens

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Run refreshes the token until ctx is done, then returns nil. It owns every
// exchange: attempts run on ctx (cancelled only when Run's ctx ends) with one
// AttemptTimeout budget each, never on a caller's context. The first attempt
// starts at once. Run may be called only once; a second call returns
// ErrAlreadyRunning.
func (r *Refresher) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer close(r.stopped)
	now := time.Now()
	l := &loop{r: r, ctx: ctx, next: now, wake: time.NewTimer(0), edge: time.NewTimer(time.Hour)}
	l.edge.Stop()
	defer l.wake.Stop()
	defer l.edge.Stop()
	// Observers learn of the refresher before its first attempt ends (up to
	// one attempt budget): no token, no failures, an attempt due now.
	l.publish(now)
	l.run()
	return nil
}

// loop is the refresher goroutine's state; only that goroutine touches it.
type loop struct {
	r   *Refresher
	ctx context.Context

	token          *Token
	failures       int
	rejected       bool   // the last failure was non-recoverable
	warned         bool   // this failure streak has had its WARN (or ERROR)
	errorLogged    bool   // this failure streak has had its ERROR
	lastErr        string // errText of the latest failure since the last success
	next           time.Time
	lastInvalidate time.Time
	inflight       *attempt

	wake *time.Timer // fires at next
	edge *time.Timer // fires at token.Edge
}

func (l *loop) run() {
	for {
		var results <-chan attemptResult
		var deadline <-chan struct{}
		if l.inflight != nil {
			results, deadline = l.inflight.result, l.inflight.ctx.Done()
		}
		select {
		case <-l.ctx.Done():
			l.stop()
			return
		case <-l.wake.C:
			if l.inflight == nil {
				l.start("")
			}
		case gen := <-l.r.invalidate:
			l.invalidate(gen)
		case reply := <-l.r.manual:
			reply <- l.refreshNow()
		case res := <-results:
			l.finish(res)
		case <-deadline:
			// The attempt outlived its budget (or ignores its context):
			// abandon it; its goroutine ends on its own.
			l.finish(attemptResult{err: fmt.Errorf("token refresh attempt abandoned after %v: %w", l.r.timeout, context.DeadlineExceeded)})
		case <-l.edge.C:
			l.edgePassed()
		}
	}
}

// start launches an attempt; trigger "" derives it from the state.
func (l *loop) start(trigger string) {
	if trigger == "" {
		switch {
		case l.failures > 0:
			trigger = triggerRetry
		case l.token == nil:
			trigger = triggerCold
		default:
			trigger = triggerSchedule
		}
	}
	l.inflight = l.r.startAttempt(l.ctx, l.failures+1, trigger)
}

// refreshNow is RefreshNow's request: it starts an attempt unless one is in
// flight, and returns the wait for the attempt in flight.
func (l *loop) refreshNow() *refreshWait {
	if l.inflight == nil {
		l.r.log.Info("refresh requested; refreshing now", "token", l.token)
		l.start(triggerManual)
	}
	if l.inflight.waiters == nil {
		l.inflight.waiters = &refreshWait{done: make(chan struct{})}
	}
	return l.inflight.waiters
}

// finish handles the end of the attempt in flight.
func (l *loop) finish(res attemptResult) {
	a := l.inflight
	l.inflight = nil
	a.cancel()
	if l.ctx.Err() != nil { // shutting down: no outcome to report
		a.span.End()
		a.release(l.r.Status(), ErrNotRunning)
		return
	}
	now := time.Now()
	elapsed := now.Sub(a.started)
	if res.err == nil {
		l.succeed(a, res, now, elapsed)
		a.release(l.r.state.Load().status(now), nil)
		return
	}
	outcome := OutcomeError
	switch {
	case errors.Is(a.ctx.Err(), context.DeadlineExceeded):
		outcome = OutcomeTimeout
	case !Recoverable(res.err):
		outcome = OutcomeRejected
	}
	l.fail(a, res.err, outcome, now, elapsed)
	a.release(l.r.state.Load().status(now), &attemptError{text: l.lastErr, cause: res.err})
}

// succeed publishes the new token and schedules its refresh.
func (l *loop) succeed(a *attempt, res attemptResult, now time.Time, elapsed time.Duration) {
	var generation uint64 = 1
	if l.token != nil {
		generation = l.token.Generation + 1
	}
	tok := newToken(res.grant, res.sent, generation)
	streak := l.failures
	l.token, l.failures, l.rejected, l.warned, l.errorLogged, l.lastErr = tok, 0, false, false, false, ""

	// Next refresh at Sent + L − A·(1 − 0.2·u); if the exchange itself took
	// that long, count the delay from now instead so the loop cannot run hot.
	delay := refreshDelay(res.grant.ExpiresIn, l.r.rand())
	l.next = res.sent.Add(delay)
	if !l.next.After(now) {
		l.next = now.Add(delay)
	}
	l.wake.Reset(l.next.Sub(now))
	l.edge.Reset(tok.Edge.Sub(now))

	if streak > 0 {
		l.r.log.Info("token refresh recovered", "failures", streak)
	}
	l.r.log.Info("new access token", "token", tok, "lifetime", res.grant.ExpiresIn,
		"next_refresh", l.next, "scope", res.grant.Scope)
	a.endSpan(OutcomeSuccess, nil, tok.Generation)
	if o := l.r.observer; o != nil {
		o.ExchangeFinished(OutcomeSuccess, elapsed)
	}
	l.publish(now)
}

// fail schedules the next attempt after a failed one.
//
// Failure policy (design.md "Refresh policy"): retry forever, never give up
// and never cache the error. The pause is 1 s doubling with ±20 % jitter up to
// the cap clamp(L/10, 5 s, 60 s) of the latest token (5 s before the first);
// a non-recoverable failure (400/401/403 from the token endpoint or identity
// provider) is reported — Outcome rejected and one ERROR per streak — and
// retried at the cap, because a rotated identity token may fix it. A
// Retry-After lengthens the pause up to 60 s. Last, the pause is shortened so
// that one attempt still starts by the current token's Edge − 1 s. The
// current token keeps being served until its edge.
func (l *loop) fail(a *attempt, err error, outcome Outcome, now time.Time, elapsed time.Duration) {
	l.failures++
	l.rejected = outcome == OutcomeRejected
	l.lastErr = errText(err)
	var lifetime time.Duration
	var edge time.Time
	if l.token != nil {
		lifetime, edge = l.token.Lifetime(), l.token.Edge
	}
	limit := backoffCap(lifetime)
	u := l.r.rand()
	d := backoffDelay(l.failures, limit, u)
	if l.rejected {
		d = atCap(limit, u)
	}
	d = honourRetryAfter(d, retryAfterOf(err))
	d = clampToEdge(now, d, edge)
	l.next = now.Add(d)
	l.wake.Reset(d)

	attrs := []any{"error", l.lastErr, "outcome", string(outcome), "failures", l.failures,
		"next_attempt", l.next, "servable_until", servableUntil(l.token, now)}
	switch {
	case l.rejected && !l.errorLogged:
		l.errorLogged, l.warned = true, true
		l.r.log.Error("token refresh rejected (non-recoverable; retrying at the backoff cap)", attrs...)
	case !l.warned:
		l.warned = true
		l.r.log.Warn("token refresh failing", attrs...)
	default:
		l.r.log.Debug("token refresh still failing", attrs...)
	}
	a.endSpan(outcome, err, 0)
	if o := l.r.observer; o != nil {
		o.ExchangeFinished(outcome, elapsed)
	}
	l.publish(now)
}

// servableUntil is the current token's edge while it is servable, for logs.
func servableUntil(t *Token, now time.Time) any {
	if !t.Servable(now) {
		return "none"
	}
	return t.Edge
}

// edgePassed reports the current token going unservable.
func (l *loop) edgePassed() {
	now := time.Now()
	if l.token == nil || l.token.Servable(now) {
		return
	}
	l.r.log.Warn("access token passed its edge; no servable token until a refresh succeeds",
		"token", l.token, "next_attempt", l.next)
	l.publish(now)
}

// invalidate starts a refresh now if gen is the current generation, no
// attempt is in flight and none was invalidated in the last 30 s.
func (l *loop) invalidate(gen uint64) {
	now := time.Now()
	switch {
	case l.token == nil || gen != l.token.Generation:
		l.r.log.Debug("stale invalidation ignored", "generation", gen)
	case l.inflight != nil:
		l.r.log.Debug("invalidation ignored: a refresh is under way", "generation", gen)
	case !l.lastInvalidate.IsZero() && now.Sub(l.lastInvalidate) < invalidateInterval:
		l.r.log.Debug("invalidation rate-limited", "generation", gen)
	default:
		l.lastInvalidate = now
		l.r.log.Info("access token invalidated; refreshing now", "token", l.token)
		l.start(triggerInvalidate)
	}
}

// stop abandons the attempt in flight and publishes the final status.
func (l *loop) stop() {
	a := l.inflight
	if a != nil {
		l.inflight = nil
		a.cancel()
		a.span.End()
	}
	l.next = time.Time{}
	l.r.log.Info("token refresher stopped", slog.Any("token", l.token))
	l.publish(time.Now())
	if a != nil {
		a.release(l.r.Status(), ErrNotRunning)
	}
}

// publish stores an immutable snapshot for Token and Status and tells the
// observer.
func (l *loop) publish(now time.Time) {
	s := &snapshot{token: l.token, next: l.next, failures: l.failures, rejected: l.rejected, lastErr: l.lastErr}
	l.r.state.Store(s)
	if o := l.r.observer; o != nil {
		o.StatusChanged(s.status(now))
	}
}
