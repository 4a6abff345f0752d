package tokens

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"extauthz/internal/secret"
)

var (
	soakSeed      = flag.Uint64("soak.seed", 0, "TestSoak's seed; 0 picks one and prints it")
	soakRefreshes = flag.Int("soak.refreshes", 10000, "TestSoak runs until the refresher has accepted this many tokens")
)

// The soak's cast besides the refresher.
const (
	soakCallers    = 32               // goroutines calling Token(now), as Check does
	feedbackMean   = 10 * time.Minute // mean gap between upstream-401 reports
	adminMean      = 30 * time.Minute // mean gap between RefreshNow calls (never under 5 s)
	adminRateLimit = 5 * time.Second  // the admin API's limit per credential
)

// TestSoak runs the refresher for months of simulated time (testing/synctest)
// against the real GitHubActions source and AnthropicExchanger over an
// in-memory wire that fails in every way the two services can: 5xx, 401/403
// and 400, hangs to the attempt budget, malformed bodies, Retry-After,
// dropped connections and slow answers — in phases, from calm through flaky
// to total outage, with random lifetimes from 10 s to 1 h. Meanwhile 32
// goroutines call Token(now) as Check does, a watcher probes every token at
// its exact edge, a feedback goroutine reports upstream 401s with current,
// stale and bogus generations (in bursts too), and an admin goroutine calls
// RefreshNow. soakWorld judges every step against its own records (see
// attemptStarted for the bound on exchanges, recoveryBound for recovery:
// ending a fault phase cuts the faulty answers in progress, but a
// Retry-After already received still holds, up to 60 s, as the policy says).
// Reproduce a failure with -soak.seed (and -soak.refreshes to shorten it);
// events at the same virtual instant may still interleave differently, which
// the seed cannot fix.
func TestSoak(t *testing.T) {
	seed := *soakSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	target := *soakRefreshes
	if testing.Short() {
		target = min(target, 1000)
	}
	t.Logf("seed %d (rerun: go test -run TestSoak ./internal/tokens/ -soak.seed=%d)", seed, seed)
	began := time.Now()
	synctest.Test(t, func(t *testing.T) { runSoak(t, seed, target) })
	t.Logf("wall time %v", time.Since(began).Round(time.Millisecond))
}

func runSoak(t *testing.T, seed uint64, target int) {
	stream := func(n uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, n)) }
	before := bubbleGoroutines() // synctest's and this one
	w := newSoakWorld(t)
	client := &http.Client{Transport: &soakWire{w: w, rng: stream(1)}}
	gh, err := NewGitHubActions(soakMintURL, secret.New(testRequestToken), soakAudience, client)
	if err != nil {
		t.Fatal(err)
	}
	var mintMu sync.Mutex
	mintRng := stream(2)
	gh.retryWait = func(n int) time.Duration {
		mintMu.Lock()
		defer mintMu.Unlock()
		return time.Duration(float64(mintRetryBase<<n) * (0.5 + mintRng.Float64()))
	}
	ex, err := NewAnthropicExchanger(AnthropicConfig{
		TokenURL: soakTokenURL, FederationRuleID: "fdrl_soak",
		OrganizationID: "00000000-0000-4000-8000-000000000000", ServiceAccountID: "svac_soak",
	}, client)
	if err != nil {
		t.Fatal(err)
	}
	logs := &soakLog{}
	obs := &soakObserver{}
	r, err := NewRefresher(RefresherOptions{
		Source: soakSource{gh, w}, Exchanger: soakExchanger{ex, w},
		Logger: slog.New(slog.NewJSONHandler(logs, nil)), Observer: obs, Rand: stream(3).Float64,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- r.Run(ctx) }()

	stop := make(chan struct{})
	var availableFrom atomic.Int64 // UnixNano from which Token must not deny
	availableFrom.Store(math.MaxInt64)
	var wg sync.WaitGroup
	callers := make([]callerCounts, soakCallers)
	for i := range callers {
		wg.Go(func() { soakCaller(r, w, stream(100+uint64(i)), stop, &availableFrom, &callers[i]) })
	}
	var edgeProbes, adminOK, adminFailed, adminTimedOut atomic.Int64
	wg.Go(func() { soakEdgeWatcher(r, w, obs, stop, &edgeProbes) })
	wg.Go(func() { soakFeedback(r, w, stream(4), stop) })
	wg.Go(func() { soakAdmin(r, w, stream(5), stop, &adminOK, &adminFailed, &adminTimedOut) })

	// The phases: faults for 0.2–4 lifetimes, then calm for 1–3 lifetimes
	// (at least the recovery bound), until target tokens were granted.
	rng := stream(6)
	var marks []soakMark
	phases := map[string]int{}
	for w.generationNow() < uint64(target) {
		l := w.lifetimeNow()
		reg := soakRegime(rng)
		phases[reg.name]++
		availableFrom.Store(math.MaxInt64)
		w.setRegime(reg)
		soakSleep(max(2*time.Second, scale(l, 0.2+3.8*rng.Float64())), stop)

		stopped := time.Now()
		bound := w.setRegime(calmRegime())
		availableFrom.Store(stopped.Add(bound).UnixNano())
		time.Sleep(bound)
		if tok, _ := r.Token(time.Now()); tok == nil {
			w.mu.Lock()
			w.violate("no servable token %v after the faults stopped (%s phase)", bound, reg.name)
			w.mu.Unlock()
		}
		time.Sleep(max(0, scale(l, 1+2*rng.Float64())-bound))

		if n := int(w.generationNow()); len(marks) < 10 && n >= (len(marks)+1)*target/10 {
			marks = append(marks, soakCheckpoint(n))
		}
	}
	close(stop)
	wg.Wait()
	cancel()
	if err := <-runDone; err != nil {
		t.Errorf("Run = %v", err)
	}
	if _, err := r.RefreshNow(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Errorf("RefreshNow after Run = %v, want ErrNotRunning", err)
	}

	// No goroutine growth: at every checkpoint the bubble held the same
	// cast — synctest's and this goroutine, Run, the callers, watcher,
	// feedback and admin — plus at most the attempt in flight.
	cast := before + 1 + soakCallers + 3
	for i, m := range marks {
		if m.goroutines < cast || m.goroutines > cast+1 {
			t.Errorf("checkpoint %d: %d goroutines in the bubble, want %d or %d", i+1, m.goroutines, cast, cast+1)
		}
	}
	// No memory growth: the live heap after a GC at the last checkpoint is
	// within 1 MiB of the second's (8,000 refreshes apart: under 130 bytes
	// retained per refresh, where a leaked token, snapshot or timer would
	// cost more), and the world's own records stay at a handful of tokens.
	if len(marks) == 10 {
		if grew := int64(marks[9].heap) - int64(marks[1].heap); grew > 1<<20 {
			t.Errorf("live heap grew %d KiB from checkpoint 2 to 10", grew>>10)
		}
	}
	if n := len(w.recent); n > 5 {
		t.Errorf("the world keeps %d tokens, want at most 5", n)
	}
	soakReport(t, w, obs, logs, callers, phases, marks, edgeProbes.Load(),
		[3]int64{adminOK.Load(), adminFailed.Load(), adminTimedOut.Load()})
}

// scale is l·f.
func scale(l time.Duration, f float64) time.Duration { return time.Duration(float64(l) * f) }

// soakRegime draws a faulty phase: a third are total outages of one kind,
// the rest flaky, each request failing with probability 0.1–0.8 in any way.
func soakRegime(rng *rand.Rand) *regime {
	all := []faultKind{fault5xx, faultRejected, faultHang, faultMalformed, faultRetryAfter, faultSlow, faultReset}
	reg := calmRegime()
	if rng.IntN(3) == 0 {
		k := all[rng.IntN(len(all))]
		reg.name, reg.p, reg.kinds = "outage:"+k.String(), 1, []faultKind{k}
		return reg
	}
	reg.name, reg.p, reg.kinds = "flaky", 0.1+0.7*rng.Float64(), all
	return reg
}

// soakSleep sleeps d or until stop; false if stopped.
func soakSleep(d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-stop:
		return false
	case <-t.C:
		return true
	}
}

// callerCounts is one Check caller's tally.
type callerCounts struct{ served, denied int64 }

// soakCaller calls Token(now) at random instants, about ten times per
// token lifetime, and judges each answer: a served token must be one the
// wire granted, before its edge as the wire computes it; a denial must come
// with a retry hint in [1 s, 60 s], never while the latest token is
// servable, and never in a calm phase once the recovery bound has passed.
func soakCaller(r *Refresher, w *soakWorld, rng *rand.Rand, stop <-chan struct{}, availableFrom *atomic.Int64, c *callerCounts) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last *Token
	var lastEdge time.Time
	pace := time.Second
	for {
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		now := time.Now()
		tok, hint := r.Token(now)
		if tok != nil {
			c.served++
			if tok != last {
				last, lastEdge = tok, w.served(tok, now)
				pace = min(max(tok.Lifetime()/10, 50*time.Millisecond), time.Minute)
			}
			if !now.Before(lastEdge) {
				w.mu.Lock()
				w.violate("served generation %d %v past its edge", tok.Generation, now.Sub(lastEdge))
				w.mu.Unlock()
			}
		} else {
			c.denied++
			w.denied(now)
			if hint < time.Second || hint > time.Minute || now.UnixNano() >= availableFrom.Load() {
				w.mu.Lock()
				w.violate("denied with hint %v (calm phase past its recovery bound: %v)", hint, now.UnixNano() >= availableFrom.Load())
				w.mu.Unlock()
			}
		}
		timer.Reset(1 + time.Duration(rng.Int64N(int64(2*pace))))
	}
}

// soakEdgeWatcher probes each token at the exact instant of its edge: it
// must not be served then, and the observer (health, metrics) must have
// heard so a millisecond later.
func soakEdgeWatcher(r *Refresher, w *soakWorld, obs *soakObserver, stop <-chan struct{}, probes *atomic.Int64) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	// await waits d and says what ended the wait: "time", "token" (a new
	// one was granted first) or "stop".
	await := func(d time.Duration) string {
		timer.Reset(d)
		select {
		case <-stop:
			return "stop"
		case <-w.newToken:
			return "token"
		case <-timer.C:
			return "time"
		}
	}
	for {
		tok := r.Status().Token
		wait := time.Duration(math.MaxInt64)
		if tok != nil && time.Now().Before(tok.Edge) {
			wait = time.Until(tok.Edge)
		}
		switch await(wait) {
		case "stop":
			return
		case "token":
			continue
		}
		probes.Add(1)
		if got, _ := r.Token(time.Now()); got == tok {
			w.mu.Lock()
			w.violate("generation %d served at its edge", tok.Generation)
			w.mu.Unlock()
		}
		// Health follows within a millisecond: the last status the
		// observer heard says not ready, unless a newer token came.
		switch await(time.Millisecond) {
		case "stop":
			return
		case "token":
			continue
		}
		if last := obs.last(); last.Token == tok && last.Ready {
			w.mu.Lock()
			w.violate("the observer still hears ready 1 ms past generation %d's edge", tok.Generation)
			w.mu.Unlock()
		}
	}
}

// soakFeedback reports upstream 401s as the access-log server would: 60 %
// for the current generation, 30 % stale, 10 % bogus (never issued), now and
// then in a burst of up to 20 within seconds.
func soakFeedback(r *Refresher, w *soakWorld, rng *rand.Rand, stop <-chan struct{}) {
	burst := 0
	for {
		gap := time.Duration(rng.ExpFloat64() * float64(feedbackMean))
		if burst > 0 {
			burst--
			gap = time.Duration(rng.Int64N(int64(2 * time.Second)))
		} else if rng.IntN(10) == 0 {
			burst = 5 + rng.IntN(16)
		}
		if !soakSleep(gap, stop) {
			return
		}
		gen := w.generationNow()
		switch u := rng.Float64(); {
		case u < 0.3 && gen > 3:
			gen -= 1 + uint64(rng.IntN(3))
		case u >= 0.9:
			gen += 1 + uint64(rng.IntN(5))
		}
		w.noteInvalidate(gen)
		r.Invalidate(gen)
	}
}

// soakAdmin calls RefreshNow as the admin API would, at most once per 5 s,
// some calls with a deadline shorter than an attempt, and checks what comes
// back.
func soakAdmin(r *Refresher, w *soakWorld, rng *rand.Rand, stop <-chan struct{}, ok, failed, timedOut *atomic.Int64) {
	for {
		if !soakSleep(adminRateLimit+time.Duration(rng.ExpFloat64()*float64(adminMean)), stop) {
			return
		}
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if rng.IntN(3) == 0 {
			ctx, cancel = context.WithTimeout(ctx, time.Second+time.Duration(rng.Int64N(int64(11*time.Second))))
		}
		before := w.generationNow()
		w.noteManual()
		s, err := r.RefreshNow(ctx)
		cancel()
		w.mu.Lock()
		switch {
		case err == nil:
			ok.Add(1)
			if s.Token == nil || s.Token.Generation <= before || s.LastError != "" || s.ConsecutiveFailures != 0 {
				w.violate("RefreshNow succeeded with status gen %v, failures %d, error %q (before: gen %d)",
					s.Token.LogValue(), s.ConsecutiveFailures, s.LastError, before)
			}
		case errors.Is(err, context.DeadlineExceeded):
			timedOut.Add(1)
		case errors.Is(err, ErrNotRunning):
			w.violate("RefreshNow = ErrNotRunning while Run runs")
		default:
			failed.Add(1)
			if err.Error() != s.LastError || s.ConsecutiveFailures < 1 || errors.Unwrap(err) == nil {
				w.violate("RefreshNow failed with status failures %d, LastError ≠ error text: %v", s.ConsecutiveFailures, err.Error() != s.LastError)
			}
			if secretIn(err.Error()) {
				w.violate("RefreshNow's error carries a test secret")
			}
		}
		w.mu.Unlock()
	}
}

// secretIn reports whether text holds a known test secret marker.
func secretIn(text string) bool {
	for _, f := range forbidden {
		if strings.Contains(text, f) {
			return true
		}
	}
	return false
}

// soakMark is one checkpoint: goroutines in the bubble and the live heap.
type soakMark struct {
	tokens     int
	goroutines int
	heap       uint64
}

// soakCheckpoint waits until every goroutine of the bubble is blocked, then
// counts them and measures the live heap after a GC. The heap is the
// process's, shared with anything else running; the soak runs alone.
func soakCheckpoint(tokens int) soakMark {
	synctest.Wait()
	n := bubbleGoroutines()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return soakMark{tokens: tokens, goroutines: n, heap: ms.HeapAlloc}
}

// bubbleGoroutines counts the goroutines of the caller's synctest bubble
// (synctest's own included), from the goroutine dump, whose headers name
// each goroutine's bubble.
func bubbleGoroutines() int {
	buf := make([]byte, 256<<10)
	own := buf[:runtime.Stack(buf, false)]
	i := bytes.Index(own, []byte(", synctest bubble "))
	if i < 0 {
		panic("bubbleGoroutines called outside a bubble")
	}
	bubble := append([]byte(nil), own[i:i+bytes.IndexByte(own[i:], ']')+1]...)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Count(buf[:n], bubble)
		}
		buf = make([]byte, 2*len(buf))
	}
}

// soakLog is the refresher's log sink: it counts lines by level and checks
// each for test secrets, keeping nothing.
type soakLog struct {
	mu                         sync.Mutex
	lines, warns, errs, leaked int
}

func (l *soakLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines++
	switch {
	case bytes.Contains(p, []byte(`"level":"WARN"`)):
		l.warns++
	case bytes.Contains(p, []byte(`"level":"ERROR"`)):
		l.errs++
	}
	if secretIn(string(p)) {
		l.leaked++
	}
	return len(p), nil
}

// soakObserver counts outcomes and status reports, and keeps the latest.
type soakObserver struct {
	mu       sync.Mutex
	outcomes map[Outcome]int
	statuses int
	latest   Status
}

func (o *soakObserver) last() Status {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.latest
}

func (o *soakObserver) ExchangeFinished(outcome Outcome, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.outcomes == nil {
		o.outcomes = map[Outcome]int{}
	}
	o.outcomes[outcome]++
}

func (o *soakObserver) StatusChanged(s Status) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.statuses++
	o.latest = s
}

// soakReport prints the counts and fails on leaks.
func soakReport(t *testing.T, w *soakWorld, obs *soakObserver, logs *soakLog, callers []callerCounts,
	phases map[string]int, marks []soakMark, edgeProbes int64, admin [3]int64) {
	var served, denied int64
	for _, c := range callers {
		served += c.served
		denied += c.denied
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if logs.leaked > 0 {
		t.Errorf("%d log lines carry a test secret", logs.leaked)
	}
	var faults strings.Builder
	for at := range w.faults {
		fmt.Fprintf(&faults, "%s:", endpoint(at))
		for k := faultKind(1); k < numFaultKinds; k++ {
			fmt.Fprintf(&faults, " %s %d", k, w.faults[at][k])
		}
		fmt.Fprintf(&faults, " (of %d); ", w.faults[at][faultNone]+sum(w.faults[at][1:]))
	}
	var heaps, gors []string
	for _, m := range marks {
		heaps = append(heaps, fmt.Sprintf("%d", m.heap>>10))
		gors = append(gors, fmt.Sprintf("%d", m.goroutines))
	}
	t.Logf("simulated %v; %d tokens granted and accepted (refreshes), %d attempts; outcomes %v; %d status reports",
		time.Since(w.runStart).Round(time.Second), w.generation, w.attempts, obs.outcomes, obs.statuses)
	t.Logf("faults %s%d faulty answers cut when their phase ended; phases %v", faults.String(), w.cuts, phases)
	t.Logf("Token(now): %d served, %d denied (Token()==nil); %d exact-edge probes; %d recoveries after faults, the closest to its bound in %v (bound %v)",
		served, denied, edgeProbes, w.recoveries, w.worstRecovery, w.worstBound)
	t.Logf("invalidations: %d current, %d stale or bogus; %d acted on, %d ignored; RefreshNow: %d calls, %d started an attempt, %d ok, %d failed, %d gave up waiting",
		w.invCurrent, w.invStale, w.invActed, w.invCurrent+w.invStale-w.invActed, w.manualCalls, w.manualStarts, admin[0], admin[1], admin[2])
	t.Logf("most attempts for one token: %d; logs: %d lines, %d WARN, %d ERROR; checkpoints: goroutines %v, live heap KiB %v; %d violations",
		w.maxPeriodAttempts, logs.lines, logs.warns, logs.errs, strings.Join(gors, " "), strings.Join(heaps, " "), w.violations)
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
