package netx

import "time"

// Accept backoff bounds: like net/http's Server.Serve.
const (
	MinBackoff = 5 * time.Millisecond
	MaxBackoff = time.Second
)

// Backoff is the delay between accept retries after temporary errors:
// MinBackoff doubling to MaxBackoff, back to zero after a success. The zero
// value is ready. Not safe for concurrent use (one per accept loop).
type Backoff struct {
	delay time.Duration
}

// Next returns the next delay.
func (b *Backoff) Next() time.Duration {
	b.delay = min(max(2*b.delay, MinBackoff), MaxBackoff)
	return b.delay
}

// Reset starts over after a successful accept.
func (b *Backoff) Reset() { b.delay = 0 }

// Wait sleeps for the next delay, or until done is closed; it reports
// whether the full delay elapsed (false: the caller is closing and must
// stop). A closing server must not stall for up to MaxBackoff.
func (b *Backoff) Wait(done <-chan struct{}) bool {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}
