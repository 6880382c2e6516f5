package hub

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// publishUntil writes generator packets until cond holds (at most limit);
// cond gets the packet just written (nil before the first).
func publishUntil(t *testing.T, p *Publisher, g *mediatest.Generator, limit int, cond func(last *av.Packet) bool) []*av.Packet {
	t.Helper()
	var out []*av.Packet
	var last *av.Packet
	for range limit {
		if cond(last) {
			return out
		}
		last = g.Next()
		write(t, p, last)
		out = append(out, last)
	}
	require.True(t, cond(last), "condition not reached after %d packets", limit)
	return out
}

func TestSlowReader(t *testing.T) {
	h, clk, _ := testHub(t, Config{QueueSize: 16, MaxOverflows: 3, OverflowWindow: 30 * time.Second})
	// 2 keyframes per 16-packet queue would never overflow into a resync
	// window; a long GOP makes the drop-to-keyframe visible.
	g := mediatest.New(mediatest.Config{FPS: 30, GOP: 30})
	p := publish(t, h, "live/a")
	hdrs := g.Headers()
	write(t, p, hdrs...)
	slow := subscribe(t, h, "live/a") // never reads until told
	fast := subscribe(t, h, "live/a") // reads everything
	var fastGot []*av.Packet
	drainFast := func() { fastGot = append(fastGot, queued(t, fast)...) }

	// Fill the slow reader's queue and overflow it once. WritePacket returns
	// every time: the publisher is never blocked by the reader.
	var published []*av.Packet
	published = append(published, publishUntil(t, p, g, 100, func(*av.Packet) bool {
		drainFast()
		return slow.Stats().Overflows == 1
	})...)
	st := slow.Stats()
	require.Positive(t, st.Dropped)
	require.Equal(t, 0, fast.Stats().Queued+int(fast.Stats().Dropped), "a slow reader costs only itself")

	// The packet that overflowed was dropped unless it was a keyframe; the
	// reader resumes at the first keyframe from there. Publish past it, then
	// drain the slow reader.
	ovAt := len(published) - 1
	if !published[ovAt].Keyframe {
		published = append(published, publishUntil(t, p, g, 200, func(last *av.Packet) bool {
			drainFast()
			return last != nil && last.Keyframe
		})...)
	}
	firstKey := ovAt
	for !published[firstKey].Keyframe {
		firstKey++
	}
	more := g.Packets(5)
	write(t, p, more...)
	published = append(published, more...)
	drainFast()

	got := queued(t, slow)
	require.Equal(t, hdrs, got[:3], "queued headers and metadata survive the overflow")
	require.True(t, got[3].Keyframe, "resync starts at a keyframe")
	require.Equal(t, av.KindVideo, got[3].Kind)
	require.Equal(t, published[firstKey:], got[3:], "from the keyframe on, no gap and no duplicate")
	require.Equal(t, append(append([]*av.Packet{}, hdrs...), published...), fastGot)

	info, _ := h.Stream("live/a")
	require.Equal(t, slow.Stats().Dropped, info.Dropped)
	require.Equal(t, uint64(1), slow.Stats().Overflows)

	// Two more overflows within the window evict the reader.
	for want := uint64(2); want <= 3; want++ {
		clk.advance(time.Second)
		publishUntil(t, p, g, 200, func(*av.Packet) bool { drainFast(); return slow.Stats().Overflows == want })
	}
	_, err := readToEnd(t, slow)
	require.ErrorIs(t, err, ErrSlowReader)
	info, _ = h.Stream("live/a")
	require.Equal(t, uint64(1), info.Evicted)
	require.Equal(t, 1, info.Readers, "the fast reader stays")
	require.Equal(t, uint64(0), fast.Stats().Dropped)
	write(t, p, g.Packets(10)...) // the evicted reader is no longer offered packets
	require.Equal(t, 0, slow.Stats().Queued)
}

func TestSlowReaderOverflowWindow(t *testing.T) {
	h, clk, _ := testHub(t, Config{QueueSize: 8, MaxOverflows: 2, OverflowWindow: 10 * time.Second})
	g := mediatest.New(mediatest.Config{GOP: 5})
	p := publish(t, h, "live/a")
	r := subscribe(t, h, "live/a")
	for want := uint64(1); want <= 5; want++ {
		clk.advance(11 * time.Second) // each overflow falls outside the previous one's window
		publishUntil(t, p, g, 500, func(*av.Packet) bool { return r.Stats().Overflows == want })
	}
	info, _ := h.Stream("live/a")
	require.Equal(t, uint64(0), info.Evicted, "overflows spread out never evict")
	require.Equal(t, 1, info.Readers)
	require.Equal(t, uint64(5), r.Stats().Overflows)
}

func TestNeedKeyPassesHeaders(t *testing.T) {
	h, _, _ := testHub(t, Config{QueueSize: 8, MaxOverflows: 100})
	g := mediatest.New(mediatest.Config{NoAudio: true, GOP: 100})
	p := publish(t, h, "live/a")
	write(t, p, g.Headers()...)
	write(t, p, g.Next()) // keyframe
	r := subscribe(t, h, "live/a")
	publishUntil(t, p, g, 100, func(*av.Packet) bool { return r.Stats().Overflows == 1 })
	queued(t, r)
	// While waiting for a keyframe: a new sequence header and metadata pass,
	// inter frames do not.
	newHdr := mediatest.VideoHeader(0, 640, 360)
	meta := g.Metadata()
	write(t, p, g.Next(), newHdr, g.Next(), meta, g.Next())
	require.Equal(t, []*av.Packet{newHdr, meta}, queued(t, r))
	require.Equal(t, newHdr, h.streams["live/a"].vHdr)
}

func TestAudioOnlyResync(t *testing.T) {
	h, _, _ := testHub(t, Config{QueueSize: 8, MaxOverflows: 100})
	g := mediatest.New(mediatest.Config{NoVideo: true})
	p := publish(t, h, "live/radio")
	write(t, p, g.Headers()...)
	r := subscribe(t, h, "live/radio")
	publishUntil(t, p, g, 100, func(*av.Packet) bool { return r.Stats().Overflows == 1 })
	got := queued(t, r)
	require.Len(t, got, 3, "metadata, audio header, and the audio packet after the overflow")
	require.Equal(t, av.KindData, got[0].Kind)
	require.True(t, got[1].Header)
	next := g.Next()
	write(t, p, next)
	require.Equal(t, []*av.Packet{next}, queued(t, r), "audio-only resumes at the next audio packet")
}

func TestHeaderFloodEvicts(t *testing.T) {
	h, _, _ := testHub(t, Config{QueueSize: 4, MaxOverflows: 100})
	g := mediatest.New(mediatest.Config{})
	p := publish(t, h, "live/a")
	r := subscribe(t, h, "live/a")
	for range 5 {
		write(t, p, g.Metadata())
	}
	_, err := readToEnd(t, r)
	require.ErrorIs(t, err, ErrSlowReader, "a queue full of headers cannot be resynced")
}
