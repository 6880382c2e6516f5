package relay

import "github.com/ripplemedia/ripple/pkg/av"

// switchStep is the DTS step, in ms, between the last packet from one origin
// and the first from the next: about one frame.
const switchStep = 40

// splice keeps one pull's timestamps continuous across origin switches, so
// the local stream keeps its hub publisher (and its players) when the pull
// moves to another origin. Each origin has its own clock, and it starts us at
// its cached keyframe, up to a GOP behind what the previous origin delivered:
// fed raw, the hub would clamp or rebase that back-step track by track. The
// splice shifts each origin session by one offset, for both tracks (A/V sync
// is the origin's), so that it continues switchStep after the highest DTS sent
// so far, and after a switch drops media until a video keyframe so players
// never decode the new origin's frames against references they lack.
//
// The first session passes timestamps through: the hub rebases them itself.
// Output stays in the 32-bit wire domain the hub expects (it unwraps).
type splice struct {
	started  bool // a media packet was written
	hasVideo bool
	last     int64 // highest DTS written, unwrapped

	// Per origin session.
	anchored bool
	waitKey  bool
	offset   int64
	prevWire uint32
	ext      int64 // prevWire unwrapped
}

// newSession starts an origin session.
func (s *splice) newSession() {
	s.anchored = false
	s.waitKey = s.started && s.hasVideo
}

// admit rewrites p.DTS and reports whether p should be written (false: media
// before the first keyframe of a new session). Script data rides at the
// stream's current time in the hub and is left alone.
func (s *splice) admit(p *av.Packet) bool {
	if p.Kind == av.KindData {
		return true
	}
	if s.waitKey && !p.Header {
		if p.Kind != av.KindVideo || !p.Keyframe {
			return false
		}
		s.waitKey = false
	}
	w := uint32(p.DTS)
	if p.Header && !s.anchored {
		// Sequence headers come first with whatever timestamp the origin
		// had for them (often the start of its stream): keep them at the
		// current time rather than anchoring the session on them.
		if s.started {
			p.DTS = int64(uint32(s.last))
		}
		return true
	}
	if !s.anchored {
		s.anchored = true
		s.prevWire, s.ext = w, int64(w)
		if s.started {
			s.offset = s.last + switchStep - s.ext
		} else {
			s.offset = 0
		}
	} else {
		// RTMP 1.0 §5.3.1: 32-bit timestamps wrap; serial arithmetic.
		s.ext += int64(int32(w - s.prevWire))
		s.prevWire = w
	}
	out := s.ext + s.offset
	p.DTS = int64(uint32(out))
	if !s.started || out > s.last {
		s.last = out
	}
	s.started = true
	if p.Kind == av.KindVideo {
		s.hasVideo = true
	}
	return true
}
