package httpflv

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/internal/batch"
)

// TestOneWritePerBatch: the hub decides the flush points (hub/flush.go:
// audio rides with the next video frame); the player writes what one wake
// gave it as one flush, audio-only batches included, and splits only
// batches over batch.MaxBytes.
func TestOneWritePerBatch(t *testing.T) {
	a := func(ts int64) *av.Packet { return audioFrame(ts) }
	v := func(ts int64) *av.Packet { return videoInter(ts) }
	big := &av.Packet{Kind: av.KindVideo, Codec: av.CodecH264, DTS: 99, Data: make([]byte, batch.MaxBytes)}
	cases := []struct {
		name      string
		batches   [][]*av.Packet
		wantFlush []int // tags per flush
	}{
		{"audio with video", [][]*av.Packet{{a(0), a(23), v(33)}, {a(46), v(66)}}, []int{3, 2}},
		{"audio alone (flushed by the hub's hold bound)", [][]*av.Packet{{v(0)}, {a(10), a(33), a(56)}}, []int{1, 3}},
		{"over batch.MaxBytes", [][]*av.Packet{{a(0), big, v(133)}}, []int{2, 1}},
		{"over batch.MaxBufs (a GOP burst)", [][]*av.Packet{audioRun(batch.MaxBufs + 6)}, []int{batch.MaxBufs, 6}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &recordSink{}
			p := recordPlayer(s, true, true, true)
			for _, b := range c.batches {
				require.NoError(t, p.writeBatch(b))
			}
			var got []int
			for _, f := range s.flushes {
				got = append(got, len(f)) // one slice per tag
			}
			require.Equal(t, c.wantFlush, got)
			require.Empty(t, s.cur)
		})
	}
}

func audioRun(n int) []*av.Packet {
	out := make([]*av.Packet, n)
	for i := range out {
		out[i] = audioFrame(int64(i) * 23)
	}
	return out
}

// Audio held for the next video frame must not be stranded when no video
// follows (publisher pauses or stops sending but stays connected): the
// hub's flush timer sends it after hub.AudioHold.
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
