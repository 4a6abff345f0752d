package tokens

import "time"

// Outcome classifies one exchange attempt for metrics and traces.
type Outcome string

// The outcomes of an attempt.
const (
	OutcomeSuccess  Outcome = "success"
	OutcomeError    Outcome = "error"    // recoverable failure
	OutcomeRejected Outcome = "rejected" // non-recoverable: 400/401/403 from the token endpoint or identity provider
	OutcomeTimeout  Outcome = "timeout"  // the 10 s attempt budget ran out
)

// Status is a Refresher's state for health checks and metrics.
type Status struct {
	Ready               bool      // a servable token exists now
	Token               *Token    // latest token, possibly past its edge; nil before the first
	ConsecutiveFailures int       // failed attempts since the last success
	NextAttempt         time.Time // when the next exchange attempt is scheduled; zero once stopped
	Rejected            bool      // the last failure was non-recoverable
	// LastError is the scrubbed text of the latest failure since the last
	// success (the same text the logs carry); "" after a success.
	LastError string
}

// Observer receives a Refresher's events. Both methods are called from the
// refresher goroutine and must not block.
type Observer interface {
	// ExchangeFinished is called once per attempt that finished before
	// shutdown, with its outcome and duration.
	ExchangeFinished(outcome Outcome, elapsed time.Duration)
	// StatusChanged is called on every change: start, new token, failure,
	// edge passed, stop.
	StatusChanged(s Status)
}

// snapshot is what the refresher publishes; immutable once stored.
type snapshot struct {
	token    *Token
	next     time.Time
	failures int
	rejected bool
	lastErr  string
}

// status renders s as seen at now.
func (s *snapshot) status(now time.Time) Status {
	return Status{
		Ready:               s.token.Servable(now),
		Token:               s.token,
		ConsecutiveFailures: s.failures,
		NextAttempt:         s.next,
		Rejected:            s.rejected,
		LastError:           s.lastErr,
	}
}
