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
