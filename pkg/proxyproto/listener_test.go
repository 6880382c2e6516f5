package proxyproto

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/internal/logtest"
)

// syncBuffer collects output written from several goroutines.
type syncBuffer = logtest.Buffer

func newTestListener(t *testing.T, timeout time.Duration) (*Listener, *syncBuffer) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	logs := &syncBuffer{}
	l := NewListener(Config{Timeout: timeout, Logger: slog.New(slog.NewTextHandler(logs, nil))}, inner)
	t.Cleanup(func() { l.Close() })
	return l, logs
}

type accepted struct {
	c   net.Conn
	err error
}

func acceptAsync(l net.Listener) <-chan accepted {
	ch := make(chan accepted, 1)
	go func() {
		c, err := l.Accept()
		ch <- accepted{c, err}
	}()
	return ch
}

func waitAccept(t *testing.T, ch <-chan accepted) net.Conn {
	t.Helper()
	select {
	case a := <-ch:
		require.NoError(t, a.err)
		t.Cleanup(func() { a.c.Close() })
		return a.c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted")
		return nil
	}
}

func TestListenerAddresses(t *testing.T) {
	l, _ := newTestListener(t, 5*time.Second)
	for _, tc := range []struct {
		name   string
		header func(local netip.AddrPort) []byte
		want   func(local netip.AddrPort) string // expected RemoteAddr
	}{
		{"v1", func(netip.AddrPort) []byte { return AppendV1(nil, src4, dst4) },
			func(netip.AddrPort) string { return src4.String() }},
		{"v2_ipv6", func(netip.AddrPort) []byte { return AppendV2(nil, src6, dst6, tlv(0x05, "unique-id")) },
			func(netip.AddrPort) string { return src6.String() }},
		{"v2_local", func(netip.AddrPort) []byte { return AppendV2(nil, netip.AddrPort{}, netip.AddrPort{}, nil) },
			func(local netip.AddrPort) string { return local.String() }},
		{"v1_unknown", func(netip.AddrPort) []byte { return []byte("PROXY UNKNOWN\r\n") },
			func(local netip.AddrPort) string { return local.String() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := acceptAsync(l)
			c, err := net.Dial("tcp", l.Addr().String())
			require.NoError(t, err)
			defer c.Close()
			local := netip.MustParseAddrPort(c.LocalAddr().String())
			payload := []byte("\x03 what follows the header")
			_, err = c.Write(append(tc.header(local), payload...))
			require.NoError(t, err)

			sc := waitAccept(t, ch)
			require.Equal(t, tc.want(local), sc.RemoteAddr().String())
			pc := sc.(*Conn)
			require.Equal(t, local.String(), pc.ProxyAddr().String())
			require.NoError(t, sc.SetReadDeadline(time.Now().Add(5*time.Second)))
			got := make([]byte, len(payload))
			_, err = io.ReadFull(sc, got)
			require.NoError(t, err)
			require.Equal(t, payload, got, "bytes after the header reach the protocol untouched")
			require.NoError(t, pc.CloseWrite())
			_, err = c.Read(make([]byte, 1))
			require.ErrorIs(t, err, io.EOF)
		})
	}
}

// TestListenerRejects: garbage and silence are closed and logged once, and
// never reach Accept; a good connection after them still does. Each case
// has its own listener: the bad-header line is rate-limited per listener.
func TestListenerRejects(t *testing.T) {
	for _, tc := range []struct {
		name, send, log string
	}{
		{"garbage", "GET / HTTP/1.1\r\n\r\n", "no PROXY signature"},
		{"silent", "", "no header within 300ms"},
		{"bad_v1", "PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n", "port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, logs := newTestListener(t, 300*time.Millisecond)
			ch := acceptAsync(l)
			c, err := net.Dial("tcp", l.Addr().String())
			require.NoError(t, err)
			defer c.Close()
			_, err = c.Write([]byte(tc.send))
			require.NoError(t, err)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
			// Closed by the listener: EOF, or a reset when it left our bytes unread.
			_, err = io.Copy(io.Discard, c)
			if err != nil {
				require.ErrorIs(t, err, syscall.ECONNRESET)
			}
			local := c.LocalAddr().String()
			require.Eventually(t, func() bool { return strings.Contains(logs.String(), local) }, 5*time.Second, 5*time.Millisecond)
			var lines []string
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, local) {
					lines = append(lines, line)
				}
			}
			require.Len(t, lines, 1)
			require.Contains(t, lines[0], "bad proxy protocol header")
			require.Contains(t, lines[0], tc.log)
			select {
			case a := <-ch:
				t.Fatalf("a rejected connection was accepted: %v", a)
			default:
			}
			good, err := net.Dial("tcp", l.Addr().String())
			require.NoError(t, err)
			defer good.Close()
			_, err = good.Write(AppendV1(nil, src4, dst4))
			require.NoError(t, err)
			require.Equal(t, src4.String(), waitAccept(t, ch).RemoteAddr().String())
		})
	}
}

// TestListenerBadHeaderLogRateLimited: a flood of bad headers logs at most
// one line per second, not one per connection.
func TestListenerBadHeaderLogRateLimited(t *testing.T) {
	l, logs := newTestListener(t, time.Second)
	const bad = 20
	start := time.Now()
	for range bad {
		c, err := net.Dial("tcp", l.Addr().String())
		require.NoError(t, err)
		_, err = c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, err = io.Copy(io.Discard, c) // closed by the listener
		if err != nil {
			require.ErrorIs(t, err, syscall.ECONNRESET)
		}
		c.Close()
	}
	elapsed := time.Since(start)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "bad proxy protocol header") },
		5*time.Second, 5*time.Millisecond)
	lines := strings.Count(logs.String(), "bad proxy protocol header")
	require.LessOrEqual(t, lines, int(elapsed/time.Second)+1, "one line per second, not per connection")
	require.Less(t, lines, bad)
}

// TestListenerSlowPeerDoesNotBlock: a peer that never finishes its header
// does not hold up the next one.
func TestListenerSlowPeerDoesNotBlock(t *testing.T) {
	l, _ := newTestListener(t, time.Minute)
	slow, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer slow.Close()
	_, err = slow.Write([]byte("PROXY TCP4 "))
	require.NoError(t, err)

	ch := acceptAsync(l)
	c, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write(AppendV2(nil, src4, dst4, nil))
	require.NoError(t, err)
	require.Equal(t, src4.String(), waitAccept(t, ch).RemoteAddr().String())
}

// TestListenerClose: Close ends Accept and closes connections still in
// their header; goleak (TestMain) checks nothing is left behind.
func TestListenerClose(t *testing.T) {
	l, _ := newTestListener(t, time.Minute)
	pending, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer pending.Close()
	ch := acceptAsync(l)
	require.NoError(t, l.Close())
	select {
	case a := <-ch:
		require.ErrorIs(t, a.err, net.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
	require.NoError(t, pending.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = pending.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
	_, err = l.Accept()
	require.ErrorIs(t, err, net.ErrClosed)
	require.NoError(t, l.Close(), "idempotent")
}
