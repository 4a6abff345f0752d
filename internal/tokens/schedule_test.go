package tokens

import (
	"testing"
	"time"
)

// uMax is the largest u the jitter sees: u is uniform in [0,1).
const uMax = 0.9999999

func TestSafetyMargin(t *testing.T) {
	for _, c := range []struct{ l, want time.Duration }{
		{10 * time.Second, time.Second},
		{60 * time.Second, 6 * time.Second},
		{300 * time.Second, 30 * time.Second},
		{600 * time.Second, 30 * time.Second},
		{time.Hour, 30 * time.Second},
	} {
		if got := safetyMargin(c.l); got != c.want {
			t.Errorf("safetyMargin(%v) = %v, want %v", c.l, got, c.want)
		}
	}
}

func TestRefreshDelayBounds(t *testing.T) {
	for _, c := range []struct {
		l        time.Duration
		min, max time.Duration // [L−A, L−0.8A)
	}{
		{10 * time.Second, 5 * time.Second, 6 * time.Second},
		{60 * time.Second, 30 * time.Second, 36 * time.Second},
		{600 * time.Second, 300 * time.Second, 360 * time.Second},
		{3600 * time.Second, 2700 * time.Second, 2880 * time.Second},
		{24 * time.Hour, 24*time.Hour - 15*time.Minute, 24*time.Hour - 12*time.Minute},
		{time.Second, 500 * time.Millisecond, 600 * time.Millisecond},
	} {
		for _, u := range []float64{0, 0.25, 0.5, 0.75, uMax} {
			d := refreshDelay(c.l, u)
			if d < c.min || d >= c.max {
				t.Errorf("refreshDelay(%v, %v) = %v, want in [%v, %v)", c.l, u, d, c.min, c.max)
			}
			if d < c.l/4 {
				t.Errorf("refreshDelay(%v, %v) = %v is below L/4", c.l, u, d)
			}
			if edge := c.l - safetyMargin(c.l); d >= edge {
				t.Errorf("refreshDelay(%v, %v) = %v is not before the edge %v", c.l, u, d, edge)
			}
		}
		if refreshDelay(c.l, 0) != c.min {
			t.Errorf("refreshDelay(%v, 0) = %v, want exactly %v", c.l, refreshDelay(c.l, 0), c.min)
		}
	}
}

func TestBackoffCap(t *testing.T) {
	for _, c := range []struct{ l, want time.Duration }{
		{0, 5 * time.Second}, // before the first token
		{10 * time.Second, 5 * time.Second},
		{60 * time.Second, 6 * time.Second},
		{300 * time.Second, 30 * time.Second},
		{600 * time.Second, 60 * time.Second},
		{time.Hour, 60 * time.Second},
	} {
		if got := backoffCap(c.l); got != c.want {
			t.Errorf("backoffCap(%v) = %v, want %v", c.l, got, c.want)
		}
	}
}

func TestBackoffDelayGrowthAndCap(t *testing.T) {
	const limit = 60 * time.Second
	want := []time.Duration{1, 2, 4, 8, 16, 32} // seconds, at u = 0.5 (no jitter)
	for i, w := range want {
		if got := backoffDelay(i+1, limit, 0.5); got != w*time.Second {
			t.Errorf("backoffDelay(%d, 60s, 0.5) = %v, want %v", i+1, got, w*time.Second)
		}
	}
	for n := 1; n <= 100; n++ {
		base := time.Duration(1<<min(n-1, 20)) * time.Second
		for _, u := range []float64{0, 0.5, uMax} {
			d := backoffDelay(n, limit, u)
			if d > limit || d <= 0 {
				t.Fatalf("backoffDelay(%d, %v, %v) = %v: outside (0, cap]", n, limit, u, d)
			}
			if base < limit && (d < base*8/10 || d > base*12/10) {
				t.Errorf("backoffDelay(%d, %v, %v) = %v: not within ±20%% of %v", n, limit, u, d, base)
			}
			if base >= limit && d <= limit*8/10 {
				t.Errorf("backoffDelay(%d, %v, %v) = %v: at the cap, want in (0.8·cap, cap]", n, limit, u, d)
			}
		}
	}
	// Jitter spreads the pause at the cap too.
	if backoffDelay(50, limit, 0) == backoffDelay(50, limit, uMax) {
		t.Error("no jitter at the cap")
	}
}

func TestHonourRetryAfter(t *testing.T) {
	for _, c := range []struct{ d, ra, want time.Duration }{
		{time.Second, 0, time.Second},
		{time.Second, 30 * time.Second, 30 * time.Second},
		{time.Second, 10 * time.Minute, 60 * time.Second},
		{40 * time.Second, 5 * time.Second, 40 * time.Second},
	} {
		if got := honourRetryAfter(c.d, c.ra); got != c.want {
			t.Errorf("honourRetryAfter(%v, %v) = %v, want %v", c.d, c.ra, got, c.want)
		}
	}
}

func TestClampToEdge(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	edge := t0.Add(100 * time.Second)
	for _, c := range []struct {
		name string
		now  time.Duration
		d    time.Duration
		edge time.Time
		want time.Duration
	}{
		{"no token", 0, time.Minute, time.Time{}, time.Minute},
		{"well before", 10 * time.Second, 5 * time.Second, edge, 5 * time.Second},
		{"crosses edge−1s", 90 * time.Second, 30 * time.Second, edge, 9 * time.Second},
		{"lands on edge−1s", 90 * time.Second, 9 * time.Second, edge, 9 * time.Second},
		{"at edge−1s", 99 * time.Second, 30 * time.Second, edge, 30 * time.Second},
		{"past the edge", 120 * time.Second, 30 * time.Second, edge, 30 * time.Second},
	} {
		if got := clampToEdge(t0.Add(c.now), c.d, c.edge); got != c.want {
			t.Errorf("%s: clampToEdge = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestLateRefreshDelay: a token answered after its refresh point is
// refreshed within the backoff cap and by its edge − 1 s, never a whole
// refresh delay later.
func TestLateRefreshDelay(t *testing.T) {
	sent := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name          string
		l, answeredAt time.Duration // lifetime; answer after sent
		delay, want   time.Duration
	}{
		// L = 12 s: edge at +10.8 s; answered at +7 s after a 6.5 s point.
		{"clamped to edge−1s", 12 * time.Second, 7 * time.Second, 6500 * time.Millisecond, 2800 * time.Millisecond},
		// L = 10 s answered at +9.5 s: already past its edge; the cap.
		{"past its edge", 10 * time.Second, 9500 * time.Millisecond, 5500 * time.Millisecond, 5 * time.Second},
		// L = 6 s (below the design's range), answered past edge − 1 s (+4.4 s):
		// the delay, under the cap.
		{"delay under the cap", 6 * time.Second, 4500 * time.Millisecond, 3300 * time.Millisecond, 3300 * time.Millisecond},
	} {
		l := c.l
		edge := sent.Add(l - safetyMargin(l))
		if got := lateRefreshDelay(sent.Add(c.answeredAt), c.delay, l, edge); got != c.want {
			t.Errorf("%s: lateRefreshDelay = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRetryHint(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct{ next, want time.Duration }{
		{-time.Hour, time.Second}, // attempt under way or overdue
		{0, time.Second},
		{300 * time.Millisecond, time.Second},
		{time.Second, time.Second},
		{1001 * time.Millisecond, 2 * time.Second},
		{2300 * time.Millisecond, 3 * time.Second},
		{59 * time.Second, 59 * time.Second},
		{59500 * time.Millisecond, 60 * time.Second},
		{10 * time.Minute, 60 * time.Second},
	} {
		if got := retryHint(now.Add(c.next), now); got != c.want {
			t.Errorf("retryHint(now%+v) = %v, want %v", c.next, got, c.want)
		}
	}
	if got := retryHint(time.Time{}, now); got != time.Second {
		t.Errorf("retryHint(zero) = %v, want 1s", got)
	}
}
