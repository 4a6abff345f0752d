package feedback

import (
	"sync/atomic"
	"time"
)

// throttle lets one log line per interval through and counts the ones it
// held back. It takes no lock; under contention a count may land in the next
// line, which is good enough for a log.
type throttle struct {
	interval   time.Duration
	next       atomic.Int64 // Unix nanoseconds before which lines are held back
	suppressed atomic.Int64
}

// allow reports whether a line may be written at now and, if so, how many
// were held back since the previous one.
func (t *throttle) allow(now time.Time) (ok bool, suppressed int64) {
	next := t.next.Load()
	if now.UnixNano() < next || !t.next.CompareAndSwap(next, now.Add(t.interval).UnixNano()) {
		t.suppressed.Add(1)
		return false, 0
	}
	return true, t.suppressed.Swap(0)
}
