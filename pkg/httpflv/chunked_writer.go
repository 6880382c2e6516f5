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

	"github.com/ripplemedia/ripple/pkg/internal/batch"
)

// chunkedFraming frames an HTTP/1.x FLV response on a hijacked
// connection. net/http would copy every tag into its 4 KiB buffer and issue
// a write per buffer; here each batch is one HTTP chunk, hex(len) CRLF + the
// shared tag slices + CRLF (RFC 9112 §7.1), handed to the kernel with one
// writev by the batch writer.
type chunkedFraming struct {
	chunked bool   // false for HTTP/1.0 clients: the body ends at close
	head    []byte // status line and headers, sent with the first write
	last    bool   // the body is complete: the last chunk follows
	size    [18]byte
}

// chunkedReserved is the slots chunkedFraming fills: [head, chunk-size line].
const chunkedReserved = 2

var (
	crlf      = []byte("\r\n")
	lastChunk = []byte("0\r\n\r\n")
)

func (f *chunkedFraming) Seal(b *batch.Batch) {
	if f.head != nil {
		b.Bufs[0], f.head = f.head, nil
	}
	if !f.chunked {
		return
	}
	if b.Payload > 0 {
		// A zero-length chunk would end the body: only non-empty
		// batches are framed.
		b.Bufs[1] = append(strconv.AppendUint(f.size[:0], uint64(b.Payload), 16), '\r', '\n')
		b.Bufs = append(b.Bufs, crlf)
	}
	if f.last {
		b.Bufs = append(b.Bufs, lastChunk)
	}
}

func (f *chunkedFraming) Written() {}

// endChunked finishes the response: after the stream ended or on a
// graceful Shutdown, the last chunk tells the client the body is complete
// (a truncated body has no terminator).
func endChunked(w *batch.Writer, f *chunkedFraming, conn net.Conn, cause error) {
	if errors.Is(cause, io.EOF) || errors.Is(cause, errDraining) {
		f.last = true
		_ = w.Push() // best effort: the connection closes anyway
	}
	_ = conn.Close()
}

// startHTTP answers 200 and sets the player's writer: the hijacked
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
	f := &chunkedFraming{head: responseHead(hdr, chunked), chunked: chunked}
	w2 := batch.NewWriter(batch.NewOut(conn, h.cfg.WriteTimeout, 64<<10), f, chunkedReserved)
	p.w = w2

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
		endChunked(w2, f, conn, cause)
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
