package httpflv

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// TestShutdownEndsPlayersCleanly is the graceful counterpart of
// TestCloseEndsPlayers: on Shutdown an HTTP-FLV body ends with its last
// chunk (a complete body), a WebSocket closes with 1001, and the stream and
// its publisher are untouched (the hub closes them, not the handler).
func TestShutdownEndsPlayersCleanly(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.publish(t, "live/cam")
	primed, _ := streamPackets(true, true)
	write(t, p, primed...)

	resp, err := http.Get(e.url("/live/cam.flv"))
	require.NoError(t, err)
	defer resp.Body.Close()
	_, err = readHeader(resp.Body)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, _, err := websocket.Dial(ctx, e.wsURL("/live/cam.flv"), nil)
	require.NoError(t, err)
	defer c.CloseNow()
	c.SetReadLimit(-1)
	e.waitReaders(t, "live/cam", 2)

	// Both clients read on, as real players do: the WebSocket close
	// handshake needs the client's answer.
	bodyErr := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		bodyErr <- err
	}()
	wsStatus := make(chan websocket.StatusCode, 1)
	go func() {
		for {
			if _, _, err := c.Read(ctx); err != nil {
				wsStatus <- websocket.CloseStatus(err)
				return
			}
		}
	}()
	shut := make(chan error, 1)
	go func() { shut <- e.h.Shutdown(ctx) }()
	select {
	case err := <-shut:
		require.NoError(t, err)
	case <-time.After(waitFor):
		t.Fatal("Shutdown did not return")
	}
	require.NoError(t, <-bodyErr, "the chunked body must end with its terminator")
	require.Equal(t, websocket.StatusGoingAway, <-wsStatus)
	require.Equal(t, 0, mustStream(t, e.hub, "live/cam").Readers)

	resp2, err := http.Get(e.url("/live/cam.flv"))
	require.NoError(t, err)
	require.NoError(t, resp2.Body.Close())
	require.Equal(t, http.StatusServiceUnavailable, resp2.StatusCode)
}

// TestShutdownDeadlineKicks checks that a player blocked in a write (its
// client reads nothing) is cut when the context ends.
func TestShutdownDeadlineKicks(t *testing.T) {
	hb := hub.New(hub.Config{})
	h := NewHandler(Config{WriteTimeout: time.Minute}, hb)
	// Server connections whose writes block until closed: the player is
	// certainly stuck in a write when Shutdown starts (a real socket may
	// still drain as the kernel grows its buffers).
	ln := &stuckListener{Listener: newLocalListener(t), stuck: make(chan struct{}, 1)}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = ln
	srv.Start()
	defer func() {
		srv.Close()
		h.Close()
		hb.Close()
	}()
	e := &env{hub: hb, h: h, srv: srv}
	p := e.publish(t, "live/cam")
	primed, _ := streamPackets(false, true)
	write(t, p, primed...)
	rawGet(t, e, "/live/cam.flv")
	select {
	case <-ln.stuck:
	case <-time.After(waitFor):
		t.Fatal("the player never wrote")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := h.Shutdown(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Empty(t, hb.Readers())
}

func newLocalListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

// stuckListener accepts connections whose Write blocks until Close and
// reports (on stuck) that a write is blocked.
type stuckListener struct {
	net.Listener
	stuck chan struct{}
}

func (l *stuckListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &stuckConn{Conn: c, stuck: l.stuck, closed: make(chan struct{})}, nil
}

type stuckConn struct {
	net.Conn
	stuck  chan struct{}
	once   sync.Once
	closed chan struct{}
}

func (c *stuckConn) Write([]byte) (int, error) {
	select {
	case c.stuck <- struct{}{}:
	default:
	}
	<-c.closed
	return 0, net.ErrClosed
}

func (c *stuckConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}
