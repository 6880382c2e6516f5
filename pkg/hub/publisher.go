package hub

import (
	"fmt"

	"github.com/ripplemedia/ripple/pkg/av"
)

// Publisher writes packets into one stream.
type Publisher struct {
	s    *stream
	info PublisherInfo
	done chan struct{}
	v    PacketValidator // nil: no validation; used only by WritePacket's caller goroutine

	// Guarded by s.mu.
	err     error // why the publisher is detached; nil while it is current
	doneErr error // what Err reports once done is closed
}

func newPublisher(s *stream, info PublisherInfo, v PacketValidator) *Publisher {
	return &Publisher{s: s, info: info, done: make(chan struct{}), v: v}
}

// detachLocked records why p stopped being the stream's publisher. external
// is true when p is ended from outside (takeover, Hub.Close): Done closes.
func (p *Publisher) detachLocked(err error, external bool) {
	if p.err != nil {
		return
	}
	p.err = err
	if external {
		p.doneErr = err
		close(p.done)
	}
}

// WritePacket hands pkt to the stream. The hub rewrites pkt.DTS (unwrap,
// monotonic per track, rebase) and then pkt is shared and immutable: the
// caller must not touch it again. Never blocks on readers. Returns
// ErrReplaced after a takeover, ErrPublisherClosed after Close, ErrClosed
// after Hub.Close.
//
// With a Config.Validator, pkt is checked first, outside the stream lock;
// a packet that fails is dropped and counted and WritePacket returns nil
// (validate.go). WritePacket must then not be called concurrently.
func (p *Publisher) WritePacket(pkt *av.Packet) error {
	if pkt == nil {
		return fmt.Errorf("hub: write to %q: nil packet", p.s.key)
	}
	switch pkt.Kind {
	case av.KindVideo, av.KindAudio, av.KindData:
	default:
		return fmt.Errorf("hub: write to %q: packet kind %d unknown", p.s.key, pkt.Kind)
	}
	if p.v != nil {
		if err := p.v.Check(pkt); err != nil {
			return p.dropInvalid(err)
		}
	}
	s := p.s
	s.mu.Lock()
	if s.pub != p {
		err := p.err
		s.mu.Unlock()
		return err
	}
	evicted := s.writeLocked(pkt)
	s.mu.Unlock()
	if evicted > 0 {
		s.h.log.Warn("slow readers evicted", "stream", s.key, "evicted", evicted)
	}
	return nil
}

// Close ends publishing. Readers stay attached for ReconnectGrace; if no
// publisher resumes the key in time they drain their queues and get io.EOF.
// Idempotent.
func (p *Publisher) Close() { p.stop(ErrPublisherClosed, false, false) }

// End ends publishing and the stream at once, skipping the reconnect
// grace: for a publisher that said it stops (RTMP FCUnpublish,
// deleteStream, closeStream), whose players should not wait for a return
// that will not come. EventUnpublish then EventStreamEnd are emitted; the
// readers drain their queues and get io.EOF. After End, WritePacket returns
// ErrPublisherClosed. End does nothing once p is no longer the stream's
// publisher (after Close, End, a takeover or a kick), so a stream inside its
// grace keeps it. Idempotent.
func (p *Publisher) End() { p.stop(ErrPublisherClosed, false, true) }

// stop detaches p with cause (external: Done closes, as for a kick) and
// starts the reconnect grace or ends the stream (always with now). It
// reports whether p was still the stream's publisher.
func (p *Publisher) stop(cause error, external, now bool) bool {
	s := p.s
	h := s.h
	h.mu.Lock()
	s.mu.Lock()
	if s.pub != p {
		s.mu.Unlock()
		h.mu.Unlock()
		return false
	}
	p.detachLocked(cause, external)
	s.pub = nil
	invalid := s.takeSuppressedLocked()
	grace := h.cfg.ReconnectGrace
	if now {
		grace = 0
	}
	if grace > 0 {
		s.startGraceLocked(grace)
	} else {
		s.endLocked()
		if h.streams[s.key] == s {
			delete(h.streams, s.key)
		}
	}
	s.mu.Unlock()
	h.mu.Unlock()
	invalid.log(h.log, s.key)
	h.emit(Event{Type: EventUnpublish, Key: s.key, Publisher: p.info})
	switch {
	case grace > 0:
		h.log.Info("publish stopped", "stream", s.key, "grace", grace, "cause", cause)
	case now:
		h.log.Info("stream ended", "stream", s.key, "cause", "the publisher stopped it")
		h.emit(Event{Type: EventStreamEnd, Key: s.key})
	default:
		h.log.Info("stream ended", "stream", s.key, "cause", cause)
		h.emit(Event{Type: EventStreamEnd, Key: s.key})
	}
	return true
}

// Done is closed when the publisher is ended from outside (takeover, kick,
// Hub.Close); Err then says why. Close does not close it.
func (p *Publisher) Done() <-chan struct{} { return p.done }

// Err returns why Done was closed (ErrReplaced, ErrKicked, ErrClosed), or nil.
func (p *Publisher) Err() error {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.doneErr
}

// Key returns the stream key.
func (p *Publisher) Key() string { return p.s.key }

// Info returns what the publisher was created with.
func (p *Publisher) Info() PublisherInfo { return p.info }
