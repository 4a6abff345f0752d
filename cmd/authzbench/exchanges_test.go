package main

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestMinGap(t *testing.T) {
	t0 := time.Unix(1000, 0)
	times := []time.Time{t0, t0.Add(11 * time.Second), t0.Add(21 * time.Second), t0.Add(33 * time.Second)}
	if got := minGap(times); got != 10*time.Second {
		t.Errorf("minGap = %v, want 10s", got)
	}
	if got := minGap(times[:1]); got != 0 {
		t.Errorf("minGap of one exchange = %v, want 0", got)
	}
}

func TestWatchExchangesTimestampsEachNewCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		n.Store(1)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		start := time.Now()
		w := watchExchanges(ctx, func() int { return int(n.Load()) }, 100*time.Millisecond)
		time.Sleep(10 * time.Second)
		n.Store(3) // two exchanges between polls
		time.Sleep(150 * time.Millisecond)
		synctest.Wait()
		got := w.snapshot()
		if len(got) != 3 {
			t.Fatalf("%d exchanges seen, want 3", len(got))
		}
		if !got[0].Equal(start) || got[1].Sub(start) < 10*time.Second || !got[1].Equal(got[2]) {
			t.Errorf("times %v from %v: want the first at start, the next two at the first poll after 10s", got, start)
		}
	})
}
