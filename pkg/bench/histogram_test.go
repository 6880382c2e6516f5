package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHistogramQuantiles(t *testing.T) {
	cases := []struct {
		name    string
		samples func(r *rand.Rand) time.Duration
	}{
		{"sub-64µs exact", func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(64)) * time.Microsecond }},
		{"uniform 0-50ms", func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(50_000)) * time.Microsecond }},
		{"exponential ~8ms", func(r *rand.Rand) time.Duration {
			return time.Duration(r.ExpFloat64()*8000) * time.Microsecond
		}},
		{"bimodal 2ms/400ms", func(r *rand.Rand) time.Duration {
			if r.IntN(100) < 3 {
				return 400*time.Millisecond + time.Duration(r.IntN(1000))*time.Microsecond
			}
			return 2*time.Millisecond + time.Duration(r.IntN(500))*time.Microsecond
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var a, b Histogram
			var all []time.Duration
			for i := range 20000 {
				d := c.samples(r)
				all = append(all, d)
				if i%2 == 0 { // two players, merged
					a.Record(d)
				} else {
					b.Record(d)
				}
			}
			a.Merge(&b)
			slices.Sort(all)
			require.Equal(t, uint64(len(all)), a.Count())
			require.Equal(t, all[len(all)-1], a.Max())
			for _, q := range []float64{0.5, 0.95, 0.99, 1} {
				exact := all[max(int(q*float64(len(all))+0.5)-1, 0)]
				got := a.Quantile(q)
				// 32 buckets per octave: within 1/32 of the value, plus 1µs rounding.
				require.InDelta(t, float64(exact), float64(got), float64(exact)/32+float64(time.Microsecond),
					"q=%v exact %v got %v", q, exact, got)
			}
		})
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	require.Zero(t, h.Quantile(0.5))
	require.Zero(t, h.Mean())
	h.Record(-time.Second) // clock skew between machines: counted as 0
	require.Equal(t, time.Duration(0), h.Quantile(1))
	h.Record(1000 * time.Hour) // beyond the last octave: clamped bucket, exact max
	require.Equal(t, 1000*time.Hour, h.Max())
	require.Equal(t, 1000*time.Hour, h.Quantile(1))
	require.Equal(t, uint64(2), h.Count())
	for i := range histBuckets - 1 { // bucket values are increasing and map back to their bucket
		require.Less(t, histValue(i), histValue(i+1))
		require.Equal(t, i, histIndex(histValue(i)))
	}
}

func TestPlayerStatsWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w := &Window{Start: t0.Add(time.Second), End: t0.Add(3 * time.Second), Stall: 500 * time.Millisecond}
	var ps PlayerStats
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	stamp := func(ms, seq int) Stamp { return Stamp{SendNs: at(ms).UnixNano() - 5e6, Seq: uint32(seq)} }
	ps.frame(w, t0, at(200), stamp(200, 1), true)    // before the window: first frame only
	ps.frame(w, t0, at(1100), stamp(1100, 10), true) // in the window
	ps.frame(w, t0, at(1133), stamp(1133, 11), true)
	ps.frame(w, t0, at(1166), stamp(1166, 14), true) // 12, 13 lost
	ps.frame(w, t0, at(2000), stamp(2000, 15), true) // 834 ms gap: a stall
	ps.frame(w, t0, at(2010), Stamp{}, false)        // unstamped
	ps.frame(w, t0, at(3500), stamp(3500, 16), true) // after the window
	require.Equal(t, 200*time.Millisecond, ps.FirstFrame)
	require.Equal(t, uint64(4), ps.Frames)
	require.Equal(t, uint64(2), ps.Lost)
	require.Equal(t, uint64(1), ps.Stalls)
	require.Equal(t, uint64(1), ps.Unstamped)
	require.Equal(t, 834*time.Millisecond, ps.LongestGap)
	require.Equal(t, 5*time.Millisecond, ps.Latency.Quantile(0.5).Round(100*time.Microsecond))
}
