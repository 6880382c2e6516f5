package httpflv

import (
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// trackGate decides the audio/video flags of the FLV header (FLV v10.1
// §E.2 TypeFlagsAudio/TypeFlagsVideo) from what the stream really carries.
//
// flv.js and mpegts.js trust the flags: with both set they wait for both
// codec configurations before playing, so a video-only stream flagged A+V
// never starts (flv.js#135, #746). A player that joins a running stream gets
// metadata, sequence headers and the GOP cache at once and is decided by its
// first batch; one that joins a stream that just started waits until every
// track the stream announced has shown up, at most holdTimeout.
type trackGate struct {
	// expectKnown: the expectation below is reliable (announced in
	// onMetaData, or the stream has run long enough for the hub's view of
	// its tracks to be complete).
	expectKnown         bool
	expectV, expectA    bool
	seenV, seenA        bool
	packets             int
	decided, hasV, hasA bool
}

// newTrackGate starts from the hub's snapshot of the stream: a track it has
// seen certainly exists; a track it has not seen is known to be absent only
// once the stream has been publishing for longer than the hold timeout.
func newTrackGate(info hub.StreamInfo, now time.Time) *trackGate {
	g := &trackGate{expectV: info.HasVideo, expectA: info.HasAudio}
	if !info.Since.IsZero() && now.Sub(info.Since) >= holdTimeout {
		g.expectKnown = true
	}
	return g
}

// observe feeds one packet, in stream order, while the gate is undecided.
func (g *trackGate) observe(p *av.Packet) {
	g.packets++
	switch p.Kind {
	case av.KindVideo:
		g.seenV = true
	case av.KindAudio:
		g.seenA = true
	case av.KindData:
		// Parsed once per metadata packet, not once per joining player.
		v, a, ok := flv.MetaTracks(p)
		if ok {
			// A track the hub has seen stays expected even if the
			// metadata forgot it.
			g.expectV = g.expectV || v
			g.expectA = g.expectA || a
			g.expectKnown = true
		}
	}
}

// ready reports whether the flags can be decided; expired says the hold
// timeout has passed. Once true, flags returns the decision.
func (g *trackGate) ready(expired bool) bool {
	if g.decided {
		return true
	}
	media := g.seenV || g.seenA
	switch {
	case g.seenV && g.seenA:
	case media && g.expectKnown && (!g.expectV || g.seenV) && (!g.expectA || g.seenA):
	case media && (expired || g.packets >= holdMaxPackets):
	case g.packets >= holdMaxPackets:
		// Hundreds of script-data messages and no media: go with what
		// was announced rather than buffer without bound.
		g.seenV, g.seenA = g.expectV, g.expectA
	default:
		return false
	}
	g.decided, g.hasV, g.hasA = true, g.seenV, g.seenA
	return true
}

// flags returns the decided header flags.
func (g *trackGate) flags() (hasAudio, hasVideo bool) { return g.hasA, g.hasV }
