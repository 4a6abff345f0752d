package authz

import (
	"sync/atomic"
	"time"
)

// logInterval is the most often one kind of denial is logged: an outage or a
// host scan denies every request, and the log should say so once a second,
// not once a request.
const logInterval = time.Second

// logThrottle lets one line per logInterval through and counts the lines it
// held back. It takes no lock; under contention a count may land in the next
// line, which is good enough for a log.
type logThrottle struct {
	next       atomic.Int64 // Unix nanoseconds before which lines are held back
	suppressed atomic.Int64
}

// allow reports whether a line may be written at now and, if so, how many
// were held back since the previous one.
func (t *logThrottle) allow(now time.Time) (ok bool, suppressed int64) {
	next := t.next.Load()
	if now.UnixNano() < next || !t.next.CompareAndSwap(next, now.Add(logInterval).UnixNano()) {
		t.suppressed.Add(1)
		return false, 0
	}
	return true, t.suppressed.Swap(0)
}
