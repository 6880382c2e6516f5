package rtmp

import (
	"bufio"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// failingListener fails every Accept with EMFILE (a temporary error) and
// reports each call.
type failingListener struct {
	calls  chan struct{}
	closed chan struct{}
}

func (l *failingListener) Accept() (net.Conn, error) {
	select {
	case l.calls <- struct{}{}:
	case <-l.closed:
	}
	return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
}

func (l *failingListener) Close() error {
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return nil
}

func (l *failingListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// TestCloseInterruptsAcceptBackoff: while Serve backs off after temporary
// accept errors (the delay grows to 1 s), Close makes it return at once
// instead of after the rest of the delay.
func TestCloseInterruptsAcceptBackoff(t *testing.T) {
	h := hub.New(hub.Config{})
	defer h.Close()
	srv := NewServer(ServerConfig{}, h)
	ln := &failingListener{calls: make(chan struct{}), closed: make(chan struct{})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// 5, 10, ..., 640 ms, then the 10th failure starts a 1 s wait.
	for range 10 {
		select {
		case <-ln.calls:
		case <-time.After(testTimeout):
			t.Fatal("Serve stopped accepting")
		}
	}
	start := time.Now()
	require.NoError(t, srv.Close())
	select {
	case err := <-served:
		require.ErrorIs(t, err, ErrServerClosed)
	case <-time.After(testTimeout):
		t.Fatal("Serve did not return after Close")
	}
	require.Less(t, time.Since(start), 500*time.Millisecond, "Close waited out the accept backoff")
}

// TestMaxConnectionsLogRateLimited: refused connections log at most one
// line per second, with the count of the lines suppressed meanwhile.
func TestMaxConnectionsLogRateLimited(t *testing.T) {
	env := startServer(t, ServerConfig{MaxConnections: 1}, hub.Config{})
	env.dial(t)
	const refused = 20
	start := time.Now()
	for range refused {
		nc, err := net.Dial("tcp", env.addr)
		require.NoError(t, err)
		require.NoError(t, nc.SetReadDeadline(time.Now().Add(testTimeout)))
		_, err = io.Copy(io.Discard, nc) // the server closes it at once
		require.NoError(t, err)
		nc.Close()
	}
	elapsed := time.Since(start)
	lines := strings.Count(env.logs.String(), "too many connections")
	require.GreaterOrEqual(t, lines, 1)
	require.LessOrEqual(t, lines, int(elapsed/time.Second)+1, "one line per second, not per connection")
	require.Less(t, lines, refused)
}

// dialFrom connects to addr from the loopback address src (all of
// 127.0.0.0/8 is local on Linux), so one test can be several client IPs.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: testTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	nc, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	require.NoError(t, nc.SetDeadline(time.Now().Add(testTimeout)))
	return nc
}

// requireRefused asserts that the server closes nc at once, before any
// handshake byte.
func requireRefused(t *testing.T, nc net.Conn) {
	t.Helper()
	n, err := io.Copy(io.Discard, nc)
	require.NoError(t, err, "the server must close the connection, not let it time out")
	require.Zero(t, n)
}

// requireServed asserts that the server handshakes on nc.
func requireServed(t *testing.T, nc net.Conn) {
	t.Helper()
	require.NoError(t, ClientHandshake(bufio.NewReader(nc), nc))
}

// TestMaxConnectionsPerIP: one address gets MaxConnectionsPerIP
// connections, others still get theirs, a closed connection frees its
// slot, and Refused counts what was turned away per cause.
func TestMaxConnectionsPerIP(t *testing.T) {
	env := startServer(t, ServerConfig{MaxConnectionsPerIP: 2, MaxConnections: 4}, hub.Config{})
	a1 := dialFrom(t, "127.0.0.1", env.addr)
	requireServed(t, a1)
	requireServed(t, dialFrom(t, "127.0.0.1", env.addr))
	requireRefused(t, dialFrom(t, "127.0.0.1", env.addr))
	total, perIP := env.srv.Refused()
	require.Equal(t, [2]uint64{0, 1}, [2]uint64{total, perIP})
	line := env.logs.String()
	require.Contains(t, line, "too many connections from this address")
	require.Contains(t, line, "limit=2")

	// Another address is not affected, up to MaxConnections in all.
	requireServed(t, dialFrom(t, "127.0.0.2", env.addr))
	requireServed(t, dialFrom(t, "127.0.0.2", env.addr))
	requireRefused(t, dialFrom(t, "127.0.0.3", env.addr))
	total, perIP = env.srv.Refused()
	require.Equal(t, [2]uint64{1, 1}, [2]uint64{total, perIP})

	// Closing a connection frees its slot for its address.
	a1.Close()
	env.logs.waitClosed(t, "remote="+a1.LocalAddr().String())
	require.Eventually(t, func() bool { return env.srv.lim.Open() == 3 }, testTimeout, time.Millisecond)
	requireServed(t, dialFrom(t, "127.0.0.1", env.addr))
	require.Equal(t, 4, env.srv.Conns())
}
