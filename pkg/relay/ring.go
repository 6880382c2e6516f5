package relay

import (
	"hash/fnv"
	"slices"
)

// vnodes is the number of points each origin has on the ring: with 128 the
// share of each of a handful of origins stays within a few percent of even.
const vnodes = 128

// ring is a consistent-hash ring over a list of origins (Karger et al.,
// 1997): each origin owns vnodes points, a stream key belongs to the first
// point at or after its hash. Points are derived from the origin's URL, not
// its position, so reordering the list changes nothing and removing an
// origin moves only the keys it owned.
type ring struct {
	points []ringPoint // sorted by hash
	n      int
}

type ringPoint struct {
	hash   uint64
	origin int
}

func newRing(names []string) *ring {
	r := &ring{n: len(names), points: make([]ringPoint, 0, len(names)*vnodes)}
	var buf []byte
	for i, name := range names {
		for v := range vnodes {
			buf = append(append(buf[:0], name...), '#', byte(v), byte(v>>8))
			r.points = append(r.points, ringPoint{hash: hash64(buf), origin: i})
		}
	}
	slices.SortFunc(r.points, func(a, b ringPoint) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return a.origin - b.origin
	})
	return r
}

// order returns every origin index once: the owner of key first, then the
// others in the order the ring meets them walking on from key's hash.
func (r *ring) order(key string) []int {
	out := make([]int, 0, r.n)
	if r.n == 0 {
		return out
	}
	h := hash64([]byte(key))
	start, _ := slices.BinarySearchFunc(r.points, h, func(p ringPoint, h uint64) int {
		switch {
		case p.hash < h:
			return -1
		case p.hash > h:
			return 1
		}
		return 0
	})
	seen := make([]bool, r.n)
	for i := 0; i < len(r.points) && len(out) < r.n; i++ {
		p := r.points[(start+i)%len(r.points)]
		if !seen[p.origin] {
			seen[p.origin] = true
			out = append(out, p.origin)
		}
	}
	return out
}

// hash64 is FNV-1a followed by the splitmix64 finalizer: FNV alone spreads
// keys that differ only in their last bytes ("cam1", "cam2") poorly.
func hash64(b []byte) uint64 {
	f := fnv.New64a()
	f.Write(b)
	x := f.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
