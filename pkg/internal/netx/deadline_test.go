package netx

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type deadlineConn struct {
	net.Conn
	set []time.Time
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.set = append(c.set, t)
	return nil
}

func TestWriteDeadline(t *testing.T) {
	const timeout = 8 * time.Second
	c := &deadlineConn{}
	d := WriteDeadline{Timeout: timeout}
	t0 := time.Unix(1_700_000_000, 0)

	require.NoError(t, d.Arm(c, t0))
	require.Equal(t, []time.Time{t0.Add(timeout * 5 / 4)}, c.set, "the first write arms it")

	// 30 writes a second for a quarter of the timeout: no re-arming, and
	// every write has at least the timeout.
	for i := range 60 {
		now := t0.Add(time.Duration(i) * time.Second / 30)
		require.NoError(t, d.Arm(c, now))
		require.GreaterOrEqual(t, d.at.Sub(now), timeout)
	}
	require.Len(t, c.set, 1)

	now := t0.Add(timeout/4 + time.Millisecond)
	require.NoError(t, d.Arm(c, now))
	require.Equal(t, now.Add(timeout*5/4), c.set[len(c.set)-1], "moved once less than the timeout was left")
	require.Len(t, c.set, 2)
}
