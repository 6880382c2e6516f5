package netx

import (
	"time"
)

// WriteDeadline keeps a connection's write deadline between Timeout and
// 5/4 Timeout ahead of every write: a slow-but-alive peer gets at least
// Timeout per write, a stalled one is cut within 5/4 of it. Setting a
// deadline is a runtime timer operation; re-arming it only when less than
// Timeout is left costs one per Timeout/4 instead of one per write (30+ a
// second per player, ~5 % of a player's CPU at 1,000 players). Used by one
// goroutine at a time (the connection's writer).
type WriteDeadline struct {
	Timeout time.Duration
	at      time.Time // the deadline set on the connection; zero: none yet
}

// Deadliner is what WriteDeadline arms: a net.Conn, an
// http.ResponseController.
type Deadliner interface {
	SetWriteDeadline(t time.Time) error
}

// Arm is called right before a write, with the time now.
func (d *WriteDeadline) Arm(c Deadliner, now time.Time) error {
	if d.at.Sub(now) >= d.Timeout {
		return nil
	}
	at := now.Add(d.Timeout + d.Timeout/4)
	if err := c.SetWriteDeadline(at); err != nil {
		return err
	}
	d.at = at
	return nil
}
