package tokens

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Why an attempt started, for logs and spans.
const (
	triggerCold       = "cold"       // no token yet
	triggerSchedule   = "schedule"   // the refresh point of the current token
	triggerRetry      = "retry"      // after a failure
	triggerInvalidate = "invalidate" // Invalidate of the current generation
	triggerManual     = "manual"     // RefreshNow (an operator, through the admin API)
)

// attempt is one exchange in flight: identity JWT plus exchange, run in its
// own goroutine under the attempt's deadline. The loop waits for its result
// or its deadline, whichever comes first, so even a source that ignores its
// context (a hung file system) costs one attempt timeout and no more.
type attempt struct {
	ctx     context.Context
	cancel  context.CancelFunc
	span    trace.Span
	started time.Time
	number  int    // 1 for the first attempt of a streak
	trigger string // one of the trigger constants
	result  chan attemptResult
	waiters *refreshWait // RefreshNow's callers, if any; only the loop touches the pointer
}

// release hands the attempt's outcome to the RefreshNow callers waiting for
// it, if any.
func (a *attempt) release(s Status, err error) {
	if w := a.waiters; w != nil {
		w.status, w.err = s, err
		close(w.done)
	}
}

// attemptResult is what an attempt's goroutine reports.
type attemptResult struct {
	grant Grant
	sent  time.Time // when the exchange request was sent
	err   error
}

// startAttempt launches one attempt on parent (the refresher's own context),
// never on a caller's.
func (r *Refresher) startAttempt(parent context.Context, number int, trigger string) *attempt {
	ctx, cancel := context.WithTimeout(parent, r.timeout)
	ctx, span := r.tracer.Start(ctx, "tokens.refresh", trace.WithAttributes(
		attribute.String("extauthz.credential", r.name),
		attribute.String("extauthz.refresh.trigger", trigger),
		attribute.Int("extauthz.refresh.attempt", number),
	))
	a := &attempt{
		ctx: ctx, cancel: cancel, span: span, started: time.Now(),
		number: number, trigger: trigger,
		result: make(chan attemptResult, 1), // buffered: a late goroutine never blocks
	}
	go func() { a.result <- r.exchange(ctx, number, trigger) }()
	return a
}

// exchange fetches a fresh identity JWT and presents it once.
func (r *Refresher) exchange(ctx context.Context, number int, trigger string) attemptResult {
	jwt, err := r.source.IdentityToken(ctx)
	if err != nil {
		return attemptResult{err: err}
	}
	if r.log.Enabled(ctx, slog.LevelDebug) {
		attrs := []any{"attempt", number, "trigger", trigger, "assertion", jwt}
		if c, err := ReadClaims(jwt); err == nil {
			attrs = append(attrs, slog.Group("identity",
				"iss", c.Issuer, "sub", c.Subject, "jti", c.ID, "exp", c.Expiry))
		} else {
			attrs = append(attrs, "identity_claims_error", err.Error())
		}
		r.log.DebugContext(ctx, "token exchange attempt", attrs...)
	}
	sent := time.Now()
	grant, err := r.exchanger.Exchange(ctx, jwt)
	if st, ok := r.source.(spentTracker); ok && reachedEndpoint(err) {
		st.Spent(jwt)
	}
	if err == nil {
		err = checkGrant(grant)
	}
	return attemptResult{grant: grant, sent: sent, err: err}
}

// reachedEndpoint reports whether an exchange that ended with err was
// answered by the token endpoint, which has then seen (and spent) the JWT.
// A transport failure or timeout has not.
func reachedEndpoint(err error) bool {
	var xe *ExchangeError
	return err == nil || errors.As(err, &xe) || errors.Is(err, ErrMalformedResponse) || errors.Is(err, ErrResponseTooLarge)
}

// checkGrant guards against an Exchanger that returns a grant no token can
// be built from.
func checkGrant(g Grant) error {
	if g.AccessToken.IsZero() || g.ExpiresIn <= 0 {
		return fmt.Errorf("%w: exchanger returned an empty token or a non-positive lifetime", ErrMalformedResponse)
	}
	return nil
}

// endSpan records the outcome on the attempt's span and ends it.
func (a *attempt) endSpan(outcome Outcome, err error, generation uint64) {
	a.span.SetAttributes(attribute.String("extauthz.refresh.outcome", string(outcome)))
	if code := statusOf(err); code != 0 {
		a.span.SetAttributes(attribute.Int("http.response.status_code", code))
	}
	if err != nil {
		a.span.SetStatus(codes.Error, errText(err))
	} else {
		a.span.SetAttributes(attribute.Int64("extauthz.token.generation", int64(generation)))
	}
	a.span.End()
}

// errText is err's message with anything credential-shaped masked: the last
// line of defence for errors from sources this package did not write.
func errText(err error) string {
	return cleanText(err.Error(), 1024)
}
