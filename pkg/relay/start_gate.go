package relay

import (
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
)

// Bounds of the start gate: a stream that shows no video keyframe within
// this much audio (or this many packets) is published as it is.
const (
	maxHoldPackets = 1024
	maxHoldAudioMS = 3000
)

// startGate holds a pull's first packets until players can start decoding
// them: at a video keyframe, what came before it is dropped (metadata and
// sequence headers kept); a stream whose metadata announces no video, or that
// shows no keyframe within maxHoldAudioMS of audio, is released as it is.
//
// Origins without a GOP cache (nginx-rtmp) start a new player with audio at
// once and video at the next keyframe. Published as it arrives, the edge's
// first players would see an audio-only stream for up to a GOP, and HTTP-FLV
// decides its header flags (FLV v10.1 §E.2) within a second: they would never
// get video.
type startGate struct {
	held       []*av.Packet
	audioStart int64
	haveAudio  bool
	noVideo    bool // metadata announced no video track
}

// add takes the next packet and returns, once the stream can start, the
// packets to publish in order (p included); nil while holding.
func (g *startGate) add(p *av.Packet) []*av.Packet {
	switch {
	case p.Kind == av.KindVideo && p.Keyframe && !p.Header:
		out := g.held[:0]
		for _, q := range g.held {
			if q.Kind == av.KindData || q.Header {
				out = append(out, q)
			}
		}
		g.held = nil
		return append(out, p)
	case p.Kind == av.KindData:
		if md, err := flv.ParseMetaData(p.Data); err == nil && md.VideoCodecID == 0 && md.Width == 0 {
			g.noVideo = true
		}
	case p.Kind == av.KindVideo && p.Header:
		g.noVideo = false
	case p.Kind == av.KindAudio && !p.Header && !g.haveAudio:
		g.haveAudio, g.audioStart = true, p.DTS
	}
	g.held = append(g.held, p)
	release := len(g.held) >= maxHoldPackets ||
		(p.Kind == av.KindAudio && !p.Header && (g.noVideo || int64(uint32(p.DTS)-uint32(g.audioStart)) >= maxHoldAudioMS))
	if !release {
		return nil
	}
	out := g.held
	g.held = nil
	return out
}
