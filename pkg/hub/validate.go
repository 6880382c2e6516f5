package hub

import (
	"log/slog"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
)

// PacketValidator checks the packets of one publisher before they enter
// the stream (Config.Validator; pkg/ingest implements it for the codecs it
// knows). Check is called by WritePacket, on the publisher's goroutine and
// outside every hub lock, so it may keep per-session state without
// locking. It must not block, modify p or keep p.Data. A non-nil error
// says why p must be dropped: the hub counts it in the stream's
// InvalidPackets, logs it at most once per second per stream, and the
// publisher goes on.
type PacketValidator interface {
	Check(p *av.Packet) error
}

// invalidLogEvery is the least time between two "invalid packet dropped"
// lines of one stream.
const invalidLogEvery = time.Second

// invalidLog counts a stream's rejected packets and rate-limits their log
// lines (docs/architecture.md §8.3: never a line per packet). Guarded by stream.mu.
type invalidLog struct {
	n          uint64    // rejected packets, over the stream's life
	last       error     // why the last one was rejected
	loggedAt   time.Time // last line; zero before the first
	suppressed uint64    // rejected since the last line, not logged
}

// newValidator makes the PacketValidator of a new publisher, or nil.
func (h *Hub) newValidator() PacketValidator {
	if h.cfg.Validator == nil {
		return nil
	}
	return h.cfg.Validator()
}

// dropInvalid drops a packet p.v rejected with cause: it is counted in
// the stream and the hub and logged at most once per invalidLogEvery. The
// packet touches no stream state. It returns what WritePacket would have
// returned for a valid packet: nil, or why p is no longer the publisher.
func (p *Publisher) dropInvalid(cause error) error {
	s := p.s
	h := s.h
	s.mu.Lock()
	if s.pub != p {
		err := p.err
		s.mu.Unlock()
		return err
	}
	h.invalid.Add(1)
	l := &s.invalid
	l.n++
	l.last = cause
	now := h.now()
	var line invalidLine
	if l.loggedAt.IsZero() || now.Sub(l.loggedAt) >= invalidLogEvery {
		line = invalidLine{err: cause, dropped: l.suppressed}
		l.loggedAt, l.suppressed = now, 0
	} else {
		l.suppressed++
	}
	s.mu.Unlock()
	line.log(h.log, s.key)
	return nil
}

// takeSuppressedLocked returns the line that reports the rejected packets
// not logged yet (when a publisher leaves, so a burst is not left
// unreported), or an empty line.
func (s *stream) takeSuppressedLocked() invalidLine {
	l := &s.invalid
	if l.suppressed == 0 {
		return invalidLine{}
	}
	line := invalidLine{err: l.last, dropped: l.suppressed - 1}
	l.loggedAt, l.suppressed = s.h.now(), 0
	return line
}

// invalidLine is one log line to write once the stream lock is released;
// the zero value writes nothing. dropped counts the packets rejected since
// the previous line and not logged (the one in err excluded).
type invalidLine struct {
	err     error
	dropped uint64
}

func (l invalidLine) log(log *slog.Logger, key string) {
	if l.err == nil {
		return
	}
	log.Warn("invalid packet dropped", "stream", key, "err", l.err, "dropped", l.dropped)
}

// InvalidPackets returns how many packets PacketValidators rejected since
// the hub started, over all streams (ended ones included).
func (h *Hub) InvalidPackets() uint64 { return h.invalid.Load() }
