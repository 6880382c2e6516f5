package rtmp

import (
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
