package bench

import (
	"net"
	"time"
)

// discardConn is a net.Conn whose writes succeed and vanish.
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
