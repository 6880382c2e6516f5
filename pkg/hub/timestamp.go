package hub

import "github.com/ripplemedia/ripple/pkg/av"

// Timestamp correction thresholds (docs/interop.md §7), in milliseconds.
const (
	// maxForwardJump: a larger forward step within a track is a
	// discontinuity (encoder restart, wall-clock camera), not real time.
	maxForwardJump = 3000
	// maxBackStepClamp: a back-step up to this is jitter and is clamped to
	// the last DTS; a larger one is a discontinuity and rebases the track.
	maxBackStepClamp = 500
	// defaultFrameDur is the step used after a discontinuity before a
	// track's typical frame duration is known.
	defaultFrameDur = 20
	// maxFrameDur caps the learnt frame duration.
	maxFrameDur = 1000
)

// trackClock is the timestamp state of one track (video or audio).
type trackClock struct {
	// Wire side, reset on republish.
	seen     bool   // a packet of this track arrived in this session
	lastWire uint32 // last wire timestamp
	ext      int64  // lastWire unwrapped to 64 bits
	offset   int64  // output = ext + offset

	// Output side, kept across republish.
	emitted bool  // a DTS has been emitted
	last    int64 // last emitted DTS
	dur     int64 // typical frame duration (smoothed positive steps)
}

func (c *trackClock) step() int64 {
	if c.dur > 0 {
		return c.dur
	}
	return defaultFrameDur
}

// timeline rewrites the wire timestamps of one stream into the stream's
// timeline (docs/interop.md §4 and §7): it starts at 0 on first publish, unwraps
// the 32-bit rollover with serial arithmetic, never goes back per track, and
// continues after the last DTS when a publisher resumes the stream.
//
// Both tracks normally share one offset, so their relative timing (A/V sync)
// is the encoder's. A discontinuity in one track rebases that track and
// proposes its new offset to the other: if the same offset also makes the
// other track continuous (encoder restart: both tracks jumped together) it
// is adopted and sync is kept; otherwise the other track rebases on its own,
// so a glitch in one track cannot make the tracks fight over the offset.
type timeline struct {
	tracks [2]trackClock // video, audio

	anchored bool  // offset set in this session
	offset   int64 // stream offset, latest proposal

	// Last wire timestamp of any track in this session: a track's first
	// packet is unwrapped relative to it, so tracks starting on either side
	// of a rollover stay comparable.
	refSet  bool
	refWire uint32
	refExt  int64

	// anchor, for a rendition, gives the offset of its first session
	// instead of starting at 0, so that its timeline is its source's
	// (renditionAnchor); nil for every other stream.
	anchor func(ext int64) int64

	started  bool  // a DTS has been emitted on any track
	now      int64 // highest DTS emitted on any track
	resumeAt int64 // first DTS of a resumed session; 0 until a resume
	fixes    uint64
}

func (t *timeline) track(k av.Kind) *trackClock {
	if k == av.KindAudio {
		return &t.tracks[1]
	}
	return &t.tracks[0]
}

// republish starts a new publisher session: wire clocks restart, the output
// continues one frame after the highest DTS emitted so far.
func (t *timeline) republish() {
	emitted := false
	step := int64(0)
	for i := range t.tracks {
		c := &t.tracks[i]
		c.seen = false
		if c.emitted {
			emitted = true
			step = max(step, c.step())
		}
	}
	t.anchored = false
	t.refSet = false
	if emitted {
		t.resumeAt = t.now + step
	}
}

// fix maps the wire timestamp of a packet of kind k to its stream DTS.
func (t *timeline) fix(k av.Kind, wire uint32) int64 {
	if k == av.KindData {
		// Script data has no clock of its own (encoders send onMetaData at
		// 0 or at any time): it rides at the stream's current time.
		return t.now
	}
	c := t.track(k)

	// Unwrap: the uint32 difference read as int32 (RTMP 1.0 §5.3.1:
	// timestamps wrap after 2^32 ms).
	var ext int64
	switch {
	case c.seen:
		ext = c.ext + int64(int32(wire-c.lastWire))
	case t.refSet:
		ext = t.refExt + int64(int32(wire-t.refWire))
	default:
		ext = int64(wire)
	}
	t.refSet, t.refWire, t.refExt = true, wire, ext
	if !t.anchored {
		t.anchored = true
		switch {
		case t.resumeAt > 0:
			t.offset = t.resumeAt - ext
		case t.anchor != nil:
			t.offset = t.anchor(ext)
		default:
			t.offset = -ext
		}
	}
	if !c.seen {
		c.seen = true
		c.offset = t.offset
	}
	c.lastWire, c.ext = wire, ext

	out := ext + c.offset
	switch {
	case !c.emitted:
		// First packet of this track on the stream.
		if t.started && (out-t.now > maxForwardJump || t.now-out > maxForwardJump) {
			// A track whose clock is far from the other's: join it now.
			c.offset = t.now - ext
			out = t.now
			t.fixes++
		} else if out < 0 {
			// Audio starting just before video: clamp rather than emit a
			// negative DTS; the shared offset keeps later packets in sync.
			out = 0
			t.fixes++
		}
	default:
		d := out - c.last
		switch {
		case d > maxForwardJump || d < -maxBackStepClamp:
			t.fixes++
			if cand := ext + t.offset; c.offset != t.offset &&
				cand-c.last <= maxForwardJump && cand-c.last >= -maxBackStepClamp {
				// The other track already rebased for the same jump.
				c.offset = t.offset
				out = max(cand, c.last)
			} else {
				out = c.last + c.step()
				c.offset = out - ext
				t.offset = c.offset
			}
		case d < 0:
			out = c.last
			t.fixes++
		case d > 0 && d <= maxFrameDur:
			if c.dur == 0 {
				c.dur = d
			} else {
				c.dur = (3*c.dur + d) / 4
			}
		}
	}
	c.emitted = true
	c.last = out
	t.now = max(t.now, out)
	t.started = true
	return out
}
