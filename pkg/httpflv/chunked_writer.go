package httpflv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// chunkedWriter writes an HTTP/1.x FLV response on a hijacked connection.
// net/http would copy every tag into its 4 KiB buffer and issue a write per
// buffer; here each batch is one HTTP chunk, hex(len) CRLF + the shared tag
// slices + CRLF (RFC 9112 §7.1), handed to the kernel with one writev.
type chunkedWriter struct {
	connOut
	chunked bool // false for HTTP/1.0 clients: the body ends at close

	head []byte      // status line and headers, sent with the first flush
	bufs net.Buffers // [head, chunk-size line, tag slices..., CRLF]; backing reused
	out  net.Buffers // what WriteTo consumes (it advances its receiver)
	n    int         // payload bytes in bufs
	size [18]byte    // chunk-size line
	sent uint64
}

var crlf = []byte("\r\n")

func newChunkedWriter(conn net.Conn, head []byte, chunked bool, timeout time.Duration) *chunkedWriter {
	return &chunkedWriter{connOut: newConnOut(conn, timeout, 64<<10), head: head, chunked: chunked}
}

func (w *chunkedWriter) add(b []byte) {
	if len(w.bufs) == 0 {
		w.bufs = append(w.bufs, w.head, nil)
	}
	w.bufs = append(w.bufs, b)
	w.n += len(b)
}

func (w *chunkedWriter) flush() error {
	if len(w.bufs) == 0 {
		if w.head == nil {
			return nil
		}
		w.bufs = append(w.bufs, w.head, nil)
	}
	if w.chunked && w.n > 0 {
		// A zero-length chunk would end the body: only non-empty
		// batches are framed.
		w.bufs[1] = append(strconv.AppendUint(w.size[:0], uint64(w.n), 16), '\r', '\n')
		w.bufs = append(w.bufs, crlf)
	}
	w.head = nil
	err := w.write()
	clear(w.bufs) // drop references to packet bytes until the next batch
	w.bufs = w.bufs[:0]
	w.sent += uint64(w.n)
	w.n = 0
	return err
}

// write sends w.bufs as one write.
func (w *chunkedWriter) write() error { return w.connOut.write(w.bufs, &w.out) }

func (w *chunkedWriter) bytes() uint64 { return w.sent }

// end finishes the response: after the stream ended or on a graceful
// Shutdown, the last chunk tells the client the body is complete (a
// truncated body has no terminator).
func (w *chunkedWriter) end(cause error) {
	if errors.Is(cause, io.EOF) || errors.Is(cause, errDraining) {
		if w.chunked {
			w.bufs = append(w.bufs[:0], w.head, []byte("0\r\n\r\n"))
		} else {
			w.bufs = append(w.bufs[:0], w.head)
		}
		_ = w.write() // best effort: the connection closes anyway
	}
	_ = w.conn.Close()
}

// startHTTP answers 200 and returns the player's sink: the hijacked
// connection when the ResponseWriter allows it (HTTP/1.x), otherwise the
// ResponseWriter itself (HTTP/2, wrappers, recorders).
func (h *Handler) startHTTP(w http.ResponseWriter, r *http.Request, p *player) (end func(error), err error) {
	hdr := w.Header()
	setFLVHeaders(hdr)
	rc := http.NewResponseController(w)
	if r.ProtoMajor != 1 {
		return startResponse(w, rc, p, h.cfg.WriteTimeout), nil
	}
	conn, _, err := rc.Hijack()
	if errors.Is(err, http.ErrNotSupported) {
		return startResponse(w, rc, p, h.cfg.WriteTimeout), nil
	}
	if err != nil {
		return nil, fmt.Errorf("hijack: %w", err)
	}
	p.setConn(conn)
	chunked := r.ProtoAtLeast(1, 1)
	cw := newChunkedWriter(conn, responseHead(hdr, chunked), chunked, h.cfg.WriteTimeout)
	p.sink = cw

	// Nothing more is expected from the client; a read that ends means it
	// went away (net/http stopped watching the connection at Hijack). Its
	// buffered bytes (a pipelined request at most) are not ours to answer.
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		discard(conn)
		p.cancel(errClientGone)
	}()
	return func(cause error) {
		cw.end(cause)
		<-readDone
	}, nil
}

// discard reads c until it fails, with a small buffer: io.Copy to
// io.Discard would hold an 8 KiB pooled buffer per player for the whole
// session while it waits for bytes that never come.
func discard(c net.Conn) {
	var buf [64]byte
	for {
		if _, err := c.Read(buf[:]); err != nil {
			return
		}
	}
}

// responseHead renders the status line and headers of a hijacked response.
// There is no Content-Length: the body is endless. The connection closes
// with the stream, as it is no longer net/http's to keep alive.
func responseHead(hdr http.Header, chunked bool) []byte {
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\n")
	if chunked {
		hdr.Set("Transfer-Encoding", "chunked")
	}
	hdr.Set("Connection", "close")
	hdr.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	_ = hdr.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes()
}
