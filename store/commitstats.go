package store

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// commitHist counts commit durations in buckets a quarter octave wide
// (≤ 19 % apart), so Stats can give the commit-time tail without keeping
// every duration: the 202 tail is mostly time spent waiting for commits.
type commitHist struct {
	buckets  [commitBuckets]atomic.Int64
	max      atomic.Int64 // nanoseconds
	maxBatch atomic.Int64 // writes in the largest commit
}

// commitBuckets covers 1 µs to about 2^31 µs (35 min), four per octave.
const commitBuckets = 4 * 32

// commitBucket is d's bucket: 4·⌊log2 µs⌋ plus the two bits below the top one.
func commitBucket(d time.Duration) int {
	us := uint64(max(d, 0) / time.Microsecond)
	if us < 1 {
		return 0
	}
	top := bits.Len64(us) - 1 // ⌊log2 us⌋
	var frac uint64
	if top >= 2 {
		frac = (us >> (top - 2)) & 3
	} else {
		frac = (us << (2 - top)) & 3
	}
	return min(4*top+int(frac), commitBuckets-1)
}

// commitBucketUpper bounds the durations of bucket i from above (from 4 µs
// on exactly: (1 + (frac+1)/4) · 2^top µs).
func commitBucketUpper(i int) time.Duration {
	top, frac := i/4, int64(i%4)
	return time.Duration((5+frac)<<top) * 250 * time.Nanosecond
}

func (h *commitHist) add(d time.Duration, writes int) {
	h.buckets[commitBucket(d)].Add(1)
	for cur := h.max.Load(); int64(d) > cur && !h.max.CompareAndSwap(cur, int64(d)); cur = h.max.Load() {
	}
	for cur := h.maxBatch.Load(); int64(writes) > cur && !h.maxBatch.CompareAndSwap(cur, int64(writes)); cur = h.maxBatch.Load() {
	}
}

// quantile is the upper bound of the bucket holding the q-th commit time
// (0 < q ≤ 1), never above the largest seen; zero before any commit.
func (h *commitHist) quantile(q float64) time.Duration {
	var counts [commitBuckets]int64
	var total int64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return 0
	}
	rank := int64(q*float64(total) + 0.5)
	rank = max(1, min(rank, total))
	var seen int64
	for i, c := range counts {
		if seen += c; seen >= rank {
			return min(commitBucketUpper(i), time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}
