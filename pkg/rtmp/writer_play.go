package rtmp

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// playState is a running play. The writer goroutine waits on the reader's
// Ready channel in its own select and drains the reader with TryRead: no
// pump goroutine and no hand-over channel between the hub and the socket.
type playState struct {
	r        *hub.Reader
	ready    <-chan struct{}
	done     <-chan struct{} // r.Done()
	streamID uint32
	batch    []*av.Packet // reused TryRead buffer, cleared after each use
	// stopped is set before the writer closes the reader itself, so the
	// AfterEnd callback does not mistake that Close for a kick.
	stopped   atomic.Bool
	stopWatch func() bool // cancels the AfterEnd callback
}

// startPlay starts sending r's packets on stream msid.
//
// A writer blocked on a stalled socket does not look at Ready, so eviction
// (or a kick) would only be noticed at the write deadline. AfterEnd closes
// the connection as soon as the reader ends that way, without a goroutine
// per player until it happens. io.EOF is left to the writer: the packets
// still queued must be written first, then StreamEOF.
func (w *writer) startPlay(r *hub.Reader, msid uint32) {
	w.stopPlay()
	ps := &playState{
		r:        r,
		ready:    r.Ready(),
		done:     r.Done(),
		streamID: msid,
		batch:    make([]*av.Packet, 0, readBatchLen),
	}
	fail := w.fail
	ps.stopWatch = r.AfterEnd(func() {
		err := r.Err()
		if ps.stopped.Load() || errors.Is(err, io.EOF) {
			return
		}
		fail(fmt.Errorf("play %q: %w", r.Key(), err))
	})
	w.play = ps
}

// stopPlay detaches the reader.
func (w *writer) stopPlay() {
	ps := w.play
	if ps == nil {
		return
	}
	w.play = nil
	ps.stopped.Store(true)
	ps.stopWatch()
	ps.r.Close()
}

// drainPlay runs when the reader's Ready fires (the hub wakes readers at
// flush points, e.g. a video frame, not per packet): it takes everything
// queued and frames it into the batch, which the loop then writes with one
// writev. It drains to the end: nothing wakes the writer again for packets
// left behind. A batch that reaches maxBatchBytes or maxBatchBufs is
// written on the way (a join replays a whole GOP).
func (w *writer) drainPlay() error {
	ps := w.play
	for {
		pkts, err := ps.r.TryRead(ps.batch[:0])
		for _, p := range pkts {
			ferr := w.makeRoom(p)
			if ferr == nil {
				w.appendPacket(p, ps.streamID)
				ferr = w.flushIfFull()
			}
			if ferr != nil {
				clear(pkts)
				return ferr
			}
		}
		clear(pkts) // do not pin packets until the slice is reused
		ps.batch = pkts[:0]
		if err != nil {
			return w.playEnded(err)
		}
		if len(pkts) < cap(pkts) {
			// Fewer than asked for: the queue is empty now. If the
			// reader has ended meanwhile, the wake-up that said so may
			// be the one being served: take its terminal error now.
			select {
			case <-ps.done:
			default:
				return nil
			}
		}
	}
}

// playEnded handles the reader's terminal error, after every queued packet
// was framed.
func (w *writer) playEnded(err error) error {
	ps := w.play
	if !errors.Is(err, io.EOF) {
		// Evicted (hub.ErrSlowReader) or kicked (hub.ErrClosed).
		return fmt.Errorf("play %q: %w", ps.r.Key(), err)
	}
	// RTMP 1.0 §7.1.7 StreamEOF, then the status librtmp and ffmpeg treat
	// as end of stream (docs/interop.md §4).
	w.appendMessage(csidControl, UserControlMessage(EventStreamEOF, ps.streamID))
	w.appendMessage(csidCommand, onStatusMessage(ps.streamID, levelStatus, codePlayUnpublish,
		"stream is now unpublished"))
	return ErrStreamEnded
}
