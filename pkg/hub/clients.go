package hub

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// ReaderSnapshot describes one attached reader (a client of the API).
type ReaderSnapshot struct {
	ID    uint64 // Reader.ID
	Key   string // stream key
	Info  ReaderInfo
	Since time.Time // when it subscribed
	Bytes uint64    // reported by the protocol with Reader.AddBytes
	ReaderStats
	// Lag is the media time queued for the reader: newest minus oldest
	// queued DTS. A reader keeping up has a lag near zero.
	Lag time.Duration
}

// Readers returns a snapshot of every reader attached to a live stream
// (including streams inside their reconnect grace), sorted by ID. Readers
// of an ended stream that are still draining their queue are not listed.
func (h *Hub) Readers() []ReaderSnapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []ReaderSnapshot
	for _, s := range h.streams {
		s.mu.Lock()
		for _, r := range s.readers {
			out = append(out, r.snapshot())
		}
		s.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b ReaderSnapshot) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// KickReader closes the reader with the given ID, as Reader.Close does: the
// protocol's Read returns ErrClosed and it closes its connection. It reports
// whether such a reader was attached.
func (h *Hub) KickReader(id uint64) bool {
	r := h.findReader(id)
	if r == nil {
		return false
	}
	h.log.Info("reader kicked", "stream", r.s.key, "proto", r.info.Protocol, "remote", r.info.RemoteAddr, "reader", id)
	r.Close()
	return true
}

func (h *Hub) findReader(id uint64) *Reader {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.streams {
		s.mu.Lock()
		for _, r := range s.readers {
			if r.id == id {
				s.mu.Unlock()
				return r
			}
		}
		s.mu.Unlock()
	}
	return nil
}

// KickPublisher ends the publisher of key: its Done is closed and Err
// returns ErrKicked (the protocol closes its connection), and the stream's
// readers follow the reconnect grace as if the publisher had left.
// It returns ErrStreamNotFound if key has no publisher.
func (h *Hub) KickPublisher(key string) error {
	h.mu.Lock()
	s := h.streams[key]
	var p *Publisher
	if s != nil {
		s.mu.Lock()
		p = s.pub
		s.mu.Unlock()
	}
	h.mu.Unlock()
	// p may stop on its own before stop takes the locks again: then it is
	// gone anyway and the kick reports so.
	if p == nil || !p.stop(ErrKicked, true, false) {
		return fmt.Errorf("kick %q: %w", key, ErrStreamNotFound)
	}
	return nil
}

// Traffic returns the bytes received from publishers and reported written
// to readers since the hub started.
func (h *Hub) Traffic() (in, out uint64) {
	// endedBytesIn grows under h.mu as a stream leaves h.streams, so
	// holding h.mu counts every stream exactly once.
	h.mu.Lock()
	defer h.mu.Unlock()
	in = h.endedBytesIn.Load()
	for _, s := range h.streams {
		s.mu.Lock()
		in += s.bytesIn
		s.mu.Unlock()
	}
	return in, h.bytesOut.Load()
}
