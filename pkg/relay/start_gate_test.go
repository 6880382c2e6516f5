package relay

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestStartGate(t *testing.T) {
	t.Run("audio first, then a keyframe", func(t *testing.T) {
		var g startGate
		gen := mediatest.New(mediatest.Config{})
		hdrs := gen.Headers()
		for _, p := range hdrs {
			require.Nil(t, g.add(p))
		}
		for i := range 5 {
			require.Nil(t, g.add(mediatest.AudioFrame(uint32(i*23), 10, 1, 2)))
		}
		require.Nil(t, g.add(mediatest.VideoFrame(100, false, 10, 1)), "an inter frame cannot start a stream")
		out := g.add(mediatest.VideoFrame(140, true, 10, 2))
		require.Len(t, out, len(hdrs)+1, "metadata and sequence headers, then the keyframe")
		for i, p := range hdrs {
			require.Same(t, p, out[i])
		}
		require.True(t, out[len(hdrs)].Keyframe)
	})
	t.Run("metadata without video", func(t *testing.T) {
		var g startGate
		gen := mediatest.New(mediatest.Config{NoVideo: true})
		var out []*av.Packet
		for _, p := range append(gen.Headers(), gen.Packets(3)...) {
			out = g.add(p)
			if out != nil {
				break
			}
		}
		require.NotEmpty(t, out, "released at the first audio frame")
	})
	t.Run("no metadata, no video", func(t *testing.T) {
		var g startGate
		n := 0
		var out []*av.Packet
		for ts := uint32(0); out == nil; ts += 23 {
			out = g.add(mediatest.AudioFrame(ts, 10, 1, 2))
			n++
		}
		require.Len(t, out, n, "everything held is released")
		require.GreaterOrEqual(t, out[len(out)-1].DTS-out[0].DTS, int64(maxHoldAudioMS))
	})
}
