package hub

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestTryReadNeverBlocks(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	g := mediatest.New(mediatest.Config{FPS: 30, GOP: 30})
	p := publish(t, h, "live/a")
	r := subscribe(t, h, "live/a")

	got, err := r.TryRead(nil)
	require.NoError(t, err)
	require.Empty(t, got, "nothing queued: returns at once")

	hdrs := g.Headers()
	write(t, p, hdrs...)
	got, err = r.TryRead(make([]*av.Packet, 0, 1))
	require.NoError(t, err)
	require.Equal(t, hdrs[:1], got, "limited by the capacity left, as Read")
	got, err = r.TryRead(nil)
	require.NoError(t, err)
	require.Equal(t, hdrs[1:], got)

	pk := g.Next()
	write(t, p, pk)
	p.Close()
	got, err = r.TryRead(nil)
	require.NoError(t, err, "queued packets first, then the end")
	require.Len(t, got, 1)
	_, err = r.TryRead(nil)
	require.ErrorIs(t, err, io.EOF)
}

func TestAfterEnd(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	publish(t, h, "live/a")
	r := subscribe(t, h, "live/a")

	ran := make(chan struct{})
	r.AfterEnd(func() { close(ran) })
	stopped := make(chan struct{})
	stop := r.AfterEnd(func() { close(stopped) })
	require.True(t, stop(), "stopped before the end")
	require.False(t, stop(), "only once")

	r.Close()
	<-ran
	select {
	case <-stopped:
		t.Fatal("a stopped callback must not run")
	default:
	}

	late := make(chan struct{})
	stop = r.AfterEnd(func() { close(late) })
	<-late // already ended: runs at once
	require.False(t, stop())
}

func TestReaderRingGrowsToQueueSize(t *testing.T) {
	h, _, _ := testHub(t, Config{QueueSize: 4 * initialRing, DisableGOPCache: true})
	g := mediatest.New(mediatest.Config{FPS: 30, GOP: 1000})
	p := publish(t, h, "live/a")
	r := subscribe(t, h, "live/a")
	require.Len(t, r.ring, initialRing, "a reader starts small")

	var sent []*av.Packet
	for range 4 * initialRing {
		pk := g.Next()
		write(t, p, pk)
		sent = append(sent, pk)
	}
	require.Len(t, r.ring, 4*initialRing, "grown by doubling to the queue size")
	require.Zero(t, r.Stats().Overflows, "no overflow below the queue size")
	got, err := r.TryRead(nil)
	require.NoError(t, err)
	require.Equal(t, sent, got, "in order across the growth")

	for range 4*initialRing + 1 {
		write(t, p, g.NextAudio())
	}
	require.Equal(t, uint64(1), r.Stats().Overflows, "the queue size still bounds it")
	require.Len(t, r.ring, 4*initialRing)
}

func TestWakeIsASpuriousReady(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	publish(t, h, "live/a")
	r := subscribe(t, h, "live/a")
	<-r.Ready() // the subscription's own wake-up
	r.Wake()
	<-r.Ready()
	got, err := r.TryRead(nil)
	require.NoError(t, err)
	require.Empty(t, got, "nothing queued: the consumer goes back to waiting")
}
