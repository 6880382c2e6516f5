package httpflv

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

func TestLazyDeadline(t *testing.T) {
	const timeout = 8 * time.Second
	c := &deadlineConn{}
	d := lazyDeadline{timeout: timeout}
	t0 := time.Unix(1_700_000_000, 0)

	require.NoError(t, d.before(c, t0))
	require.Equal(t, []time.Time{t0.Add(timeout)}, c.set, "the first write arms it")

	// 30 writes a second for one eighth of the timeout: no re-arming, and
	// every write still has at least 7/8 of the timeout.
	for i := range 30 {
		now := t0.Add(time.Duration(i) * time.Second / 30)
		require.NoError(t, d.before(c, now))
		require.GreaterOrEqual(t, d.at.Sub(now), timeout*7/8)
	}
	require.Len(t, c.set, 1)

	now := t0.Add(timeout/8 + time.Millisecond)
	require.NoError(t, d.before(c, now))
	require.Equal(t, now.Add(timeout), c.set[len(c.set)-1], "moved once it fell behind by timeout/8")
	require.Len(t, c.set, 2)
}
