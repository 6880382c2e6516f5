package batch

import (
	"errors"
	"io"
	"sync/atomic"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// Framer adds one packet to its batch, writing the batch first or after
// when it is full. It is an interface, not a func, so that passing it per
// drain does not allocate.
type Framer interface {
	Frame(p *av.Packet) error
}

// Source is a hub reader drained by one writer goroutine: the goroutine
// waits on Ready (in its own select, or a plain receive) and calls Drain.
// There is no goroutine per player and no hand-over channel between the
// hub and the socket.
type Source struct {
	r    *hub.Reader
	done <-chan struct{}
	pkts []*av.Packet // reused TryRead buffer, cleared after each use
	// closing is set before the writer closes the reader itself, so the
	// AfterEnd callback does not mistake that Close for a kick.
	closing   atomic.Bool
	stopWatch func() bool
}

// NewSource takes over r. A writer blocked on a stalled socket does not
// look at Ready, so eviction (hub.ErrSlowReader) or a kick (hub.ErrClosed)
// would only be noticed at the write deadline: kick is called, from a
// goroutine of its own, as soon as the reader ends that way, to close the
// connection at once (which also frees its kernel buffers). The end of the
// stream (io.EOF) is not a kick: the packets still queued are written
// first, then Drain returns io.EOF. With kick nil, nothing is watched.
func NewSource(r *hub.Reader, kick func(error)) *Source {
	s := &Source{r: r, done: r.Done(), pkts: make([]*av.Packet, 0, ReadPackets)}
	if kick != nil {
		s.stopWatch = r.AfterEnd(func() {
			err := r.Err()
			if s.closing.Load() || errors.Is(err, io.EOF) {
				return
			}
			kick(err)
		})
	}
	return s
}

// Reader returns the hub reader.
func (s *Source) Reader() *hub.Reader { return s.r }

// Ready receives when packets may have been queued or the reader ended.
func (s *Source) Ready() <-chan struct{} { return s.r.Ready() }

// Drain takes everything queued and hands it to f, packet by packet, in
// order. It drains to the end, because nothing wakes the writer again for
// packets left behind, and returns nil once the queue is empty, the
// reader's terminal error (io.EOF, hub.ErrSlowReader, hub.ErrClosed) once
// every packet queued before it was framed, or f's error.
func (s *Source) Drain(f Framer) error {
	for {
		pkts, err := s.r.TryRead(s.pkts[:0])
		for _, p := range pkts {
			if ferr := f.Frame(p); ferr != nil {
				clear(pkts)
				return ferr
			}
		}
		clear(pkts) // do not pin packets until the slice is reused
		s.pkts = pkts[:0]
		if err != nil {
			return err
		}
		if len(pkts) < cap(pkts) {
			// Fewer than asked for: the queue is empty now. If the
			// reader has ended meanwhile, the wake-up that said so may
			// be the one being served: take its terminal error now.
			select {
			case <-s.done:
			default:
				return nil
			}
		}
	}
}

// Close detaches the reader (not a kick). Idempotent.
func (s *Source) Close() {
	s.closing.Store(true)
	if s.stopWatch != nil {
		s.stopWatch()
	}
	s.r.Close()
}
