package httpflv

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
)

// TestAudioRidesWithVideo: audio-only batches wait for the next video frame
// (at most maxHeldBatches of them), so a player writes once per frame;
// audio-only streams are never held.
func TestAudioRidesWithVideo(t *testing.T) {
	a := func(ts int64) []*av.Packet { return []*av.Packet{audioFrame(ts)} }
	v := func(ts int64) []*av.Packet { return []*av.Packet{videoInter(ts)} }
	cases := []struct {
		name       string
		hasVideo   bool
		batches    [][]*av.Packet
		wantFlush  []int // tags per flush
		wantUnsent int
	}{
		{"audio waits for video", true, [][]*av.Packet{a(0), a(23), v(33), a(46), v(66)}, []int{3, 2}, 0},
		{"video pauses: held audio goes after the bound", true,
			[][]*av.Packet{v(0), a(10), a(33), a(56), a(79), a(102)}, []int{1, 4}, 1},
		{"audio-only stream", false, [][]*av.Packet{a(0), a(23), a(46)}, []int{1, 1, 1}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &recordSink{}
			p := &player{sink: s, hasAudio: true, hasVideo: c.hasVideo, started: true}
			for _, b := range c.batches {
				require.NoError(t, p.writePackets(b))
			}
			var got []int
			for _, f := range s.flushes {
				got = append(got, len(f)/3)
			}
			require.Equal(t, c.wantFlush, got)
			require.Equal(t, c.wantUnsent, len(s.cur)/3)
		})
	}
}
