package httpflv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
)

// wsWriter carries the FLV byte stream in WebSocket binary messages on a
// hijacked connection, one single-frame message per batch (the FLV header
// alone is the first message). flv.js and mpegts.js treat the payloads as
// one byte stream, so message boundaries are free. Each batch is a frame
// header (2, 4 or 10 bytes) + the shared tag slices, handed to the kernel
// with one writev, like chunkedWriter's HTTP chunks: no copy per player.
//
// A WebSocket library would copy every batch through its own buffer in
// 4 KiB writes and arm a timer per message: ripple-bench measured WS-FLV
// with coder/websocket at 1.5× the CPU of HTTP-FLV per player and about
// 200 KB of RSS per player at 1,000 players.
//
// The player goroutine writes media; the reader goroutine (readLoop)
// answers pings and the close handshake. mu serialises their frames, so a
// control frame never lands inside a media frame.
type wsWriter struct {
	src io.Reader // the client's frames: conn, after what the HTTP server had buffered

	mu        sync.Mutex
	connOut        // guarded by mu
	closeSent bool // no frame may follow a close frame (RFC 6455 §5.5.1)
	ctl       [wsMaxHeader + wsMaxControl]byte
	ctlBufs   net.Buffers // one-element Buffers for control frames, reused

	// Used by the player goroutine only.
	bufs net.Buffers // [frame header, tag slices...]; backing reused
	out  net.Buffers // what WriteTo consumes (it advances its receiver)
	n    int         // payload bytes in bufs
	hdr  [10]byte
	sent uint64

	readDone chan struct{} // closed when readLoop returns
	frame    wsFrame       // readLoop's frame; a field, so its buffer is not a per-frame allocation
}

// wsCloseWait bounds how long the end of a stream waits for the client to
// answer its close frame before closing the connection.
const wsCloseWait = 5 * time.Second

func newWSWriter(conn net.Conn, src io.Reader, timeout time.Duration) *wsWriter {
	// A TLS record holds at most 16 KiB: a larger buffer saves no write.
	return &wsWriter{connOut: newConnOut(conn, timeout, 16<<10), src: src, readDone: make(chan struct{})}
}

func (w *wsWriter) add(b []byte) {
	if len(w.bufs) == 0 {
		w.bufs = append(w.bufs, nil) // the frame header
	}
	w.bufs = append(w.bufs, b)
	w.n += len(b)
}

// flush sends what was added as one binary frame. The 101 answer went out
// in startWS: with nothing added there is nothing to send.
func (w *wsWriter) flush() error {
	if w.n == 0 {
		w.bufs = w.bufs[:0]
		return nil
	}
	w.bufs[0] = appendFrameHeader(w.hdr[:0], wsOpBinary, w.n)
	w.mu.Lock()
	var err error
	if w.closeSent {
		// The reader goroutine answered the client's close: the
		// player is ending.
		err = errClientGone
	} else {
		err = w.writeLocked(w.bufs, &w.out)
	}
	w.mu.Unlock()
	clear(w.bufs) // drop references to packet bytes until the next batch
	w.bufs = w.bufs[:0]
	if err == nil {
		w.sent += uint64(w.n)
	}
	w.n = 0
	return err
}

func (w *wsWriter) bytes() uint64 { return w.sent }

// writeLocked writes bufs through out (connOut.write). w.mu must be held.
func (w *wsWriter) writeLocked(bufs net.Buffers, out *net.Buffers) error {
	return w.write(bufs, out)
}

// writeControl sends a control frame unless a close frame was sent
// already; sending a close frame forbids any later frame.
func (w *wsWriter) writeControl(frame func(b []byte) []byte, isClose bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closeSent {
		return nil
	}
	w.closeSent = isClose
	w.ctlBufs = append(w.ctlBufs[:0], frame(w.ctl[:0]))
	return w.writeLocked(w.ctlBufs, &w.ctlBufs)
}

func (w *wsWriter) sendClose(code uint16, reason string) error {
	return w.writeControl(func(b []byte) []byte { return appendCloseFrame(b, code, reason) }, true)
}

// readLoop reads the client's frames until the connection ends or the
// client closes, and returns why. It answers pings with pongs and a close
// with a close. Data frames are refused with 1008 policy violation: a
// WS-FLV client only plays.
func (w *wsWriter) readLoop() error {
	f := &w.frame
	for {
		if err := f.read(w.src); err != nil {
			var pe *wsProtocolError
			if errors.As(err, &pe) {
				_ = w.sendClose(pe.code, "")
				return fmt.Errorf("%w: %w", errClientGone, err)
			}
			return errClientGone
		}
		switch f.op {
		case wsOpPing:
			p := f.payload
			if err := w.writeControl(func(b []byte) []byte {
				return append(appendFrameHeader(b, wsOpPong, len(p)), p...)
			}, false); err != nil {
				return errClientGone
			}
		case wsOpPong:
			// Unsolicited pongs are allowed (RFC 6455 §5.5.3).
		case wsOpClose:
			code, hasCode, err := closeReply(f.payload)
			var pe *wsProtocolError
			switch {
			case errors.As(err, &pe):
				_ = w.sendClose(pe.code, "")
			case hasCode:
				_ = w.sendClose(code, "")
			default:
				_ = w.writeControl(func(b []byte) []byte { return appendFrameHeader(b, wsOpClose, 0) }, true)
			}
			return errClientGone
		default:
			_ = w.sendClose(wsClosePolicyViolation, "data messages are not accepted")
			return errClientData
		}
	}
}

// errClientData ends a player whose client sent a data message.
var errClientData = fmt.Errorf("%w: sent a data message", errClientGone)

// end closes the WebSocket: with a close handshake when the stream ended or
// the server drains, at once otherwise. A Close (kick) must not handshake:
// the handshake waits up to wsCloseWait for the client's answer, which
// would hold Handler.Close for that long with a client that does not read.
// end returns once the reader goroutine has.
func (w *wsWriter) end(cause error) {
	var code uint16
	var reason string
	switch {
	case errors.Is(cause, io.EOF):
		code, reason = wsCloseNormal, "stream ended"
	case errors.Is(cause, errDraining):
		code, reason = wsCloseGoingAway, "server shutting down"
	}
	if code != 0 && w.sendClose(code, reason) == nil {
		// The client answers with its close (readLoop returns), or is
		// given up on: the server closes the TCP connection first
		// (RFC 6455 §7.1.1).
		t := time.NewTimer(wsCloseWait)
		select {
		case <-w.readDone:
		case <-t.C:
		}
		t.Stop()
	}
	_ = w.conn.Close()
	<-w.readDone
}

// startWS completes the WebSocket opening handshake and makes the
// connection p's sink. A refused handshake is answered (400, 403, 426) and
// returned.
func (h *Handler) startWS(w http.ResponseWriter, r *http.Request, p *player) (end func(error), err error) {
	ww, err := acceptWS(w, r, h.cors.Origins(), h.cfg.WriteTimeout, p.cancel, h.cfg.Panics)
	if err != nil {
		return nil, err
	}
	p.setConn(ww.conn)
	p.sink = ww
	return ww.end, nil
}

// acceptWS validates the opening handshake, hijacks the connection and
// answers 101. The reader goroutine then runs until the client leaves or
// closes, and reports why to readEnded (the player's cancel).
func acceptWS(w http.ResponseWriter, r *http.Request, origins []string, timeout time.Duration, readEnded func(error),
	panics *guard.Recorder) (*wsWriter, error) {
	key, err := checkWSHandshake(r, origins)
	if err != nil {
		var he *wsHandshakeError
		if errors.As(err, &he) {
			wsRefuse(w, he)
		}
		return nil, err
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Behind a wrapper that cannot hijack (HTTP/1.1 was checked).
		code := http.StatusInternalServerError
		if errors.Is(err, http.ErrNotSupported) {
			code = http.StatusNotImplemented
		}
		httpError(w, code, "websocket: connection cannot be taken over")
		return nil, fmt.Errorf("websocket hijack: %w", err)
	}
	// Frames the client sent before seeing the 101 (none, normally) were
	// read into the server's buffer; keep them, and drop the buffer.
	var src io.Reader = conn
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		src = io.MultiReader(bytes.NewReader(bytes.Clone(b)), conn)
	}
	ww := newWSWriter(conn, src, timeout)
	ww.mu.Lock()
	err = ww.writeLocked(net.Buffers{wsResponseHead(w.Header(), key)}, &ww.out)
	ww.mu.Unlock()
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	go func() {
		defer close(ww.readDone)
		// The client's frames are parsed here: a panic ends this player.
		readEnded(panics.Run(access.ProtoWSFLV, ww.readLoop))
	}()
	return ww, nil
}
