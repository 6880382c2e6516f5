package httpflv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// wsWriter carries the FLV byte stream in WebSocket binary messages, one
// message per batch (the FLV header alone is the first message). flv.js and
// mpegts.js treat the payloads as one byte stream, so message boundaries are
// free; per batch is cheaper than per tag for both ends (see
// BenchmarkWSFraming and the package notes in the report: coder/websocket
// frames every Write, so a message written slice by slice would cost three
// frames per tag).
//
// The batch is copied once into a buffer borrowed for the write: coder/websocket
// only writes contiguous payloads and passes them through its own 4 KiB
// bufio.Writer anyway, so this copy replaces per-slice frames, not a
// zero-copy path.
type wsWriter struct {
	c       *websocket.Conn
	timeout time.Duration
	// watchdog closes the connection when one write takes longer than
	// timeout: coder/websocket bounds writes by a context, which costs a
	// context and a timer per message; a reused timer costs nothing.
	watchdog *time.Timer
	timedOut atomic.Bool
	buf      []byte  // the batch being built, borrowed from wsBufs
	pooled   *[]byte // the pool's handle for buf
	sent     uint64
}

// wsBufs lends batch buffers to players only while they write: a player
// that kept its own would pin its largest batch (a keyframe, tens of KB)
// for the whole session, which ripple-bench measured at ~400 KB of RSS per
// WS-FLV player at 1,000 players; borrowed, they are as many as the writes
// in flight.
var wsBufs = sync.Pool{New: func() any { return new([]byte) }}

func (w *wsWriter) add(b []byte) {
	if w.buf == nil {
		w.pooled = wsBufs.Get().(*[]byte)
		w.buf = (*w.pooled)[:0]
	}
	w.buf = append(w.buf, b...)
}

func (w *wsWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	w.watchdog.Reset(w.timeout)
	err := w.c.Write(context.Background(), websocket.MessageBinary, w.buf)
	switch {
	case !w.watchdog.Stop() || w.timedOut.Load():
		err = errWriteTimeout
	case err != nil:
		// The connection was closed under the write: by a kick (its
		// cause is on the player's context and wins) or by the read
		// side seeing the client go, which cancels the context just
		// after closing.
		err = errClientGone
	}
	if err == nil {
		w.sent += uint64(len(w.buf))
	}
	if cap(w.buf) <= 4*maxWrite { // one huge tag should not stay in the pool
		*w.pooled = w.buf[:0]
		wsBufs.Put(w.pooled)
	}
	w.buf, w.pooled = nil, nil
	return err
}

func (w *wsWriter) bytes() uint64 { return w.sent }

// end closes the WebSocket: with a close handshake when the stream ended or
// the server drains, at once otherwise. A Close (kick) must not handshake:
// Close waits up to 5 s for the client's answer, so a player goroutine that
// saw the kick's cancel before the kick's CloseNow would hold Handler.Close
// for that long with a client that does not read.
func (w *wsWriter) end(cause error) {
	w.watchdog.Stop()
	switch {
	case errors.Is(cause, io.EOF):
		_ = w.c.Close(websocket.StatusNormalClosure, "stream ended")
	case errors.Is(cause, errDraining):
		_ = w.c.Close(websocket.StatusGoingAway, "server shutting down")
	default:
		_ = w.c.CloseNow()
	}
}

// startWS accepts the WebSocket upgrade and makes it p's sink. On error
// Accept has already answered the request.
func (h *Handler) startWS(w http.ResponseWriter, r *http.Request, p *player) (end func(error), err error) {
	c, err := websocket.Accept(w, r, &h.wsOpts)
	if err != nil {
		return nil, fmt.Errorf("websocket accept: %w", err)
	}
	ww := &wsWriter{c: c, timeout: h.cfg.WriteTimeout}
	ww.watchdog = time.AfterFunc(time.Hour, func() {
		ww.timedOut.Store(true)
		_ = c.CloseNow()
	})
	ww.watchdog.Stop()
	p.sink = ww
	p.setConn(closerFunc(c.CloseNow))

	// CloseRead answers pings and the close handshake; its context ends
	// when the client closes or sends data (a policy violation). Not p.ctx
	// itself: coder/websocket closes the connection at once when a read
	// context ends, which would cut the 1001 close of a Shutdown.
	readCtx := c.CloseRead(context.WithoutCancel(p.ctx))
	stop := context.AfterFunc(readCtx, func() { p.cancel(errClientGone) })
	return func(cause error) {
		stop()
		ww.end(cause)
	}, nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
