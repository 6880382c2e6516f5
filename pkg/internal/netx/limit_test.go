package netx

import (
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func tcpAddr(s string) net.Addr {
	ap := netip.MustParseAddrPort(s)
	return net.TCPAddrFromAddrPort(ap)
}

func TestConnLimiter(t *testing.T) {
	l := &ConnLimiter{Max: 3, PerIP: 2}
	r1, err := l.Acquire(tcpAddr("10.0.0.1:1000"))
	require.NoError(t, err)
	r2, err := l.Acquire(tcpAddr("10.0.0.1:1001"))
	require.NoError(t, err)
	_, err = l.Acquire(tcpAddr("10.0.0.1:1002"))
	require.ErrorIs(t, err, ErrTooManyConnsPerIP)
	r3, err := l.Acquire(tcpAddr("10.0.0.2:1000"))
	require.NoError(t, err)
	_, err = l.Acquire(tcpAddr("10.0.0.3:1000"))
	require.ErrorIs(t, err, ErrTooManyConns)
	require.Equal(t, 3, l.Open())

	r1()
	r1() // idempotent
	require.Equal(t, 2, l.Open())
	r4, err := l.Acquire(tcpAddr("[::ffff:10.0.0.1]:1003")) // the same host, v4-mapped
	require.NoError(t, err)
	_, err = l.Acquire(tcpAddr("10.0.0.1:1004"))
	require.ErrorIs(t, err, ErrTooManyConns, "the total cap is checked first")
	r2()
	r3()
	r4()
	require.Equal(t, 0, l.Open())
	require.Empty(t, l.perIP, "no entry outlives its connections")
	total, perIP := l.Refused()
	require.Equal(t, uint64(2), total)
	require.Equal(t, uint64(1), perIP)
}

func TestConnLimiterExempt(t *testing.T) {
	proxy := netip.MustParseAddr("10.0.0.9")
	l := &ConnLimiter{PerIP: 1, Exempt: func(a netip.Addr) bool { return a == proxy }}
	for range 5 {
		_, err := l.Acquire(tcpAddr("10.0.0.9:1000"))
		require.NoError(t, err)
	}
	_, err := l.Acquire(tcpAddr("10.0.0.1:1000"))
	require.NoError(t, err)
	_, err = l.Acquire(tcpAddr("10.0.0.1:1001"))
	require.ErrorIs(t, err, ErrTooManyConnsPerIP)
}

func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	lim := &ConnLimiter{PerIP: 1}
	ln := NewLimitListener(inner, lim, nil)
	defer ln.Close()

	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	c1, err := net.Dial("tcp", inner.Addr().String())
	require.NoError(t, err)
	defer c1.Close()
	s1 := <-accepted
	require.True(t, Writev(s1), "the wrapper keeps writev")
	require.IsType(t, &LimitedTCPConn{}, s1)

	// A second connection from the same address is closed at once.
	c2, err := net.Dial("tcp", inner.Addr().String())
	require.NoError(t, err)
	_, err = io.ReadAll(c2)
	require.NoError(t, err, "EOF: closed by the listener")
	c2.Close()

	// Closing the first frees the slot.
	require.NoError(t, s1.Close())
	c3, err := net.Dial("tcp", inner.Addr().String())
	require.NoError(t, err)
	defer c3.Close()
	s3 := <-accepted
	require.NotNil(t, s3)
	s3.Close()
	_, perIP := lim.Refused()
	require.Equal(t, uint64(1), perIP)
}

// FirstByte sees each connection's first byte once: refused, the read
// fails with ErrWrongProtocol; accepted, it is read as usual.
func TestLimitListenerFirstByte(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := NewLimitListener(inner, &ConnLimiter{}, nil)
	var seen []byte
	l.FirstByte = func(b byte, _ net.Addr) bool {
		seen = append(seen, b)
		return b != 0x16
	}
	defer l.Close()
	for _, tc := range []struct {
		send string
		ok   bool
	}{{"\x16\x03\x01", false}, {"GET / HTTP/1.1", true}} {
		c, err := net.Dial("tcp", l.Addr().String())
		require.NoError(t, err)
		_, err = c.Write([]byte(tc.send))
		require.NoError(t, err)
		sc, err := l.Accept()
		require.NoError(t, err)
		buf := make([]byte, 64)
		n, err := sc.Read(buf)
		if tc.ok {
			require.NoError(t, err)
			require.Equal(t, tc.send, string(buf[:n]))
		} else {
			require.ErrorIs(t, err, ErrWrongProtocol)
			require.Zero(t, n)
		}
		require.NoError(t, sc.Close())
		require.NoError(t, c.Close())
	}
	require.Equal(t, []byte{0x16, 'G'}, seen)
}
