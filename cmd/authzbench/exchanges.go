package main

import (
	"context"
	"sync"
	"time"
)

// exchangeWatch records when the emulator minted each access token, by
// polling its counters: the timeline of extauthz's exchanges as the token
// endpoint saw them.
type exchangeWatch struct {
	mu    sync.Mutex
	times []time.Time
	seen  int
}

// watchExchanges polls count every interval until ctx ends.
func watchExchanges(ctx context.Context, count func() int, every time.Duration) *exchangeWatch {
	w := &exchangeWatch{}
	w.poll(count)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.poll(count)
			}
		}
	}()
	return w
}

func (w *exchangeWatch) poll(count func() int) {
	n := count()
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for ; w.seen < n; w.seen++ {
		w.times = append(w.times, now)
	}
}

// snapshot is the time of every exchange seen so far.
func (w *exchangeWatch) snapshot() []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Time(nil), w.times...)
}

// minGap is the shortest time between consecutive exchanges, or 0 with
// fewer than two.
func minGap(times []time.Time) time.Duration {
	var gap time.Duration
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); i == 1 || d < gap {
			gap = d
		}
	}
	return gap
}

// exchangeSummary is what the report says about token exchanges.
type exchangeSummary struct {
	lifetime time.Duration
	// extauthz's own counter at the end: successes and all attempts.
	success, attempts int
	// minted is how many tokens the emulator issued.
	minted int
	// span runs from the first exchange to the end of the session.
	span time.Duration
	// gap is the shortest time between two exchanges (0 with fewer than 2).
	gap time.Duration
	// checks is how many Checks the WIF server answered in measured windows.
	checks uint64
}
