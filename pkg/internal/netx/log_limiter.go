package netx

import (
	"sync/atomic"
	"time"
)

// LogLimiter lets one log line through per second and counts the others,
// for lines a peer (or a dead dependency) can trigger once per request: a
// flood of refused connections or bad headers must not flood the log. The
// zero value is ready; safe for concurrent use.
type LogLimiter struct {
	last       atomic.Int64 // unix nanos of the last line let through
	suppressed atomic.Uint64
}

// Allow reports whether a line may be logged now and, if so, how many were
// suppressed since the previous one (log it, e.g. as "suppressed").
func (l *LogLimiter) Allow() (suppressed uint64, ok bool) {
	now := time.Now().UnixNano()
	last := l.last.Load()
	if now-last < int64(time.Second) || !l.last.CompareAndSwap(last, now) {
		l.suppressed.Add(1)
		return 0, false
	}
	return l.suppressed.Swap(0), true
}
