package batch

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/ripplemedia/ripple/pkg/internal/netx"
)

// ErrStopped is returned by Out.Write after Stop (e.g. a WebSocket close
// frame was sent: no frame may follow it).
var ErrStopped = errors.New("batch: output stopped")

// Out writes batches to one destination: one writev on TCP and Unix
// sockets (net.Buffers.WriteTo), through a bufio.Writer elsewhere (TLS,
// files), or slice by slice followed by a Flush (an http.ResponseWriter
// behind a Flush method). Each write runs within about the write timeout
// when the destination has SetWriteDeadline (netx.WriteDeadline). Its lock
// lets another goroutine write a control message between two batches (a
// WebSocket pong or close frame) without interleaving.
type Out struct {
	w   io.Writer
	d   netx.Deadliner // nil: no deadline
	bw  *bufio.Writer  // coalesces writes without writev; nil with writev
	fl  flusher        // flushed after each write without writev
	vec bool           // writev

	mu      sync.Mutex
	dl      netx.WriteDeadline
	wbufs   net.Buffers // what WriteTo consumes: a field, so it does not escape per write
	ctl     net.Buffers // one-element list for WriteControl
	stopped bool
}

type flusher interface{ Flush() error }

// NewOut returns an Out for w. With timeout > 0 and a SetWriteDeadline
// method, w gets per-write deadlines. Where writev is not available,
// bufSize > 0 puts a buffer of that size in front of w (16 KiB matches a
// TLS record); with bufSize 0 each slice is written to w as it is and w's
// Flush method, if any, runs after each batch.
func NewOut(w io.Writer, timeout time.Duration, bufSize int) *Out {
	o := &Out{w: w}
	if d, ok := w.(netx.Deadliner); ok && timeout > 0 {
		o.d, o.dl.Timeout = d, timeout
	}
	if c, ok := w.(net.Conn); ok && netx.Writev(c) {
		o.vec = true
		return o
	}
	if bufSize > 0 {
		o.bw = bufio.NewWriterSize(w, bufSize)
	}
	o.fl, _ = w.(flusher)
	return o
}

// Write writes bufs as one write and returns the bytes written. bufs is
// not modified. It fails with ErrStopped after Stop.
func (o *Out) Write(bufs net.Buffers) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return 0, ErrStopped
	}
	return o.writeLocked(bufs)
}

// WriteControl writes b, a message of its own, unless the output was
// stopped, in which case it writes nothing and returns nil. With final set
// the output stops after b: later writes fail with ErrStopped.
func (o *Out) WriteControl(b []byte, final bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return nil
	}
	o.stopped = final
	o.ctl = append(o.ctl[:0], b)
	_, err := o.writeLocked(o.ctl)
	o.ctl[0] = nil
	return err
}

func (o *Out) writeLocked(bufs net.Buffers) (int64, error) {
	if o.d != nil {
		if err := o.dl.Arm(o.d, time.Now()); err != nil {
			return 0, err
		}
	}
	if o.vec {
		o.wbufs = bufs
		n, err := o.wbufs.WriteTo(o.w)
		o.wbufs = nil
		return n, err
	}
	w := o.w
	if o.bw != nil {
		w = o.bw
	}
	var n int64
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		m, err := w.Write(b)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	if o.bw != nil {
		if err := o.bw.Flush(); err != nil {
			return n, err
		}
	}
	if o.fl != nil {
		return n, o.fl.Flush()
	}
	return n, nil
}
