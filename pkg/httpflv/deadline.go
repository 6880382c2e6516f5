package httpflv

import (
	"net"
	"time"
)

// lazyDeadline bounds each write to a connection by about timeout without
// re-arming the runtime's deadline timer at every write (30+ a second per
// player, ~5 % of an HTTP-FLV player's CPU at 1,000 players): the deadline
// moves only once it has fallen more than timeout/8 behind now+timeout, so
// each write still gets at least 7/8 of timeout and the timer is reset
// about once per timeout/8.
type lazyDeadline struct {
	timeout time.Duration
	at      time.Time // the deadline set on the connection
}

// before is called right before a write, with the time now.
func (d *lazyDeadline) before(c net.Conn, now time.Time) error {
	if dl := now.Add(d.timeout); dl.Sub(d.at) > d.timeout/8 {
		if err := c.SetWriteDeadline(dl); err != nil {
			return err
		}
		d.at = dl
	}
	return nil
}
