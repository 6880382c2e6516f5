package bench

import (
	"math/bits"
	"time"
)

// Histogram records durations with about 3 % relative precision in a fixed
// array (log-linear buckets: exact below 64 µs, then 32 buckets per power of
// two), so recording never allocates and two histograms merge by adding.
// The zero value is ready to use; it is not safe for concurrent use.
type Histogram struct {
	counts [histBuckets]uint32
	n      uint64
	sum    uint64 // µs
	max    uint64 // µs
}

const (
	histSub     = 32
	histLinear  = 2 * histSub // values below this are exact
	histOctaves = 40          // up to 2^46 µs, far beyond any run
	histBuckets = histLinear + histOctaves*histSub
)

func histIndex(us uint64) int {
	if us < histLinear {
		return int(us)
	}
	e := bits.Len64(us) - 6 // us>>e is in [32, 64)
	i := histLinear + (e-1)*histSub + int(us>>e) - histSub
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// histValue returns the middle of bucket i in µs.
func histValue(i int) uint64 {
	if i < histLinear {
		return uint64(i)
	}
	e := (i-histLinear)/histSub + 1
	m := uint64((i-histLinear)%histSub + histSub)
	return m<<e + (uint64(1)<<e)/2
}

// Record adds one sample; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	h.counts[histIndex(us)]++
	h.n++
	h.sum += us
	h.max = max(h.max, us)
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Max returns the largest sample (exact).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }

// Mean returns the average sample (exact, to the µs).
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/h.n) * time.Microsecond
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1): the smallest bucket value
// at or below which at least q of the samples fall, capped at Max.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			return time.Duration(min(histValue(i), h.max)) * time.Microsecond
		}
	}
	return h.Max()
}
