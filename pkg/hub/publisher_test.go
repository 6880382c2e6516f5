package hub

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestReconnectWithinGrace(t *testing.T) {
	h, _, ft := testHub(t, Config{ReconnectGrace: 5 * time.Second})
	g1 := mediatest.New(mediatest.Config{Width: 320, Height: 240, StartTS: 90_000})
	p1 := publish(t, h, "live/a")
	r := subscribe(t, h, "live/a")
	write(t, p1, g1.Headers()...)
	write(t, p1, g1.Packets(60)...)
	first := readN(t, r, 63)
	last := lastDTS(first)

	p1.Close()
	require.Equal(t, []time.Duration{5 * time.Second}, ft.pending())
	info, ok := h.Stream("live/a")
	require.True(t, ok, "the stream stays during the grace")
	require.False(t, info.Publishing)
	require.Equal(t, 1, info.Readers)
	// A late joiner during the grace still gets the old headers and GOP.
	r2 := subscribe(t, h, "live/a")
	require.NotEmpty(t, queued(t, r2))

	p2 := publish(t, h, "live/a") // resumes: not ErrStreamBusy
	require.Empty(t, ft.pending(), "resuming stops the grace timer")
	g2 := mediatest.New(mediatest.Config{Width: 640, Height: 360}) // encoder restarted at 0
	hdrs2 := g2.Headers()
	media2 := g2.Packets(30)
	write(t, p2, hdrs2...)
	write(t, p2, media2...)

	got := readN(t, r, 33)
	require.Equal(t, hdrs2, got[:3], "fresh headers first")
	require.Equal(t, media2, got[3:], "same reader continues with the new publisher's media")
	require.True(t, got[3].Keyframe)
	require.Greater(t, got[3].DTS, last, "timestamps continue")
	require.LessOrEqual(t, got[3].DTS, last+40)
	for i := 4; i < len(got); i++ {
		require.GreaterOrEqual(t, got[i].DTS, got[3].DTS)
	}
	info, _ = h.Stream("live/a")
	require.True(t, info.Publishing)
	require.Equal(t, 2, info.Readers)

	// A late joiner after the resume gets only the new session's state.
	r3 := subscribe(t, h, "live/a")
	got3 := queued(t, r3)
	require.Equal(t, hdrs2, got3[:3])
	require.Equal(t, media2, got3[3:])

	ft.fireAll() // the stopped timer must not end the resumed stream
	_, ok = h.Stream("live/a")
	require.True(t, ok)
}

func TestGraceExpiry(t *testing.T) {
	h, _, ft := testHub(t, Config{ReconnectGrace: time.Minute})
	g := mediatest.New(mediatest.Config{})
	p := publish(t, h, "live/a")
	r := subscribe(t, h, "live/a")
	write(t, p, g.Headers()...)
	write(t, p, g.Packets(10)...)
	p.Close()
	require.Equal(t, 1, ft.fireAll())

	got, err := readToEnd(t, r)
	require.ErrorIs(t, err, io.EOF)
	require.Len(t, got, 13, "the queue is drained before EOF")
	_, ok := h.Stream("live/a")
	require.False(t, ok)
	_, err = h.Subscribe("live/a", ReaderInfo{})
	require.ErrorIs(t, err, ErrStreamNotFound)
	p2 := publish(t, h, "live/a") // a new stream, from 0 again
	write(t, p2, g.Next())
}

// TestGraceExpiryRealTimer uses the real time.AfterFunc with a short grace
// and waits for the reader's EOF.
func TestGraceExpiryRealTimer(t *testing.T) {
	h := New(Config{ReconnectGrace: 20 * time.Millisecond})
	defer h.Close()
	p, err := h.Publish("live/a", PublisherInfo{})
	require.NoError(t, err)
	r, err := h.Subscribe("live/a", ReaderInfo{})
	require.NoError(t, err)
	defer r.Close()
	require.NoError(t, p.WritePacket(mediatest.New(mediatest.Config{}).Next()))
	p.Close()
	got, err := readToEnd(t, r)
	require.ErrorIs(t, err, io.EOF)
	require.Len(t, got, 1)
}

func TestCloseWithoutGrace(t *testing.T) {
	h, _, ft := testHub(t, Config{})
	p := publish(t, h, "live/a")
	r := subscribe(t, h, "live/a")
	p.Close()
	require.Empty(t, ft.pending())
	_, err := readToEnd(t, r)
	require.ErrorIs(t, err, io.EOF)
}

func TestWritePacketRejectsBadPackets(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	p := publish(t, h, "live/a")
	require.Error(t, p.WritePacket(nil))
	require.ErrorContains(t, p.WritePacket(&av.Packet{Kind: 9}), "kind 9")
	info, _ := h.Stream("live/a")
	require.Equal(t, uint64(0), info.Packets)
}

// TestEndSkipsGrace: a publisher that stops on purpose ends the stream at
// once, whatever the reconnect grace; the readers drain and get io.EOF.
func TestEndSkipsGrace(t *testing.T) {
	h, _, ft := testHub(t, Config{ReconnectGrace: 10 * time.Minute})
	var rc recorder
	cancel := h.Watch(rc.add)
	defer cancel()
	g := mediatest.New(mediatest.Config{})
	p := publish(t, h, "live/a")
	r := subscribe(t, h, "live/a")
	write(t, p, g.Headers()...)
	write(t, p, g.Packets(10)...)

	p.End()
	require.Empty(t, ft.pending(), "no grace timer")
	got, err := readToEnd(t, r)
	require.ErrorIs(t, err, io.EOF)
	require.Len(t, got, 13, "the queue is drained before EOF")
	_, ok := h.Stream("live/a")
	require.False(t, ok, "the stream is gone")
	require.Equal(t, []EventType{EventPublish, EventReaderJoin, EventUnpublish, EventStreamEnd}, rc.types())
	require.ErrorIs(t, p.WritePacket(g.Next()), ErrPublisherClosed)
	select {
	case <-p.Done():
		t.Fatal("End is the publisher's own choice, not an end from outside")
	default:
	}

	p.End() // idempotent
	p.Close()
	require.Len(t, rc.types(), 4, "no second unpublish")
	p2 := publish(t, h, "live/a") // a new stream, not a resume
	require.Equal(t, EventPublish, rc.events[len(rc.events)-1].Type)
	require.False(t, rc.events[len(rc.events)-1].Resumed)
	p2.End()
}

// TestEndAfterClose: once Close started the grace, a late End does not cut
// it (the publisher is no longer the stream's), and a resume still works.
func TestEndAfterClose(t *testing.T) {
	h, _, ft := testHub(t, Config{ReconnectGrace: time.Minute})
	p := publish(t, h, "live/a")
	r := subscribe(t, h, "live/a")
	p.Close()
	p.End()
	require.Equal(t, []time.Duration{time.Minute}, ft.pending())
	_, ok := h.Stream("live/a")
	require.True(t, ok)
	p2 := publish(t, h, "live/a")
	require.NoError(t, p2.WritePacket(mediatest.New(mediatest.Config{}).Next()))
	require.Len(t, queued(t, r), 1)
}

// TestEndAfterTakeover: the replaced publisher's End leaves the new
// publisher's stream alone.
func TestEndAfterTakeover(t *testing.T) {
	h, _, _ := testHub(t, Config{Policy: func(string) PublishPolicy { return PolicyTakeover }})
	p1 := publish(t, h, "live/a")
	p2 := publish(t, h, "live/a")
	p1.End()
	info, ok := h.Stream("live/a")
	require.True(t, ok)
	require.True(t, info.Publishing)
	p2.End()
	_, ok = h.Stream("live/a")
	require.False(t, ok)
}
