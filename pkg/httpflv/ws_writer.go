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
	"github.com/ripplemedia/ripple/pkg/internal/batch"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
)

// wsWriter carries the FLV byte stream in WebSocket binary messages on a
// hijacked connection, one single-frame message per batch (the FLV header
// alone is the first message). flv.js and mpegts.js treat the payloads as
// one byte stream, so message boundaries are free. Each batch is a frame
// header (2, 4 or 10 bytes) + the shared tag slices, handed to the kernel
// with one writev by the batch writer, like the HTTP chunks of
// chunkedFraming: no copy per player.
//
// A WebSocket library would copy every batch through its own buffer in
// 4 KiB writes and arm a timer per message: ripple-bench measured WS-FLV
// with coder/websocket at 1.5× the CPU of HTTP-FLV per player and about
// 200 KB of RSS per player at 1,000 players.
//
// The player goroutine writes media; the reader goroutine (readLoop)
// answers pings and the close handshake through out.WriteControl, which
// serialises them with the media writes, so a control frame never lands
// inside a media frame, and no frame follows a close frame (RFC 6455
// §5.5.1).
type wsWriter struct {
	conn net.Conn
	src  io.Reader // the client's frames: conn, after what the HTTP server had buffered
	out  *batch.Out

	ctlMu sync.Mutex // guards ctl: both goroutines send control frames
	ctl   [wsMaxHeader + wsMaxControl]byte

	hdr [10]byte // the media frame header, used by Seal (player goroutine)

	readDone chan struct{} // closed when readLoop returns
	frame    wsFrame       // readLoop's frame; a field, so its buffer is not a per-frame allocation
}

// wsCloseWait bounds how long the end of a stream waits for the client to
// answer its close frame before closing the connection.
const wsCloseWait = 5 * time.Second

// wsReserved is the slot Seal fills: the frame header.
const wsReserved = 1

func newWSWriter(conn net.Conn, src io.Reader, timeout time.Duration) *wsWriter {
	// A TLS record holds at most 16 KiB: a larger buffer saves no write.
	return &wsWriter{conn: conn, out: batch.NewOut(conn, timeout, 16<<10), src: src, readDone: make(chan struct{})}
}

// Seal puts the header of one binary frame in front of the batch. The 101
// answer went out in acceptWS: an empty batch sends nothing.
func (w *wsWriter) Seal(b *batch.Batch) {
	if b.Payload > 0 {
		b.Bufs[0] = appendFrameHeader(w.hdr[:0], wsOpBinary, b.Payload)
	}
}

func (w *wsWriter) Written() {}

// writeControl sends a control frame unless a close frame was sent
// already; sending a close frame forbids any later frame.
func (w *wsWriter) writeControl(frame func(b []byte) []byte, isClose bool) error {
	w.ctlMu.Lock()
	defer w.ctlMu.Unlock()
	return w.out.WriteControl(frame(w.ctl[:0]), isClose)
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
// connection p's output. A refused handshake is answered (400, 403, 426) and
// returned.
func (h *Handler) startWS(w http.ResponseWriter, r *http.Request, p *player) (end func(error), err error) {
	ww, err := acceptWS(w, r, h.cors.Origins(), h.cfg.WriteTimeout, p.cancel, h.cfg.Panics)
	if err != nil {
		return nil, err
	}
	p.setConn(ww.conn)
	p.w = batch.NewWriter(ww.out, ww, wsReserved)
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
		b, _ := brw.Reader.Peek(n) //nolint:staticcheck // the same buffer as Buffered above, which needs .Reader
		src = io.MultiReader(bytes.NewReader(bytes.Clone(b)), conn)
	}
	ww := newWSWriter(conn, src, timeout)
	if _, err = ww.out.Write(net.Buffers{wsResponseHead(w.Header(), key)}); err != nil {
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
