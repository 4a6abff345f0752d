package logthrottle

import (
	"sync"
	"testing"
	"time"
)

func TestOneLinePerInterval(t *testing.T) {
	var th Throttle
	start := time.Unix(1_800_000_000, 0)
	if ok, n := th.Allow(start); !ok || n != 0 {
		t.Fatalf("first line: %v, %d", ok, n)
	}
	for i := range 5 {
		if ok, _ := th.Allow(start.Add(time.Duration(i) * 100 * time.Millisecond)); ok {
			t.Fatalf("a second line within the interval (%d)", i)
		}
	}
	if ok, n := th.Allow(start.Add(DefaultInterval)); !ok || n != 5 {
		t.Errorf("after the interval: %v, %d held back; want true, 5", ok, n)
	}
	custom := Throttle{Interval: time.Minute}
	custom.Allow(start)
	if ok, _ := custom.Allow(start.Add(59 * time.Second)); ok {
		t.Error("a custom interval is not honoured")
	}
}

// TestConcurrentCallersLoseNoCount: whatever the interleaving, every call
// is either the one line or counted.
func TestConcurrentCallersLoseNoCount(t *testing.T) {
	var th Throttle
	now := time.Unix(1_800_000_000, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	lines := 0
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if ok, _ := th.Allow(now); ok {
					mu.Lock()
					lines++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	_, held := th.Allow(now.Add(time.Hour))
	if lines != 1 || held != 8000-1 {
		t.Errorf("%d lines and %d held back for 8000 calls, want 1 and 7999", lines, held)
	}
}

func TestAllowAllocatesNothing(t *testing.T) {
	var th Throttle
	now := time.Now()
	if n := testing.AllocsPerRun(100, func() { th.Allow(now) }); n != 0 {
		t.Errorf("%v allocations per call", n)
	}
}
