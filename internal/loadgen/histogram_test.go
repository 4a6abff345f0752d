package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsCoverValuesInOrder(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 257, 1000, 1 << 20, 1<<20 + 1, 1<<39 - 1} {
		i := bucketOf(v)
		if i < prev {
			t.Fatalf("bucketOf(%d) = %d, before the previous value's bucket %d", v, i, prev)
		}
		lo, width := bucketRange(i)
		if v < lo || v >= lo+width {
			t.Errorf("value %d in bucket %d = [%d, %d)", v, i, lo, lo+width)
		}
		prev = i
	}
	if got := bucketOf(1 << 62); got != numBuckets-1 {
		t.Errorf("a huge value lands in bucket %d, want the last (%d)", got, numBuckets-1)
	}
	if got := bucketOf(-5); got != 0 {
		t.Errorf("a negative value lands in bucket %d, want 0", got)
	}
}

func TestEveryBucketBoundaryIsContiguous(t *testing.T) {
	next := int64(0)
	for i := range numBuckets {
		lo, width := bucketRange(i)
		if lo != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, lo, next)
		}
		next = lo + width
	}
}

func TestQuantilesMatchSortedSamplesWithinBucketPrecision(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	samples := make([]time.Duration, 100_000)
	for i := range samples {
		// Log-uniform from 1 µs to 100 ms: the range a benchmark sees.
		d := time.Duration(float64(time.Microsecond) * math.Pow(10, r.Float64()*5))
		samples[i] = d
		h.Record(d)
	}
	slices.Sort(samples)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		want := samples[int(q*float64(len(samples)))-1]
		got := h.Quantile(q)
		if rel := float64(got-want) / float64(want); rel > 0.005 || rel < -0.005 {
			t.Errorf("Quantile(%v) = %v, exact %v (%.2f %% off)", q, got, want, rel*100)
		}
	}
	if h.Count() != uint64(len(samples)) || h.Min() != samples[0] || h.Max() != samples[len(samples)-1] {
		t.Errorf("count %d min %v max %v; want %d %v %v", h.Count(), h.Min(), h.Max(), len(samples), samples[0], samples[len(samples)-1])
	}
}

func TestSmallValuesAreExact(t *testing.T) {
	var h Histogram
	for v := range 100 {
		h.Record(time.Duration(v))
	}
	if got := h.Quantile(0.5); got != 49 {
		t.Errorf("median of 0..99 ns = %v, want 49ns", got)
	}
	if got := h.Quantile(0.99); got != 98 {
		t.Errorf("p99 of 0..99 ns = %v, want 98ns", got)
	}
}

func TestMergeAndReset(t *testing.T) {
	var a, b, empty Histogram
	a.Record(10 * time.Microsecond)
	b.Record(time.Microsecond)
	b.Record(time.Millisecond)
	a.Merge(&b)
	a.Merge(&empty)
	if a.Count() != 3 || a.Min() != time.Microsecond || a.Max() != time.Millisecond {
		t.Errorf("merged: count %d min %v max %v", a.Count(), a.Min(), a.Max())
	}
	if got, want := a.Mean(), (1011*time.Microsecond)/3; got != want {
		t.Errorf("mean %v, want %v", got, want)
	}
	a.Reset()
	if a.Count() != 0 || a.Quantile(0.5) != 0 || a.Mean() != 0 {
		t.Error("Reset left values behind")
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	var h Histogram
	if n := testing.AllocsPerRun(1000, func() { h.Record(123 * time.Microsecond) }); n != 0 {
		t.Errorf("Record allocates %v times", n)
	}
}
