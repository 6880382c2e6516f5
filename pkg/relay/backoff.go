package relay

import (
	"math/rand/v2"
	"time"
)

// backoff is a capped exponential delay with "equal jitter": attempt n waits
// a random time in [d/2, d] where d = min(Min·2^n, Max). The random half keeps
// many relays that lost the same server from reconnecting in lockstep; the
// fixed half keeps a lower bound so a dead server is not hammered.
type backoff struct {
	min, max time.Duration
	n        int
	rand     func() float64 // [0, 1); rand.Float64 in production
}

func newBackoff(lo, hi time.Duration) *backoff {
	return &backoff{min: lo, max: hi, rand: rand.Float64}
}

// next returns the delay before the next attempt and counts the attempt.
func (b *backoff) next() time.Duration {
	d := b.min
	for i := 0; i < b.n && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	if b.n < 62 {
		b.n++
	}
	half := d / 2
	return half + time.Duration(b.rand()*float64(d-half))
}

// reset starts over after a success.
func (b *backoff) reset() { b.n = 0 }
