package feedback

import (
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"extauthz/internal/logthrottle"
)

// feedbackLogInterval is the most often a credential's 401 feedback is
// logged, the refresher's own limit on invalidations: a flood of 401 entries
// must not become a flood of log lines.
const feedbackLogInterval = 30 * time.Second

// credentialLogs holds one throttle per configured credential that has seen
// a 401, created on the first. Only names Credentials reported as known are
// added, so it is bounded by the configuration, never by the input. Reads
// take no lock and allocate nothing; an addition copies the map.
type credentialLogs struct {
	mu     sync.Mutex // serialises additions
	byName atomic.Pointer[map[string]*logthrottle.Throttle]
}

// get returns the throttle of the known credential name.
func (c *credentialLogs) get(name string) *logthrottle.Throttle {
	if m := c.byName.Load(); m != nil {
		if t, ok := (*m)[name]; ok {
			return t
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.byName.Load()
	if old != nil {
		if t, ok := (*old)[name]; ok {
			return t
		}
	}
	m := map[string]*logthrottle.Throttle{}
	if old != nil {
		m = maps.Clone(*old)
	}
	t := &logthrottle.Throttle{Interval: feedbackLogInterval}
	m[strings.Clone(name)] = t
	c.byName.Store(&m)
	return t
}
