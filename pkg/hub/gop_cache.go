package hub

import (
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
)

// audioOnlyWindow bounds the audio kept for late joiners of a stream without
// video: every AAC/MP3/Opus frame is a random-access point, so a short
// window is enough to start playback at once.
const audioOnlyWindow = time.Second

// gopCache keeps the media packets of the current GOP, from its keyframe, so
// a late joiner can start decoding at once (docs/architecture.md §3.5). Sequence headers and
// metadata are kept by the stream, not here.
//
// A GOP that exceeds a bound is dropped entirely and caching resumes at the
// next keyframe: trimming it from the front would hand joiners frames that
// reference a keyframe they never get. Audio-only streams keep a sliding
// window instead, trimmed from the front.
//
// The cache retains the packets (shared, immutable); replay returns a slice
// valid only while the stream lock is held.
type gopCache struct {
	enabled    bool
	maxPackets int
	maxBytes   int
	maxDur     int64 // ms
	audioDur   int64 // ms, audio-only window

	pkts      []*av.Packet
	head      int // first live index (audio-only window)
	bytes     int
	active    bool // pkts[head] starts a GOP being cached
	audioOnly bool // pkts is an audio window
}

func (g *gopCache) init(cfg Config) {
	g.enabled = !cfg.DisableGOPCache
	g.maxPackets = cfg.GOPMaxPackets
	g.maxBytes = cfg.GOPMaxBytes
	g.maxDur = cfg.GOPMaxDuration.Milliseconds()
	g.audioDur = min(g.maxDur, audioOnlyWindow.Milliseconds())
}

// reset empties the cache; caching restarts at the next keyframe.
func (g *gopCache) reset() {
	clear(g.pkts) // release the packets
	g.pkts = g.pkts[:0]
	g.head = 0
	g.bytes = 0
	g.active = false
	g.audioOnly = false
}

func (g *gopCache) len() int { return len(g.pkts) - g.head }

// add offers a packet just published. hasVideo says whether the stream has
// video in this session (else the audio window is used).
func (g *gopCache) add(p *av.Packet, hasVideo bool) {
	if !g.enabled || p.Header || !p.IsMedia() {
		return
	}
	if !hasVideo {
		g.audioOnly = true
		g.active = true
		g.append(p)
		for g.len() > 0 && g.over(g.audioDur) {
			g.bytes -= len(g.pkts[g.head].Data)
			g.pkts[g.head] = nil
			g.head++
		}
		if g.head > 0 && g.head >= len(g.pkts)/2 {
			// Compact so the backing array does not grow forever.
			n := copy(g.pkts, g.pkts[g.head:])
			clear(g.pkts[n:])
			g.pkts = g.pkts[:n]
			g.head = 0
		}
		return
	}
	if g.audioOnly {
		// Video appeared: the audio window is no use to a video decoder.
		g.reset()
	}
	if p.Kind == av.KindVideo && p.Keyframe {
		g.reset()
		g.active = true
	}
	if !g.active {
		return
	}
	g.append(p)
	if g.over(g.maxDur) {
		g.reset()
	}
}

func (g *gopCache) append(p *av.Packet) {
	g.pkts = append(g.pkts, p)
	g.bytes += len(p.Data)
}

// over reports whether the cached packets exceed a bound (dur in ms).
func (g *gopCache) over(dur int64) bool {
	n := g.len()
	if n == 0 {
		return false
	}
	return n > g.maxPackets || g.bytes > g.maxBytes ||
		g.pkts[len(g.pkts)-1].DTS-g.pkts[g.head].DTS > dur
}

// replay returns the cached packets in publish order and whether they start
// at a video keyframe. The slice is valid only under the stream lock.
func (g *gopCache) replay() (pkts []*av.Packet, fromKey bool) {
	if !g.active || g.len() == 0 {
		return nil, false
	}
	pkts = g.pkts[g.head:]
	return pkts, !g.audioOnly
}
