package tokens

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of the refresh spans.
const tracerName = "extauthz/internal/tokens"

// defaultAttemptTimeout is the budget of one attempt: identity JWT and
// exchange together.
const defaultAttemptTimeout = 10 * time.Second

// RefresherOptions configures a Refresher.
type RefresherOptions struct {
	Name           string         // credential name for logs, spans and the admin API; default "default"
	Source         IdentitySource // required
	Exchanger      Exchanger      // required
	AttemptTimeout time.Duration  // default 10 s, covers identity JWT + exchange together
	Logger         *slog.Logger   // default slog.Default()
	Observer       Observer       // optional
	Rand           func() float64 // optional, uniform [0,1), for tests
	// TracerProvider supplies the span of each attempt; default the global
	// provider (a no-op unless the service configures one).
	TracerProvider trace.TracerProvider
}

// Refresher keeps one credential's access token fresh. Run owns every
// exchange in one goroutine (single-flight by construction) and publishes an
// immutable snapshot that Token and Status read with one atomic load.
type Refresher struct {
	name       string
	source     IdentitySource
	exchanger  Exchanger
	timeout    time.Duration
	log        *slog.Logger
	observer   Observer
	rand       func() float64
	tracer     trace.Tracer
	state      atomic.Pointer[snapshot]
	invalidate chan uint64
	manual     chan chan *refreshWait // RefreshNow's requests; the loop answers each at once
	running    atomic.Bool
	stopped    chan struct{} // closed when Run returns
}

// DefaultName is the name of a credential that is not given one: the single
// credential of a one-credential deployment is called "default" everywhere
// (logs, metrics, health, admin).
const DefaultName = "default"

// ErrAlreadyRunning is returned by a second call of Run.
var ErrAlreadyRunning = errors.New("token refresher is already running or has run")

// ErrNotRunning is returned by RefreshNow when Run has not started or has
// ended, and when Run ends before the attempt it waits for does.
var ErrNotRunning = errors.New("token refresher is not running")

// NewRefresher checks o and applies its defaults. Nothing happens until Run.
func NewRefresher(o RefresherOptions) (*Refresher, error) {
	var problems []error
	if o.Source == nil {
		problems = append(problems, errors.New("refresher: an identity source is required"))
	}
	if o.Exchanger == nil {
		problems = append(problems, errors.New("refresher: an exchanger is required"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	r := &Refresher{
		name:       o.Name,
		source:     o.Source,
		exchanger:  o.Exchanger,
		timeout:    o.AttemptTimeout,
		log:        o.Logger,
		observer:   o.Observer,
		rand:       o.Rand,
		invalidate: make(chan uint64, 1),
		manual:     make(chan chan *refreshWait),
		stopped:    make(chan struct{}),
	}
	if r.name == "" {
		r.name = DefaultName
	}
	if r.timeout <= 0 {
		r.timeout = defaultAttemptTimeout
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.log = r.log.With("credential", r.name)
	if r.rand == nil {
		r.rand = rand.Float64
	}
	tp := o.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	r.tracer = tp.Tracer(tracerName)
	r.state.Store(&snapshot{})
	return r, nil
}

// Token returns the servable token at now, or nil and a retry-after hint: the
// time until the next attempt, rounded up to whole seconds, at least 1 s and
// at most 60 s. One atomic load of an immutable snapshot: no lock, no
// allocation, never the network.
func (r *Refresher) Token(now time.Time) (*Token, time.Duration) {
	s := r.state.Load()
	if s.token.Servable(now) {
		return s.token, 0
	}
	return nil, retryHint(s.next, now)
}

// Status reports the refresher's state as of now.
func (r *Refresher) Status() Status {
	return r.state.Load().status(time.Now())
}

// Invalidate asks for a refresh now if generation is the current token's
// (rejection feedback). A stale generation is ignored; the refresher acts on
// at most one invalidation per 30 s and never while an attempt is under way;
// the current token is served until it is replaced. It never blocks.
func (r *Refresher) Invalidate(generation uint64) {
	if t := r.state.Load().token; t == nil || t.Generation != generation {
		return
	}
	select {
	case r.invalidate <- generation:
	default: // one request is already pending
	}
}

// RefreshNow starts an attempt now, or joins the one under way (a scheduled
// one, a retry, an invalidation's or another caller's), waits for it and
// returns the status after it with the attempt's error: nil on success, else
// an error whose text is the scrubbed Status.LastError and which unwraps to
// the cause (errors.Is and errors.As work as on the attempt's own error).
//
// ctx bounds only the wait, never the attempt: when ctx ends first RefreshNow
// returns the current status and ctx's error, and the attempt runs on under
// the refresher's own context and budget. It returns ErrNotRunning if Run has
// not started or has ended, or ends during the wait.
//
// RefreshNow keeps single-flight: it never starts an exchange while another
// is in flight. It does not rate-limit its callers — one that is exposed to
// operators or the network must (the admin API allows one call per 5 s per
// credential) — and it overrides the backoff of a failure streak, since an
// operator asking for a refresh usually has just fixed its cause.
func (r *Refresher) RefreshNow(ctx context.Context) (Status, error) {
	if !r.running.Load() {
		return r.Status(), ErrNotRunning
	}
	if err := ctx.Err(); err != nil {
		return r.Status(), err
	}
	reply := make(chan *refreshWait, 1)
	select {
	case r.manual <- reply:
	case <-r.stopped:
		return r.Status(), ErrNotRunning
	case <-ctx.Done():
		return r.Status(), ctx.Err()
	}
	w := <-reply // the loop answers as soon as it takes the request
	select {
	case <-w.done:
		return w.status, w.err
	case <-ctx.Done():
		return r.Status(), ctx.Err()
	}
}

// refreshWait is how RefreshNow's callers wait for one attempt: the loop
// fills status and err, then closes done.
type refreshWait struct {
	done   chan struct{}
	status Status
	err    error
}

// attemptError is an attempt's error as RefreshNow returns it: the scrubbed
// text of Status.LastError over the cause.
type attemptError struct {
	text  string
	cause error
}

func (e *attemptError) Error() string { return e.text }
func (e *attemptError) Unwrap() error { return e.cause }
