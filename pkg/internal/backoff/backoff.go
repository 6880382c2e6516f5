// Package backoff is the one reconnect and restart delay: capped
// exponential with equal jitter, used by the relays and the transcoder.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff is a capped exponential delay with "equal jitter": attempt n waits
// a random time in [d/2, d] where d = min(Min·2^n, Max). The random half keeps
// many relays (or ladders) that lost the same server from reconnecting in lockstep; the
// fixed half keeps a lower bound so a dead server is not hammered.
type Backoff struct {
	min, max time.Duration
	n        int
	rand     func() float64 // [0, 1); rand.Float64 in production
}

// New returns a Backoff from lo doubling up to hi.
func New(lo, hi time.Duration) *Backoff {
	return &Backoff{min: lo, max: hi, rand: rand.Float64}
}

// Next returns the delay before the next attempt and counts the attempt.
func (b *Backoff) Next() time.Duration {
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

// Reset starts over after a success.
func (b *Backoff) Reset() { b.n = 0 }
