package relay

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

var testOrigins = []string{"rtmp://o1/live", "rtmp://o2/live", "rtmp://o3/live", "http://o4:8080/{app}"}

func TestRingOrderIsAPermutation(t *testing.T) {
	r := newRing(testOrigins)
	for i := range 200 {
		o := r.order(fmt.Sprintf("live/s%d", i))
		require.Len(t, o, len(testOrigins))
		seen := map[int]bool{}
		for _, x := range o {
			require.False(t, seen[x], "origin %d twice in %v", x, o)
			seen[x] = true
		}
	}
	require.Empty(t, newRing(nil).order("live/a"))
}

func TestRingDistribution(t *testing.T) {
	const keys = 20000
	r := newRing(testOrigins)
	count := make([]int, len(testOrigins))
	for i := range keys {
		count[r.order(fmt.Sprintf("live/cam%d", i))[0]]++
	}
	want := float64(keys) / float64(len(testOrigins))
	for i, c := range count {
		dev := math.Abs(float64(c)-want) / want
		t.Logf("origin %d: %d keys (%.1f%% off even)", i, c, dev*100)
		require.Less(t, dev, 0.20, "origin %d owns %d of %d keys", i, c, keys)
	}
}

// TestRingStability: removing an origin moves only the keys it owned, and
// those move to what was their first fallback; reordering the list changes
// nothing.
func TestRingStability(t *testing.T) {
	full := newRing(testOrigins)
	without := []string{testOrigins[0], testOrigins[2], testOrigins[3]} // o2 removed
	less := newRing(without)
	reversed := []string{testOrigins[3], testOrigins[2], testOrigins[1], testOrigins[0]}
	rev := newRing(reversed)
	moved := 0
	for i := range 5000 {
		key := fmt.Sprintf("live/k%d", i)
		before := full.order(key)
		after := less.order(key)
		require.Equal(t, testOrigins[before[0]], reversed[rev.order(key)[0]], "reordering moved %s", key)
		if before[0] != 1 {
			require.Equal(t, testOrigins[before[0]], without[after[0]], "%s moved although its origin stayed", key)
			continue
		}
		moved++
		require.Equal(t, testOrigins[before[1]], without[after[0]], "%s did not move to its first fallback", key)
	}
	require.NotZero(t, moved)
}

func TestEdgeOrderFailover(t *testing.T) {
	e := &edgeApp{origins: make([]target, 3)}
	require.Equal(t, []int{0, 1, 2}, e.order("live/x"))
}
