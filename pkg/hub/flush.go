package hub

import (
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
)

// Flush points (docs/performance.md §4). Each protocol writer writes whatever its reader
// has queued when Ready fires, as one writev, so the number of writes per
// player (the dominant cost: writev is ~70 % of a player's CPU) is the
// number of times its reader is woken. That is decided here, once per
// packet for all readers of a stream, instead of by a timer per player:
//
//   - low latency (MergeWindow 0, the default): a video frame, a sequence
//     header or metadata wakes the readers; audio rides with the next video
//     frame (AAC at 44.1 kHz comes 43 times a second, video 30: waking on
//     both doubled the writes). Audio waits at most AudioHold: a later
//     packet wakes the readers once the oldest held audio is that old, and
//     one timer per stream flushes it when nothing follows (video paused,
//     publisher silent). An audio-only stream wakes on every packet.
//   - merge window (MergeWindow > 0, SRS's "merged write"): readers are
//     woken at most once per window, whatever arrives; the per-stream timer
//     wakes them at the end of a window that has packets waiting. Each
//     player then writes a window's worth of media in one writev: fewer,
//     larger writes, for up to MergeWindow of added latency.
//
// New readers are woken at once for their primed queue (metadata, headers,
// GOP cache), so the first frame never waits for a flush point.

// AudioHold is the longest audio waits for a video frame to ride with in
// low-latency mode.
const AudioHold = 50 * time.Millisecond

// flushState is a stream's flush-point state, guarded by stream.mu.
type flushState struct {
	lastWake time.Time // the last time the readers were woken
	// heldSince is when the oldest packet queued without a wake was
	// written; zero when every queued packet has been signalled.
	heldSince time.Time
	timer     resetter // lazily created, re-armed with Reset
	armed     bool
}

// resetter is the part of *time.Timer the flush timer uses.
type resetter interface {
	Stop() bool
	Reset(time.Duration) bool
}

// wakeLocked decides whether p is a flush point; the caller offers p to the
// readers with the answer and calls heldLocked when it is not.
func (s *stream) wakeLocked(p *av.Packet, now time.Time) bool {
	f := &s.flush
	var wake bool
	if w := s.h.cfg.MergeWindow; w > 0 {
		wake = now.Sub(f.lastWake) >= w
	} else {
		wake = p.Kind != av.KindAudio || p.Header || !s.hasVideo ||
			(!f.heldSince.IsZero() && now.Sub(f.heldSince) >= AudioHold)
	}
	if wake {
		f.lastWake, f.heldSince = now, time.Time{}
	}
	return wake
}

// heldLocked records that a packet was queued without waking the readers
// and makes sure the stream's timer will wake them in time.
func (s *stream) heldLocked(now time.Time) {
	f := &s.flush
	if f.heldSince.IsZero() {
		f.heldSince = now
	}
	if !f.armed {
		s.armFlushLocked(s.flushDeadlineLocked().Sub(now))
	}
}

// flushDeadlineLocked is when held packets must go out.
func (s *stream) flushDeadlineLocked() time.Time {
	if w := s.h.cfg.MergeWindow; w > 0 {
		return s.flush.lastWake.Add(w)
	}
	return s.flush.heldSince.Add(AudioHold)
}

func (s *stream) armFlushLocked(d time.Duration) {
	f := &s.flush
	d = max(d, time.Millisecond)
	f.armed = true
	if f.timer == nil {
		f.timer = s.h.newTimer(d, s.flushTimerFired)
		return
	}
	f.timer.Reset(d)
}

// flushTimerFired wakes the readers if held packets are due; a wake by a
// later packet since the timer was armed makes it re-arm or do nothing.
func (s *stream) flushTimerFired() {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &s.flush
	f.armed = false
	if s.ended || f.heldSince.IsZero() {
		return
	}
	now := s.h.now()
	if d := s.flushDeadlineLocked().Sub(now); d > 0 {
		s.armFlushLocked(d)
		return
	}
	f.lastWake, f.heldSince = now, time.Time{}
	for _, r := range s.readers {
		r.signal()
	}
}

// stopFlushLocked disarms the timer (the stream ended).
func (s *stream) stopFlushLocked() {
	if s.flush.timer != nil {
		s.flush.timer.Stop()
	}
	s.flush.armed = false
}
