package callerauth

import (
	"sync"
	"time"
)

// throttleInterval is the most often one kind of line is logged: a scan or a
// misconfigured client fails every attempt, and the log should say so once
// a second with a count, not once an attempt.
const throttleInterval = time.Second

// throttle lets one log line per throttleInterval through and counts the
// ones it held back. It is used off the fast path only (rejections and
// failed handshakes), so a mutex is fine.
type throttle struct {
	mu   sync.Mutex
	next time.Time
	held int64
}

// allow reports whether a line may be written at now and, if so, how many
// were held back since the previous one.
func (t *throttle) allow(now time.Time) (ok bool, held int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Before(t.next) {
		t.held++
		return false, 0
	}
	t.next = now.Add(throttleInterval)
	held, t.held = t.held, 0
	return true, held
}
