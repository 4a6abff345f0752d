package main

import (
	"math"
	"slices"
	"testing"
	"time"

	"extauthz/internal/loadgen"
)

func TestSpreadOf(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want spread
	}{
		{[]float64{3, 1, 2}, spread{2, 1, 3}},
		{[]float64{4, 1, 3, 2}, spread{2.5, 1, 4}},
		{[]float64{7}, spread{7, 7, 7}},
		{[]float64{5, math.NaN(), 1}, spread{3, 1, 5}}, // a run without the metric is left out
	} {
		in := slices.Clone(c.in)
		if got := spreadOf(c.in); got != c.want {
			t.Errorf("spreadOf(%v) = %+v, want %+v", c.in, got, c.want)
		}
		if !slices.EqualFunc(in, c.in, func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }) {
			t.Errorf("spreadOf reordered its input: %v", c.in)
		}
	}
	for _, xs := range [][]float64{nil, {math.NaN()}} {
		if s := spreadOf(xs); !math.IsNaN(s.med) || !math.IsNaN(s.lo) || !math.IsNaN(s.hi) {
			t.Errorf("spreadOf(%v) = %+v, want NaNs", xs, s)
		}
	}
}

func TestRatio(t *testing.T) {
	if got := ratio(3, 2); got != 1.5 {
		t.Errorf("ratio(3,2) = %v", got)
	}
	for _, r := range []float64{ratio(1, 0), ratio(math.NaN(), 1), ratio(1, math.NaN())} {
		if !math.IsNaN(r) {
			t.Errorf("ratio with a missing side = %v, want NaN", r)
		}
	}
}

func TestRoundOrderRotates(t *testing.T) {
	servers := []string{"a", "b", "c"}
	first := map[string]int{}
	for r := range 3 {
		order := roundOrder(servers, r)
		sorted := slices.Sorted(slices.Values(order))
		if !slices.Equal(sorted, servers) {
			t.Fatalf("round %d order %v is not a permutation", r, order)
		}
		first[order[0]]++
	}
	if len(first) != 3 {
		t.Errorf("over three rounds the first positions were %v; want every server once", first)
	}
	if got := roundOrder(servers, 0); !slices.Equal(got, servers) {
		t.Errorf("round 0 = %v, want the given order", got)
	}
}

func TestGeneratorShare(t *testing.T) {
	// Pinned to one CPU: 0.4 s of CPU in a 1 s window is 40 %.
	if got := generatorShare(400*time.Millisecond, 900*time.Millisecond, time.Second, true, 1, 2); math.Abs(got-0.4) > 1e-9 {
		t.Errorf("pinned share = %v, want 0.4", got)
	}
	// Unpinned on 2 CPUs, the server used 1.2 s of 2 s: 0.4 of 0.8 s left is 50 %.
	if got := generatorShare(400*time.Millisecond, 1200*time.Millisecond, time.Second, false, 1, 2); math.Abs(got-0.5) > 1e-9 {
		t.Errorf("unpinned share = %v, want 0.5", got)
	}
	if got := generatorShare(time.Millisecond, 3*time.Second, time.Second, false, 1, 2); !math.IsInf(got, 1) {
		t.Errorf("no budget left = %v, want +Inf", got)
	}
}

func TestServerCPUPerRequest(t *testing.T) {
	r := runResult{serverCPU: time.Second, res: loadgen.Result{Requests: 49_999, Errors: 1}}
	if got := r.serverCPUPerRequest(); got != 20*time.Microsecond {
		t.Errorf("server CPU per request = %v, want 20µs", got)
	}
	if got := (runResult{serverCPU: time.Second}).serverCPUPerRequest(); got != 0 {
		t.Errorf("with no requests = %v, want 0", got)
	}
}

func TestExpectedExchanges(t *testing.T) {
	// 120 s with 20 s tokens: one every 10–12 s after the first.
	if lo, hi := expectedExchanges(120*time.Second, 20*time.Second); lo != 11 || hi != 13 {
		t.Errorf("expectedExchanges(120s, 20s) = %d–%d, want 11–13", lo, hi)
	}
	if lo, hi := expectedExchanges(5*time.Second, 20*time.Second); lo != 1 || hi != 1 {
		t.Errorf("a span shorter than a refresh = %d–%d, want 1–1", lo, hi)
	}
}

func TestForeignShare(t *testing.T) {
	// Two CPUs for 1 s: 1.5 s busy, of which the server used 0.9 s and the
	// generator 0.4 s, leaves 0.2 s of 2 s to others.
	if got := foreignShare(1500*time.Millisecond, 900*time.Millisecond, 400*time.Millisecond, time.Second, 2); math.Abs(got-0.1) > 1e-9 {
		t.Errorf("foreignShare = %v, want 0.1", got)
	}
	if got := foreignShare(time.Second, 900*time.Millisecond, 400*time.Millisecond, time.Second, 2); got != 0 {
		t.Errorf("tick rounding below zero gives %v, want 0", got)
	}
	if got := foreignShare(time.Second, 0, 0, 0, 2); got != 0 {
		t.Errorf("empty window gives %v", got)
	}
}
