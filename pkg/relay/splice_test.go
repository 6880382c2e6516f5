package relay

import (
	"bytes"
	"hash/maphash"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// feedSession runs pkts through a new splice session and returns the admitted
// media packets.
func feedSession(s *splice, pkts []*av.Packet) []*av.Packet {
	s.newSession()
	var out []*av.Packet
	for _, p := range pkts {
		if s.admit(p) && p.IsMedia() && !p.Header {
			out = append(out, p)
		}
	}
	return out
}

func lastOf(pkts []*av.Packet, k av.Kind) *av.Packet {
	for i := len(pkts) - 1; i >= 0; i-- {
		if pkts[i].Kind == k {
			return pkts[i]
		}
	}
	return nil
}

// TestSpliceAlignsSameContent: the second origin carries the same encoder
// output on another clock and replays from its cached keyframe, a GOP behind:
// the splice recognises the frames already delivered, drops them, and the
// next frames continue exactly on the first origin's timeline.
func TestSpliceAlignsSameContent(t *testing.T) {
	cfg := mediatest.Config{FPS: 25, GOP: 25}
	var s splice
	g1 := mediatest.New(cfg)
	first := feedSession(&s, append(g1.Headers(), g1.Packets(300)...))
	videos := 0
	for _, p := range first {
		if p.Kind == av.KindVideo {
			videos++
		}
	}
	lastV, lastA := lastOf(first, av.KindVideo).DTS, lastOf(first, av.KindAudio).DTS

	// Origin 2: same content, clock 90 s ahead, replaying from the last
	// keyframe the players already have.
	cfg.StartTS = 90000
	g2 := mediatest.New(cfg)
	all := g2.Packets(600)
	from, n := 0, 0
	for i, p := range all {
		if p.Kind == av.KindVideo {
			if p.Keyframe && n < videos {
				from = i
			}
			n++
		}
	}
	second := feedSession(&s, append(g2.Headers(), all[from:]...))
	require.NotEmpty(t, second)
	videos2 := 0
	for _, p := range second {
		if p.Kind == av.KindVideo {
			require.Greater(t, p.DTS, lastV, "a frame the players already have was written again")
			videos2++
		}
	}
	require.Equal(t, n-videos, videos2, "exactly the frames the first origin did not deliver")
	v := second[0]
	for _, p := range second {
		if p.Kind == av.KindVideo {
			v = p
			break
		}
	}
	require.Equal(t, lastV+40, v.DTS, "video continues one frame (40 ms) on")
	a := lastOf(second[:1], av.KindAudio)
	for _, p := range second {
		if p.Kind == av.KindAudio {
			a = p
			break
		}
	}
	require.NotNil(t, a)
	require.Greater(t, a.DTS, lastA)
	require.LessOrEqual(t, a.DTS, lastA+24, "audio continues one AAC frame on")
}

// TestSpliceOtherContent: another encoder behind the new origin: wait for its
// keyframe, continue switchStep after the last DTS, monotonic per track.
func TestSpliceOtherContent(t *testing.T) {
	var s splice
	g1 := mediatest.New(mediatest.Config{FPS: 25, GOP: 25})
	first := feedSession(&s, append(g1.Headers(), g1.Packets(200)...))
	last := max(lastOf(first, av.KindVideo).DTS, lastOf(first, av.KindAudio).DTS)

	g2 := mediatest.New(mediatest.Config{FPS: 25, GOP: 25, StartTS: 90000, KeySize: 999, FrameSz: 333})
	all := g2.Packets(300)
	var second []*av.Packet
	s.newSession()
	for _, p := range g2.Headers() {
		require.True(t, s.admit(p), "sequence headers and metadata always pass")
		if p.Kind != av.KindData {
			require.Equal(t, last, p.DTS, "headers ride at the current time")
		}
	}
	// Start it mid-GOP: an inter frame and audio before the next keyframe.
	for _, p := range all[5:] {
		if s.admit(p) {
			second = append(second, p)
		}
	}
	require.True(t, second[0].Kind == av.KindVideo && second[0].Keyframe, "an unaligned session starts at a keyframe")
	require.Equal(t, last+switchStep, second[0].DTS)
	prev := map[av.Kind]int64{}
	for _, p := range second {
		if q, ok := prev[p.Kind]; ok {
			require.GreaterOrEqual(t, p.DTS, q, "%v DTS went back", p.Kind)
			require.Less(t, p.DTS-q, int64(100), "%v DTS jumped", p.Kind)
		}
		prev[p.Kind] = p.DTS
	}
}

func TestSpliceWrap(t *testing.T) {
	var s splice
	s.newSession()
	p := mediatest.VideoFrame(0xFFFFFFF0, true, 10, 1)
	require.True(t, s.admit(p))
	p = mediatest.VideoFrame(0x10, false, 10, 2) // wrapped: +0x20 ms
	require.True(t, s.admit(p))
	require.Equal(t, int64(0xFFFFFFF0)+0x20, s.last)
	require.Equal(t, int64(0x10), p.DTS, "output stays in the 32-bit wire domain")
}

func TestSpliceAudioOnly(t *testing.T) {
	var s splice
	s.newSession()
	g := mediatest.New(mediatest.Config{NoVideo: true})
	for _, p := range g.Packets(50) {
		require.True(t, s.admit(p))
	}
	s.newSession()
	g2 := mediatest.New(mediatest.Config{NoVideo: true})
	for _, p := range g2.Packets(5) {
		require.True(t, s.admit(p), "audio-only streams need no keyframe")
	}
}

// TestSpliceIgnoresOldCopies: content that repeats (a looping clip) must not
// align with a copy delivered longer ago than alignWindowMS.
func TestSpliceIgnoresOldCopies(t *testing.T) {
	cfg := mediatest.Config{FPS: 25, GOP: 25}
	var s splice
	g1 := mediatest.New(cfg)
	feedSession(&s, append(g1.Headers(), g1.Packets(700)...)) // ~250 video frames, 10 s
	last := s.last
	// The new origin starts with frame 0's content again (a loop).
	g2 := mediatest.New(mediatest.Config{FPS: 25, GOP: 25, StartTS: 7777})
	second := feedSession(&s, append(g2.Headers(), g2.Packets(100)...))
	require.NotEmpty(t, second)
	require.True(t, second[0].Kind == av.KindVideo && second[0].Keyframe)
	require.Equal(t, last+switchStep, second[0].DTS, "no alignment with a 10 s old copy")
}

// Frames are identified by length and prefix; hashing them allocates nothing.
func TestFrameHash(t *testing.T) {
	seed := maphash.MakeSeed()
	a := bytes.Repeat([]byte{7}, 3*spliceHashPrefix)
	require.Equal(t, frameHash(seed, a), frameHash(seed, bytes.Clone(a)))
	require.NotEqual(t, frameHash(seed, a), frameHash(seed, a[:len(a)-1]), "same prefix, other length")
	b := bytes.Clone(a)
	b[10] = 8
	require.NotEqual(t, frameHash(seed, a), frameHash(seed, b))
	require.Zero(t, testing.AllocsPerRun(100, func() { frameHash(seed, a) }))
}
