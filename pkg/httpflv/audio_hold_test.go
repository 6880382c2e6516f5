package httpflv

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
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

// Audio held for the next video frame must not be stranded when no video
// follows (publisher pauses or stops sending but stays connected): it goes
// out after maxHoldTime.
func TestHeldAudioNotStranded(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.publish(t, "live/pause")
	write(t, p, metaPacket(metaAV...), videoSeq(0), audioSeq(0), videoKey(0))
	resp, err := http.Get(e.url("/live/pause.flv"))
	require.NoError(t, err)
	defer resp.Body.Close()
	e.waitReaders(t, "live/pause", 1)
	// The last packets are audio; the publisher stays connected.
	write(t, p, audioFrame(10), audioFrame(33))

	got := make(chan int, 1)
	go func() {
		r := flv.NewReader(resp.Body)
		if _, err := r.ReadHeader(); err != nil {
			got <- -1
			return
		}
		audio := 0
		for audio < 2 {
			tag, err := r.ReadTag()
			if err != nil {
				got <- -1
				return
			}
			if tag.Type == flv.TagAudio && len(tag.Body) > 1 && tag.Body[1] == 1 { // AAC raw frame
				audio++
			}
		}
		got <- audio
	}()
	select {
	case n := <-got:
		require.Equal(t, 2, n, "both trailing audio frames arrive while the publisher is still live")
	case <-time.After(waitFor):
		t.Fatal("held audio never reached the player")
	}
}
