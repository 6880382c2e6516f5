package rtmp

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/batch"
)

// playState is a running play: a batch.Source drained by the writer
// goroutine, which waits on the reader's Ready in its own select (no pump
// goroutine, no hand-over channel between the hub and the socket).
type playState struct {
	src      *batch.Source
	ready    <-chan struct{}
	streamID uint32
	// Forwarding (a client connection publishing a hub stream, see
	// ClientConn.Forward): the reader's end is reported on ended and the
	// connection goes on; count adds up the bytes written.
	ended chan<- error
	count *atomic.Uint64
}

// startPlay starts sending r's packets on stream msid. On a server
// connection (ended nil), eviction or a kick ends the connection at once,
// even while the writer is blocked on a stalled socket (batch.NewSource),
// and io.EOF is left to the writer: the packets still queued are written
// first, then StreamEOF. When forwarding, every end of the reader is
// reported on ended after the packets queued before it were written.
func (w *writer) startPlay(r *hub.Reader, msid uint32, ended chan<- error, count *atomic.Uint64) {
	w.stopPlay()
	var kick func(error)
	if ended == nil {
		fail := w.fail
		kick = func(err error) { fail(fmt.Errorf("play %q: %w", r.Key(), err)) }
	}
	src := batch.NewSource(r, kick)
	w.play = &playState{src: src, ready: src.Ready(), streamID: msid, ended: ended, count: count}
	w.bw.SetSource(src)
}

// stopPlay detaches the reader.
func (w *writer) stopPlay() {
	ps := w.play
	if ps == nil {
		return
	}
	w.play = nil
	w.bw.SetSource(nil)
	ps.src.Close()
}

// drainPlay runs when the reader's Ready fires (the hub wakes readers at
// flush points, e.g. a video frame, not per packet): it frames everything
// queued into the batch, which the loop then writes with one writev. A
// batch that reaches the batch limits is written on the way (a join
// replays a whole GOP).
func (w *writer) drainPlay() error {
	if err := w.play.src.Drain(w); err != nil {
		return w.playEnded(err)
	}
	return nil
}

// isReaderEnd reports a hub reader's terminal error.
func isReaderEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, hub.ErrSlowReader) || errors.Is(err, hub.ErrClosed)
}

// Frame adds one packet of the play to the batch (batch.Framer).
func (w *writer) Frame(p *av.Packet) error {
	if err := w.addPacket(p, w.play.streamID); err != nil {
		return err
	}
	return w.flushIfFull()
}

// playEnded handles the end of a drain: the reader's terminal error, after
// every queued packet was framed, or a write error.
func (w *writer) playEnded(err error) error {
	ps := w.play
	if ps.ended != nil && isReaderEnd(err) {
		// Forwarding: write what was framed, then hand the end to
		// Forward's caller; the connection stays up (a new reader may
		// follow on it).
		if ferr := w.flush(); ferr != nil {
			return ferr
		}
		w.stopPlay()
		ps.ended <- err // buffered: Forward may have returned already
		return nil
	}
	if errors.Is(err, hub.ErrSlowReader) || errors.Is(err, hub.ErrClosed) {
		// Evicted or kicked.
		return fmt.Errorf("play %q: %w", ps.src.Reader().Key(), err)
	}
	if !errors.Is(err, io.EOF) {
		return err // the socket
	}
	// RTMP 1.0 §7.1.7 StreamEOF, then the status librtmp and ffmpeg treat
	// as end of stream (docs/interop.md §4).
	w.appendMessage(csidControl, UserControlMessage(EventStreamEOF, ps.streamID))
	w.appendMessage(csidCommand, onStatusMessage(ps.streamID, levelStatus, codePlayUnpublish,
		"stream is now unpublished"))
	return ErrStreamEnded
}
