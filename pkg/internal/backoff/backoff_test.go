package backoff

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBackoffBounds(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999999} {
		b := New(100*time.Millisecond, 2*time.Second)
		b.rand = func() float64 { return r }
		ceil := 100 * time.Millisecond
		for n := range 12 {
			d := b.Next()
			require.GreaterOrEqual(t, d, ceil/2, "attempt %d (rand %v)", n, r)
			require.LessOrEqual(t, d, ceil, "attempt %d (rand %v)", n, r)
			ceil = min(ceil*2, 2*time.Second)
		}
		b.Reset()
		require.LessOrEqual(t, b.Next(), 100*time.Millisecond)
	}
}

func TestBackoffJitterSpreads(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 50 {
		b := New(time.Second, time.Minute)
		seen[b.Next()] = true
	}
	require.Greater(t, len(seen), 10, "jitter should spread the first delays")
}

func TestBackoffNoOverflow(t *testing.T) {
	b := New(time.Second, time.Hour)
	for range 1000 {
		d := b.Next()
		require.Positive(t, d)
		require.LessOrEqual(t, d, time.Hour)
	}
}
