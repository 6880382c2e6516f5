package hub

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestLateJoiner(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	g := mediatest.New(mediatest.Config{FPS: 30, GOP: 30})
	p := publish(t, h, "live/a")
	hdrs := g.Headers()
	write(t, p, hdrs...)
	before := g.Packets(100) // keyframes at video frames 0 and 30
	write(t, p, before...)

	r := subscribe(t, h, "live/a")
	after := g.Packets(50)
	write(t, p, after...)

	k := -1
	for i, pkt := range before {
		if pkt.Keyframe {
			k = i
		}
	}
	require.Positive(t, k, "test needs a second GOP")
	want := append(append(append([]*av.Packet{}, hdrs...), before[k:]...), after...)
	got := readN(t, r, len(want))
	require.Equal(t, want, got, "metadata, headers, GOP from the keyframe, then live: no gap, no duplicate")
	require.Equal(t, 0, r.Stats().Queued)
}

func TestLateJoinerDropsEarlierAudio(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	g := mediatest.New(mediatest.Config{})
	p := publish(t, h, "live/a")
	write(t, p, g.Headers()...)
	// Audio rides its own chunk stream and may arrive after a keyframe
	// although it was captured before it.
	key := mediatest.VideoFrame(1000, true, 100, 0)
	lateAudio := mediatest.AudioFrame(980, 10, 0, 2)
	inter := mediatest.VideoFrame(1033, false, 10, 1)
	audio := mediatest.AudioFrame(1003, 10, 1, 2)
	write(t, p, mediatest.VideoFrame(0, true, 100, 0), key, lateAudio, inter, audio)

	r := subscribe(t, h, "live/a")
	got := queued(t, r)
	require.Equal(t, []*av.Packet{key, inter, audio}, got[3:], "cached audio older than the keyframe is skipped")
}

func TestAudioOnlyLateJoiner(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	g := mediatest.New(mediatest.Config{NoVideo: true})
	p := publish(t, h, "live/radio")
	hdrs := g.Headers()
	write(t, p, hdrs...)
	before := g.Packets(200) // ~4.6 s of AAC
	write(t, p, before...)

	r := subscribe(t, h, "live/radio")
	after := g.Packets(10)
	write(t, p, after...)
	got := readN(t, r, r.Stats().Queued)
	require.Equal(t, hdrs, got[:2])
	cached := got[2 : len(got)-len(after)]
	require.NotEmpty(t, cached, "audio-only joiners get a window of audio at once")
	span := cached[len(cached)-1].DTS - cached[0].DTS
	require.LessOrEqual(t, span, audioOnlyWindow.Milliseconds())
	require.Greater(t, span, audioOnlyWindow.Milliseconds()-50)
	require.Equal(t, before[len(before)-len(cached):], cached, "the newest audio, contiguous")
	require.Equal(t, after, got[len(got)-len(after):])
}

func TestGOPBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"packets", Config{GOPMaxPackets: 20}},
		{"bytes", Config{GOPMaxBytes: 6000}},
		{"duration", Config{GOPMaxDuration: 500 * time.Millisecond}},
		{"disabled", Config{DisableGOPCache: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _, _ := testHub(t, tc.cfg)
			// GOP of 2 s (60 frames + audio): over every bound above.
			g := mediatest.New(mediatest.Config{GOP: 60, KeySize: 4000, FrameSz: 100, AudioSz: 50})
			p := publish(t, h, "live/a")
			hdrs := g.Headers()
			write(t, p, hdrs...)
			write(t, p, g.Packets(40)...)

			r := subscribe(t, h, "live/a")
			require.Equal(t, hdrs, queued(t, r), "an oversized GOP is not cached at all, never trimmed")
			// The joiner waits for the next keyframe.
			var next []*av.Packet
			for {
				pkt := g.Next()
				write(t, p, pkt)
				if pkt.Keyframe {
					next = append(next, pkt)
					break
				}
			}
			more := g.Packets(3)
			write(t, p, more...)
			require.Equal(t, append(next, more...), queued(t, r))
		})
	}

	t.Run("small GOP cached", func(t *testing.T) {
		h, _, _ := testHub(t, Config{GOPMaxPackets: 20})
		g := mediatest.New(mediatest.Config{NoAudio: true, GOP: 10})
		p := publish(t, h, "live/a")
		write(t, p, g.Packets(25)...) // GOPs at 0, 10, 20
		r := subscribe(t, h, "live/a")
		got := queued(t, r)
		require.Len(t, got, 5)
		require.True(t, got[0].Keyframe)
	})
}

func TestGOPCacheVideoAfterAudio(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	p := publish(t, h, "live/a")
	// Audio first (audio window), then video appears: the window is dropped
	// and the cache starts at the first keyframe.
	write(t, p, mediatest.AudioFrame(0, 10, 0, 2), mediatest.AudioFrame(23, 10, 1, 2))
	inter := mediatest.VideoFrame(30, false, 10, 0)
	key := mediatest.VideoFrame(60, true, 10, 0)
	a := mediatest.AudioFrame(70, 10, 2, 2)
	write(t, p, inter)
	r1 := subscribe(t, h, "live/a")
	require.Empty(t, queued(t, r1), "no keyframe yet: nothing cached")
	write(t, p, key, a)
	r2 := subscribe(t, h, "live/a")
	require.Equal(t, []*av.Packet{key, a}, queued(t, r2))
	require.Equal(t, []*av.Packet{key, a}, queued(t, r1), "r1 skipped media until the keyframe")
}
