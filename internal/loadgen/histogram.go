package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// subBucketBits sets the histogram's precision: every power-of-two range of
// values is split into 2^subBucketBits equal buckets, so a recorded value is
// known to within 1/2^(subBucketBits+1) of itself (0.4 %; 0.4 µs at 100 µs).
// Values below 2^subBucketBits ns are exact.
const subBucketBits = 7

const (
	subBuckets = 1 << subBucketBits
	// maxExponent covers values below 2^(maxExponent+subBucketBits+1) ns,
	// about 9 minutes; larger values are clamped into the last bucket.
	maxExponent = 31
	numBuckets  = (maxExponent + 2) * subBuckets
)

// Histogram records durations in log-linear buckets (like HdrHistogram). It
// has a fixed size, Record never allocates, and it is not safe for concurrent
// use: give every recording goroutine its own and Merge them afterwards.
type Histogram struct {
	counts   [numBuckets]uint64
	n        uint64
	sum      float64 // ns, for the mean
	min, max int64   // ns; valid when n > 0
}

// bucketOf is the bucket index of v ns (v ≥ 0).
func bucketOf(v int64) int {
	if v < subBuckets {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - subBucketBits - 1 // v >> e is in [subBuckets, 2·subBuckets)
	if e > maxExponent {
		return numBuckets - 1
	}
	return (e+1)*subBuckets + int(v>>e) - subBuckets
}

// bucketRange is the smallest value in bucket i and the bucket's width, in ns.
func bucketRange(i int) (lo, width int64) {
	if i < subBuckets {
		return int64(i), 1
	}
	e := i/subBuckets - 1
	return int64(i%subBuckets+subBuckets) << e, 1 << e
}

// Record adds one duration. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Merge adds every value recorded in o.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Reset forgets every value.
func (h *Histogram) Reset() { *h = Histogram{} }

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Min is the smallest recorded value, or 0 when empty.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Max is the largest recorded value, or 0 when empty.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean is the average recorded value, or 0 when empty.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile is the value at or below which a fraction q (0 < q ≤ 1) of the
// recorded values lie: the nearest-rank definition, reported as the middle of
// its bucket and clamped to [Min, Max]. It is 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, width := bucketRange(i)
			v := lo + (width-1)/2
			return time.Duration(min(max(v, h.min), h.max))
		}
	}
	return time.Duration(h.max) // unreachable: the counts add up to n
}
