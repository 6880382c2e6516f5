package relay

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// TestSpliceContinuesAcrossOrigins: the second origin's clock starts a GOP
// behind (and elsewhere entirely); the output continues one step after the
// last DTS, starts the new session at a keyframe and keeps A/V offsets.
func TestSpliceContinuesAcrossOrigins(t *testing.T) {
	var s splice
	s.newSession()
	g1 := mediatest.New(mediatest.Config{FPS: 25, GOP: 25})
	for _, p := range g1.Headers() {
		require.True(t, s.admit(p))
	}
	var last int64
	for _, p := range g1.Packets(200) {
		require.True(t, s.admit(p), "first session passes everything")
		last = max(last, p.DTS)
	}

	// Origin 2: its own clock (starts at 90 s), and it starts us mid-GOP
	// with an inter frame and audio before its keyframe.
	s.newSession()
	g2 := mediatest.New(mediatest.Config{FPS: 25, GOP: 25, StartTS: 90000})
	for _, p := range g2.Headers() {
		require.True(t, s.admit(p), "sequence headers and metadata always pass")
		if p.Kind != av.KindData {
			require.Equal(t, last, p.DTS, "headers ride at the current time")
		}
	}
	var out []*av.Packet
	for _, p := range g2.Packets(300) {
		if s.admit(p) {
			out = append(out, p)
		}
	}
	require.NotEmpty(t, out)
	require.True(t, out[0].Kind == av.KindVideo && out[0].Keyframe, "a new session starts at a keyframe")
	require.Equal(t, last+switchStep, out[0].DTS)
	prev := map[av.Kind]int64{}
	for _, p := range out {
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
