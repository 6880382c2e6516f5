package hub

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// queuedBytes returns the reader's byte count, checked against its queue.
func queuedBytes(t *testing.T, r *Reader) int {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	sum := 0
	for i := r.head; i != r.tail; i++ {
		sum += mediaBytes(r.ring[i&r.mask])
	}
	require.Equal(t, sum, r.qbytes, "qbytes matches the queue")
	return r.qbytes
}

// TestReaderByteBudget: a reader that does not drain pins at most
// QueueMaxBytes of media however large the packets, even when the packet
// count is far below QueueSize; it overflows (drops to the next keyframe,
// keeps the headers) and is eventually evicted like any slow reader.
func TestReaderByteBudget(t *testing.T) {
	const budget = 64 << 10
	h, _, _ := testHub(t, Config{QueueSize: 1024, QueueMaxBytes: budget, MaxOverflows: 3})
	g := mediatest.New(mediatest.Config{GOP: 10, KeySize: 20 << 10, FrameSz: 8 << 10})
	p := publish(t, h, "live/big")
	hdrs := g.Headers()
	write(t, p, hdrs...)
	slow := subscribe(t, h, "live/big")
	fast := subscribe(t, h, "live/big")

	var published int
	for slow.Stats().Overflows == 0 {
		write(t, p, g.Next())
		published++
		require.LessOrEqual(t, queuedBytes(t, slow), budget)
		queued(t, fast)
		require.Less(t, published, 500, "the byte budget never triggered")
	}
	require.Less(t, slow.Stats().Queued+int(slow.Stats().Dropped), 200, "overflowed by bytes, far below the packet count")
	require.Zero(t, fast.Stats().Dropped, "a reader that drains is not affected")

	// After the overflow: headers kept, media resumes at a keyframe, and
	// the count stays exact through reads.
	for {
		q := g.Next()
		write(t, p, q)
		queued(t, fast)
		if q.Keyframe {
			break
		}
	}
	write(t, p, g.Packets(2)...)
	got := queued(t, slow)
	require.Equal(t, hdrs, got[:len(hdrs)])
	var firstMedia *av.Packet
	for _, q := range got[len(hdrs):] {
		if q.IsMedia() {
			firstMedia = q
			break
		}
	}
	require.NotNil(t, firstMedia)
	require.True(t, firstMedia.Keyframe, "resync at a keyframe")
	require.Zero(t, queuedBytes(t, slow))

	// Never draining again: evicted after MaxOverflows overflows.
	for i := 0; i < 2000 && slow.Err() == nil; i++ {
		write(t, p, g.Next())
		require.LessOrEqual(t, queuedBytes(t, slow), budget)
		queued(t, fast)
	}
	require.ErrorIs(t, slow.Err(), ErrSlowReader)
}

// TestReaderByteBudgetPrimed: a late joiner primed with a cached GOP bigger
// than half the budget gets room for it plus half the budget.
func TestReaderByteBudgetPrimed(t *testing.T) {
	const budget = 64 << 10
	h, _, _ := testHub(t, Config{QueueSize: 1024, QueueMaxBytes: budget})
	g := mediatest.New(mediatest.Config{GOP: 30, KeySize: 30 << 10, FrameSz: 4 << 10, NoAudio: true})
	p := publish(t, h, "live/gop")
	write(t, p, g.Headers()...)
	write(t, p, g.Packets(12)...) // keyframe 30 KiB + 11 × 4 KiB: ~74 KiB cached
	late := subscribe(t, h, "live/gop")
	primed := queuedBytes(t, late)
	require.Greater(t, primed, budget/2)
	require.Equal(t, primed+budget/2, late.maxBytes)
	write(t, p, g.Packets(3)...)
	require.Zero(t, late.Stats().Overflows, "live packets fit after the replay")
}

// TestReaderByteBudgetOversizedPacket: a packet larger than the whole
// budget still reaches a reader with an empty queue (it is bounded by the
// message size), instead of overflowing every reader of the stream.
func TestReaderByteBudgetOversizedPacket(t *testing.T) {
	h, _, _ := testHub(t, Config{QueueMaxBytes: 4 << 10})
	g := mediatest.New(mediatest.Config{GOP: 1, KeySize: 8 << 10, NoAudio: true})
	p := publish(t, h, "live/huge")
	write(t, p, g.Headers()...)
	r := subscribe(t, h, "live/huge")
	queued(t, r)
	for range 5 {
		write(t, p, g.Next())
		got := queued(t, r)
		require.Len(t, got, 1)
	}
	require.Zero(t, r.Stats().Overflows)
}

// TestNewVideoHeaderResetsGOP: a late joiner never gets the new sequence
// header followed by frames coded under the old one.
func TestNewVideoHeaderResetsGOP(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	g := mediatest.New(mediatest.Config{GOP: 30, NoAudio: true})
	p := publish(t, h, "live/switch")
	write(t, p, g.Headers()...)
	write(t, p, g.Packets(10)...)
	// The same header again (a reconnecting encoder repeats it) keeps the
	// cache.
	write(t, p, g.VideoHeader())
	late := subscribe(t, h, "live/switch")
	require.GreaterOrEqual(t, len(queued(t, late)), 10)

	// Another configuration: the cache starts over at the next keyframe.
	other := mediatest.New(mediatest.Config{Width: 640, Height: 360, NoAudio: true})
	write(t, p, other.VideoHeader())
	later := subscribe(t, h, "live/switch")
	got := queued(t, later)
	for _, q := range got {
		require.False(t, q.IsMedia() && !q.Header, "no frame of the old configuration: %+v", q)
	}
}
