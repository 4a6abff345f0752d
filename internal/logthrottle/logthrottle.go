// Package logthrottle rate-limits log lines of one kind: an outage, a scan
// or a misbehaving client repeats the same event on every request, and the
// log should say so once in a while, with a count, not once a request.
package logthrottle

import (
	"sync/atomic"
	"time"
)

// DefaultInterval is a Throttle's interval when Interval is zero.
const DefaultInterval = time.Second

// Throttle lets one line per Interval through and counts the lines it held
// back. The zero value is ready to use. It takes no lock and allocates
// nothing, so it may sit on a request's fast path; under contention a count
// may land in the next line, which is good enough for a log.
type Throttle struct {
	// Interval is the least time between two lines; zero means
	// DefaultInterval. Set it before first use.
	Interval   time.Duration
	next       atomic.Int64 // Unix nanoseconds before which lines are held back
	suppressed atomic.Int64
}

// Allow reports whether a line may be written at now and, if so, how many
// were held back since the previous one.
func (t *Throttle) Allow(now time.Time) (ok bool, suppressed int64) {
	interval := t.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	next := t.next.Load()
	if now.UnixNano() < next || !t.next.CompareAndSwap(next, now.Add(interval).UnixNano()) {
		t.suppressed.Add(1)
		return false, 0
	}
	return true, t.suppressed.Swap(0)
}
