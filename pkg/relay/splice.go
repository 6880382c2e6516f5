package relay

import (
	"hash/maphash"

	"github.com/ripplemedia/ripple/pkg/av"
)

// switchStep is the DTS step, in ms, between the last packet from one origin
// and the first from the next when their content cannot be aligned: about
// one frame.
const switchStep = 40

// alignWindowMS bounds how far back a new origin's first frame may match
// what was delivered: a GOP cache replays at most one GOP, and content that
// repeats (a looping clip, a still scene) must not match an older copy.
const alignWindowMS = 5000

// recentFrames is how many delivered video frames a splice remembers to
// align a new origin's replay with: more than a GOP cache holds at 60 fps
// with 10 s GOPs is not needed; 1024 covers 17 s at 60 fps.
const recentFrames = 1024

// Origin session modes.
const (
	modeFirst  = iota // the pull's first session: pass through
	modeAlign         // looking for the first video frame of the new origin
	modeDedupe        // aligned: drop what the old origin already delivered
	modeKey           // not alignable: wait for a keyframe, continue one step on
)

// splice keeps one pull's timestamps continuous across origin switches, so
// the local stream keeps its hub publisher (and its players) when the pull
// moves to another origin.
//
// A new origin starts us at its cached keyframe, up to a GOP behind what the
// previous origin delivered, on a clock of its own. When both origins carry
// the same encoder output (one encoder pushing to both, or one origin fed by
// the other), the new origin's first video frame is one the players already
// have: the splice finds it among the recently delivered frames by content,
// which gives the exact offset between the two clocks, drops the replay up to
// what was delivered and continues with the next frame, no repeat and no
// jump. Otherwise (another encoder) it waits for a keyframe and continues
// switchStep after the highest DTS sent. One offset per session keeps the
// origin's A/V sync.
//
// The first session passes timestamps through: the hub rebases them itself.
// Output stays in the 32-bit wire domain the hub expects (it unwraps).
type splice struct {
	started  bool // a media packet was written
	hasVideo bool
	last     int64    // highest DTS written, unwrapped
	lastKind [2]int64 // per track (video, audio), valid once the track was written
	seenKind [2]bool

	seed   maphash.Seed
	recent [recentFrames]recentFrame // ring of delivered video frames
	n      int                       // frames written to recent

	// Per origin session.
	mode     int
	anchored bool
	offset   int64
	prevWire uint32
	ext      int64 // prevWire unwrapped
	unwrap   bool  // prevWire is set
}

type recentFrame struct {
	hash uint64
	dts  int64
}

func track(k av.Kind) int {
	if k == av.KindAudio {
		return 1
	}
	return 0
}

// newSession starts an origin session.
func (s *splice) newSession() {
	s.anchored, s.unwrap = false, false
	switch {
	case !s.started:
		s.mode = modeFirst
	case s.hasVideo && s.n > 0:
		s.mode = modeAlign
	default:
		s.mode = modeKey
	}
}

// admit rewrites p.DTS and reports whether p should be written (false: a
// packet the players already have, or media before the new origin's first
// usable frame). Script data rides at the stream's current time in the hub
// and is left alone.
func (s *splice) admit(p *av.Packet) bool {
	if p.Kind == av.KindData {
		return true
	}
	// RTMP 1.0 §5.3.1: 32-bit timestamps wrap; serial arithmetic.
	w := uint32(p.DTS)
	if s.unwrap {
		s.ext += int64(int32(w - s.prevWire))
	} else {
		s.ext, s.unwrap = int64(w), true
	}
	s.prevWire = w

	if p.Header {
		// Sequence headers come first with whatever timestamp the origin
		// had for them (often the start of its stream): keep them at the
		// current time rather than anchoring the session on them.
		if s.started {
			p.DTS = int64(uint32(s.last))
		}
		return true
	}

	var h uint64
	if p.Kind == av.KindVideo {
		if s.seed == (maphash.Seed{}) {
			s.seed = maphash.MakeSeed()
		}
		h = frameHash(s.seed, p.Data)
	}
	switch s.mode {
	case modeFirst:
		if !s.anchored {
			s.anchored, s.offset = true, 0
		}
	case modeAlign:
		if p.Kind != av.KindVideo {
			return false // decided by the first video frame
		}
		if dts, ok := s.find(h); ok {
			s.anchored, s.offset, s.mode = true, dts-s.ext, modeDedupe
		} else {
			s.mode = modeKey
		}
	}
	if s.mode == modeKey && !s.anchored {
		if s.hasVideo && (p.Kind != av.KindVideo || !p.Keyframe) {
			return false
		}
		s.anchored, s.offset = true, s.last+switchStep-s.ext
	}

	out := s.ext + s.offset
	k := track(p.Kind)
	if s.mode == modeDedupe && s.seenKind[k] && out <= s.lastKind[k] {
		return false // the previous origin delivered it
	}
	p.DTS = int64(uint32(out))
	if !s.started || out > s.last {
		s.last = out
	}
	s.started = true
	s.lastKind[k], s.seenKind[k] = out, true
	if p.Kind == av.KindVideo {
		s.hasVideo = true
		s.recent[s.n%recentFrames] = recentFrame{hash: h, dts: out}
		s.n++
	}
	return true
}

// find returns the DTS at which a video frame with hash h was delivered
// within the last alignWindowMS, newest first.
func (s *splice) find(h uint64) (int64, bool) {
	for i := 1; i <= min(s.n, recentFrames); i++ {
		f := s.recent[(s.n-i)%recentFrames]
		if f.dts < s.last-alignWindowMS {
			break
		}
		if f.hash == h {
			return f.dts, true
		}
	}
	return 0, false
}

// spliceHashPrefix bounds how much of a frame identifies it: the length and
// the first bytes (codec header, slice header and the start of the coded
// data) tell two frames of the last few seconds apart without hashing
// every byte of every keyframe.
const spliceHashPrefix = 4 << 10

func frameHash(seed maphash.Seed, data []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var n [8]byte
	for i := range n {
		n[i] = byte(len(data) >> (8 * i))
	}
	_, _ = h.Write(n[:]) // maphash.Hash.Write never fails
	_, _ = h.Write(data[:min(len(data), spliceHashPrefix)])
	return h.Sum64()
}
