//go:build !linux

package loadgen

import "time"

// timeTicker ticks with the runtime's timers: about 1 ms resolution when
// the process is otherwise idle, so fast schedules go out in bursts.
type timeTicker struct{ t *time.Ticker }

func newTicker(period time.Duration) (ticker, error) {
	return timeTicker{time.NewTicker(period)}, nil
}

func (t timeTicker) wait() error { <-t.t.C; return nil }
func (t timeTicker) close()      { t.t.Stop() }
