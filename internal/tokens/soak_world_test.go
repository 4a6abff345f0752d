package tokens

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"extauthz/internal/secret"
)

// soakWorld is the soak's model of the outside world and its referee. The
// wire (soak_wire_test.go) answers requests and records what it granted;
// thin wrappers around the real source and exchanger tell it when each
// attempt starts and ends; the test's goroutines report what they asked of
// the refresher and what it answered. Every judgement is made against the
// world's own records, never against the refresher's bookkeeping.
type soakWorld struct {
	t *testing.T

	mu     sync.Mutex
	regime *regime

	// The wire.
	inFlight   int    // requests between RoundTrip and Body.Close
	minted     uint64 // jti of the latest JWT minted
	presented  uint64 // highest jti presented at the token endpoint
	grants     uint64 // access tokens delivered
	lastFault  attemptFault
	faults     [2][numFaultKinds]int
	cuts       int                     // faulty answers cut when their phase ended
	pendingTok *issuedToken            // delivered in the current attempt
	recent     map[string]*issuedToken // tokens of the last few generations, by value
	newToken   chan struct{}           // signalled at each accepted grant
	violations int

	// Attempts, as the wrappers see them.
	runStart     time.Time
	inAttempt    bool
	anyAttempt   bool
	attempts     int
	lastEnd      time.Time
	lastOK       bool
	failures     int           // consecutive failed attempts
	lastRejected bool          // the last failure was a rejection
	lastRA       time.Duration // the Retry-After the last failure must have been held to (less its slack)
	lastRASlack  time.Duration // 1 s for an HTTP-date Retry-After
	tok          *issuedToken  // the latest accepted token
	tokAt        time.Time     // when it was accepted
	generation   uint64

	// What the test's goroutines did, for the justification of early attempts.
	invAt      time.Time // the latest Invalidate call, and its generation
	invGen     uint64
	lastInvAct time.Time // the latest attempt an invalidation started
	manualAt   time.Time // the latest RefreshNow call

	// Per token (since the latest success): for the per-token inequality.
	periodAttempts, periodInv, periodManual int

	// Counts for the report.
	invCurrent, invStale, invActed int
	manualCalls, manualStarts      int
	maxPeriodAttempts              int
	recoveries                     int
	recoveringSince                time.Time     // faults stopped with no servable token; zero when none
	recoveringBound                time.Duration // the bound of that recovery
	worstRecovery, worstBound      time.Duration // the recovery closest to its bound, and that bound
}

// attemptFault is the last answer the wire gave within the current attempt.
type attemptFault struct {
	kind            faultKind
	at              endpoint
	retryAfter      time.Duration // the wait the Retry-After asks for, capped at 60 s
	retryAfterSlack time.Duration // 1 s for the HTTP-date form (whole seconds)
}

func newSoakWorld(t *testing.T) *soakWorld {
	return &soakWorld{
		t:        t,
		regime:   calmRegime(),
		recent:   map[string]*issuedToken{},
		newToken: make(chan struct{}, 1),
		runStart: time.Now(),
	}
}

func calmRegime() *regime { return &regime{name: "calm", release: make(chan struct{})} }

func (w *soakWorld) now() time.Time { return time.Now() }

// violate records a broken invariant (w.mu held or not: it only counts and
// reports). The first few are reported in full; the message never quotes a
// credential.
func (w *soakWorld) violate(format string, args ...any) {
	w.violations++
	if w.violations <= 20 {
		w.t.Errorf("soak at +%v: %s", time.Since(w.runStart), fmt.Sprintf(format, args...))
	}
}

// requestDone ends a request whose answer was delivered.
func (w *soakWorld) requestDone() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight--
}

// requestAborted ends a request that got no answer: its context ended, the
// connection dropped, or (cut) its phase ended.
func (w *soakWorld) requestAborted(cut bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight--
	w.lastFault = attemptFault{kind: faultReset} // no answer: recoverable, no Retry-After
	if cut {
		w.cuts++
	}
}

// delivered records a grant as it leaves the wire.
func (w *soakWorld) delivered(tok issuedToken) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pendingTok = &tok
}

// setRegime switches the fault plan, ending the old phase (its faulty
// answers in progress are cut). Ending a faulty phase for a calm one returns
// the time within which a servable token must exist; see recoveryBound.
func (w *soakWorld) setRegime(next *regime) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	bound := w.recoveryBound()
	close(w.regime.release)
	w.regime = next
	if now := time.Now(); next.p == 0 && (w.tok == nil || !now.Before(w.tok.edge)) {
		w.recoveringSince, w.recoveringBound = now, bound
	}
	return bound
}

// recoveryBound is how long after the faults stop a servable token must
// exist (w.mu held): the backoff cap of the latest token, clamp(L/10, 5 s,
// 60 s) (5 s before the first), plus 1 s for the answer. Stopping the faults
// cuts the faulty answers in progress, so an attempt in flight ends at once
// and the next starts within one backoff (≤ cap). Without an attempt in
// flight the next one is already scheduled: within the cap, unless the last
// failure carried a Retry-After, which the policy honours up to 60 s — the
// soak does not stop Retry-After early, it extends the bound to it.
func (w *soakWorld) recoveryBound() time.Duration {
	d := w.backoffCap()
	if !w.inAttempt && w.anyAttempt && !w.lastOK {
		d = max(d, w.lastRA+time.Second) // lastRA is the honoured wait less its slack
	}
	return d + time.Second
}

// backoffCap is clamp(L/10, 5 s, 60 s) for the latest token, 5 s before the
// first (design.md "Refresh policy"), written out here independently of
// schedule.go.
func (w *soakWorld) backoffCap() time.Duration {
	if w.tok == nil {
		return 5 * time.Second
	}
	return min(max(w.tok.lifetime/10, 5*time.Second), 60*time.Second)
}

// attemptStarted is called as the refresher asks the source for a JWT: the
// start of an attempt. It checks single-flight and that the attempt is not
// earlier than the policy allows.
//
// The policy's bound on exchanges, as a checkable inequality per gap between
// attempts (design.md "Refresh policy"; L the latest token's lifetime, s the
// instant its exchange was sent, A = min(L/2, 15 min), cap = clamp(L/10, 5 s,
// 60 s), 5 s before the first token). An attempt at t after the previous one
// ended at e must satisfy one of:
//
//   - after a success:  t ≥ s + L − A (≥ s + L/2: the earliest refresh point);
//   - after the n-th consecutive failure:
//     t ≥ min(e + max(0.8·min(2^(n−1) s, cap), R), edge − 1 s), with
//     R = 0.8·cap after a rejection (retried at the cap), and the Retry-After
//     (≤ 60 s) after one that carried it; the edge − 1 s term only while
//     e < edge − 1 s (one last try before the edge, once per token);
//   - t is the instant of an Invalidate of the current generation, and the
//     previous attempt so started was at least 30 s earlier;
//   - t is the instant of a RefreshNow (the admin API limits those to one
//     per 5 s; the soak's admin caller keeps to that).
//
// Summed over a token's period (from its grant to the next), this bounds the
// attempts: at most 1 (the refresh point) + its invalidations (⌈D/30 s⌉) +
// its RefreshNow calls + 1 (the edge) + the largest m with
// Σ_{i=1..m} 0.8·min(2^(i−1) s, cap) ≤ D, D the period's length;
// attemptEnded checks that sum too. No lifetime, fault or feedback can make
// the refresher exchange faster than that: no hot loop.
func (w *soakWorld) attemptStarted() {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if w.inAttempt {
		w.violate("an attempt started while another was in flight")
	}
	w.inAttempt = true
	w.attempts++
	w.periodAttempts++
	w.lastFault = attemptFault{}
	current := w.generation > 0 && w.invGen == w.generation
	if w.anyAttempt {
		if _, latest, why := w.window(); now.After(latest.Add(time.Millisecond)) {
			w.violate("attempt %v after the policy's latest (%s)", now.Sub(latest), why)
		}
	}
	switch {
	case !w.anyAttempt:
		w.anyAttempt = true
		if !now.Equal(w.runStart) {
			w.violate("the first attempt started %v after Run, want at once", now.Sub(w.runStart))
		}
	case now.Equal(w.manualAt):
		w.manualStarts++
		w.periodManual++
	case now.Equal(w.invAt) && current:
		if !w.lastInvAct.IsZero() && now.Sub(w.lastInvAct) < invalidateInterval {
			w.violate("invalidations started attempts %v apart, want at least 30 s", now.Sub(w.lastInvAct))
		}
		w.lastInvAct = now
		w.invActed++
		w.periodInv++
	default:
		if earliest, _, why := w.window(); now.Before(earliest.Add(-time.Millisecond)) {
			w.violate("attempt %v before the policy's earliest (%s)", earliest.Sub(now), why)
		}
	}
}

// window is the span in which the policy wants the next attempt (w.mu
// held): none that no Invalidate or RefreshNow started may come before
// earliest, and none may come after latest — then the refresher is late —
// with why naming the rule. See attemptStarted for the earliest; the latest
// is the same rule at the other end of its jitter: the refresh point at
// s + L − 0.8·A, or the backoff e + min(1.2·2^(n−1) s, cap) (the cap after a
// rejection, the Retry-After when longer), and in either case no later than
// edge − 1 s while e is before it: while the endpoint answers, a token is
// replaced before it lapses.
func (w *soakWorld) window() (earliest, latest time.Time, why string) {
	if w.lastOK {
		l := w.tok.lifetime
		a := min(l/2, 15*time.Minute)
		earliest, latest = w.tok.sent.Add(l-a), w.tok.sent.Add(l-a*8/10)
		why = fmt.Sprintf("refresh point of L=%v", l)
		if w.lastEnd.After(earliest) {
			// The answer may have come after the refresh point the
			// refresher drew: then it waits as after a failure, at most
			// the cap (and by edge − 1 s, below).
			latest = maxTime(latest, w.lastEnd.Add(w.backoffCap()))
			why += ", answered late"
		}
	} else {
		capD := w.backoffCap()
		base := min(time.Second<<min(w.failures-1, 30), capD)
		lo, hi := base*8/10, min(base*12/10, capD)
		why = fmt.Sprintf("backoff after failure %d, cap %v", w.failures, capD)
		if w.lastRejected {
			lo, hi = capD*8/10, capD
			why += ", rejected"
		}
		if w.lastRA > lo {
			lo, hi = w.lastRA, max(hi, w.lastRA+w.lastRASlack)
			why += fmt.Sprintf(", Retry-After %v", w.lastRA)
		}
		earliest, latest = w.lastEnd.Add(lo), w.lastEnd.Add(hi)
	}
	if w.tok != nil {
		if last := w.tok.edge.Add(-time.Second); w.lastEnd.Before(last) && latest.After(last) {
			earliest, latest = minTime(earliest, last), last
			why += ", edge − 1 s"
		}
	}
	return earliest, latest, why
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// attemptEnded is called as the attempt's source or exchanger returns. It
// checks the error's classification against the fault the wire chose, and
// on success records the token and checks the per-token inequality.
func (w *soakWorld) attemptEnded(err error, g Grant) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	w.inAttempt = false
	w.lastEnd = now
	pending := w.pendingTok
	w.pendingTok = nil
	if err != nil {
		w.lastOK = false
		w.failures++
		f := w.lastFault
		w.lastRejected = f.kind == faultRejected
		if Recoverable(err) == w.lastRejected {
			w.violate("a %s from the %s was classified recoverable=%v", f.kind, f.at, Recoverable(err))
		}
		w.lastRA, w.lastRASlack = 0, 0
		if f.kind == faultRetryAfter {
			got := min(retryAfterOf(err), maxRetryAfterWait)
			if got < f.retryAfter-f.retryAfterSlack || got > f.retryAfter {
				w.violate("Retry-After %v read as %v", f.retryAfter, got)
			}
			w.lastRA, w.lastRASlack = f.retryAfter-f.retryAfterSlack, f.retryAfterSlack
		}
		return
	}
	if pending == nil || g.AccessToken.Reveal() != pending.value || g.ExpiresIn != pending.lifetime {
		w.violate("the exchanger returned a grant the wire did not deliver")
		return
	}
	w.checkPeriod(now)
	w.generation++
	pending.generation = w.generation
	w.tok, w.tokAt = pending, now
	w.lastOK, w.failures, w.lastRejected, w.lastRA = true, 0, false, 0
	w.recent[pending.value] = pending
	for v, t := range w.recent {
		if t.generation+4 < w.generation {
			delete(w.recent, v)
		}
	}
	if !w.recoveringSince.IsZero() {
		w.recoveries++
		if d := now.Sub(w.recoveringSince); w.worstBound == 0 || w.recoveringBound-d < w.worstBound-w.worstRecovery {
			w.worstRecovery, w.worstBound = d, w.recoveringBound
		}
		w.recoveringSince = time.Time{}
	}
	select {
	case w.newToken <- struct{}{}:
	default:
	}
}

// checkPeriod checks the per-token inequality for the period that a success
// at now ends (w.mu held), and starts the next period.
func (w *soakWorld) checkPeriod(now time.Time) {
	start := w.runStart
	if w.tok != nil {
		start = w.tokAt
	}
	// retries is the largest m with Σ_{i=1..m} 0.8·min(2^(i−1) s, cap) ≤ D.
	capD, d := w.backoffCap(), now.Sub(start)
	retries := 0
	for spent := time.Duration(0); ; retries++ {
		if spent += min(time.Second<<min(retries, 30), capD) * 8 / 10; spent > d {
			break
		}
	}
	if bound := 1 + w.periodInv + w.periodManual + 1 + retries; w.periodAttempts > bound {
		w.violate("%d attempts for one token in %v, bound %d", w.periodAttempts, now.Sub(start), bound)
	}
	w.maxPeriodAttempts = max(w.maxPeriodAttempts, w.periodAttempts)
	w.periodAttempts, w.periodInv, w.periodManual = 0, 0, 0
}

// served judges a token the refresher served at now and returns its edge
// as the world knows it.
func (w *soakWorld) served(tok *Token, now time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	rec := w.recent[tok.Value.Reveal()]
	switch {
	case rec == nil:
		w.violate("served a token that was never granted or is four generations old")
		return time.Time{}
	case !tok.Edge.Equal(rec.edge) || tok.Generation != rec.generation:
		w.violate("token generation %d has edge %v and generation %d; the wire says %v and %d",
			tok.Generation, tok.Edge.Sub(w.runStart), tok.Generation, rec.edge.Sub(w.runStart), rec.generation)
	}
	return rec.edge
}

// denied judges a denial at now: wrong while the latest token is servable.
func (w *soakWorld) denied(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.tok != nil && now.Before(w.tok.edge) {
		w.violate("denied while generation %d is servable for %v more", w.tok.generation, w.tok.edge.Sub(now))
	}
}

// noteInvalidate records an Invalidate call just before it is made.
func (w *soakWorld) noteInvalidate(gen uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.invAt, w.invGen = time.Now(), gen
	if gen == w.generation && gen > 0 {
		w.invCurrent++
	} else {
		w.invStale++
	}
}

// noteManual records a RefreshNow call just before it is made.
func (w *soakWorld) noteManual() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.manualAt = time.Now()
	w.manualCalls++
}

// generationNow is the latest accepted token's generation, 0 before one.
func (w *soakWorld) generationNow() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.generation
}

// lifetimeNow is the latest token's lifetime, or 60 s before the first.
func (w *soakWorld) lifetimeNow() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.tok == nil {
		return time.Minute
	}
	return w.tok.lifetime
}

// soakSource and soakExchanger wrap the real GitHubActions source and
// AnthropicExchanger to tell the world where attempts begin and end.
type soakSource struct {
	inner IdentitySource
	w     *soakWorld
}

func (s soakSource) IdentityToken(ctx context.Context) (secret.Value, error) {
	s.w.attemptStarted()
	jwt, err := s.inner.IdentityToken(ctx)
	if err != nil {
		s.w.attemptEnded(err, Grant{})
	}
	return jwt, err
}

type soakExchanger struct {
	inner Exchanger
	w     *soakWorld
}

func (x soakExchanger) Exchange(ctx context.Context, assertion secret.Value) (Grant, error) {
	g, err := x.inner.Exchange(ctx, assertion)
	x.w.attemptEnded(err, g)
	return g, err
}
