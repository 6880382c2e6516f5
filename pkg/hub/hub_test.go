package hub

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestPublishSubscribe(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	g := mediatest.New(mediatest.Config{})
	p := publish(t, h, "live/cam")
	r := subscribe(t, h, "live/cam")
	hdrs := g.Headers()
	media := g.Packets(100)
	write(t, p, hdrs...)
	write(t, p, media...)

	got := readN(t, r, len(hdrs)+len(media))
	require.Equal(t, append(append([]*av.Packet{}, hdrs...), media...), got, "same packets, same order")
	require.Equal(t, int64(0), got[len(hdrs)].DTS, "timeline starts at 0")

	info, ok := h.Stream("live/cam")
	require.True(t, ok)
	require.Equal(t, "live/cam", info.Key)
	require.True(t, info.Publishing)
	require.True(t, info.HasVideo)
	require.True(t, info.HasAudio)
	require.Equal(t, av.CodecH264, info.VideoCodec)
	require.Equal(t, av.CodecAAC, info.AudioCodec)
	require.Equal(t, 1, info.Readers)
	require.Equal(t, uint64(len(hdrs)+len(media)), info.Packets)
	var bytes uint64
	for _, pk := range got {
		bytes += uint64(len(pk.Data))
	}
	require.Equal(t, bytes, info.BytesIn)
	require.Equal(t, "test", info.Publisher.Protocol)
	require.Equal(t, uint64(len(got)), r.Stats().Delivered)
	require.Equal(t, []StreamInfo{info}, h.Streams())
	require.Equal(t, info, r.Stream())
	require.Equal(t, "live/cam", r.Key())
	require.Equal(t, "live/cam", p.Key())

	p.Close()
	rest, err := readToEnd(t, r)
	require.ErrorIs(t, err, io.EOF)
	require.Empty(t, rest)
	_, ok = h.Stream("live/cam")
	require.False(t, ok, "ReconnectGrace 0 ends the stream at once")
	require.ErrorIs(t, p.WritePacket(g.Next()), ErrPublisherClosed)
	require.NoError(t, p.Err(), "Close is not an outside end")
	select {
	case <-p.Done():
		t.Fatal("Done closed by the publisher's own Close")
	default:
	}
	p.Close() // idempotent
}

func TestReadRespectsCap(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	g := mediatest.New(mediatest.Config{})
	p := publish(t, h, "live/a")
	r := subscribe(t, h, "live/a")
	write(t, p, g.Packets(10)...)

	got, err := r.Read(context.Background(), make([]*av.Packet, 1, 4))
	require.NoError(t, err)
	require.Len(t, got, 4, "1 already in dst + 3 that fit")
	got, err = r.Read(context.Background(), nil)
	require.NoError(t, err)
	require.Len(t, got, 7, "nil dst: everything queued")
	require.Equal(t, 0, r.Stats().Queued)
}

func TestReadContextCancel(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	publish(t, h, "live/a")
	r := subscribe(t, h, "live/a")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(ctx, nil)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(waitTimeout):
		t.Fatal("Read did not return after cancel")
	}
}

func TestPolicy(t *testing.T) {
	t.Run("reject", func(t *testing.T) {
		h, _, _ := testHub(t, Config{})
		p1 := publish(t, h, "live/a")
		_, err := h.Publish("live/a", PublisherInfo{})
		require.ErrorIs(t, err, ErrStreamBusy)
		_, err = h.Publish("other/a", PublisherInfo{})
		require.NoError(t, err, "keys are app+name")
		p1.Close()
		p2 := publish(t, h, "live/a")
		require.NoError(t, p2.WritePacket(mediatest.New(mediatest.Config{}).Next()))
	})

	t.Run("takeover", func(t *testing.T) {
		h, _, _ := testHub(t, Config{Policy: func(app string) PublishPolicy {
			if app == "live" {
				return PolicyTakeover
			}
			return PolicyReject
		}})
		g1 := mediatest.New(mediatest.Config{Width: 320, Height: 240})
		p1 := publish(t, h, "live/a")
		r := subscribe(t, h, "live/a")
		write(t, p1, g1.Headers()...)
		write(t, p1, g1.Packets(50)...)
		before := readN(t, r, 53)
		last := lastDTS(before)

		_, err := h.Publish("studio/a", PublisherInfo{})
		require.NoError(t, err)
		_, err = h.Publish("studio/a", PublisherInfo{})
		require.ErrorIs(t, err, ErrStreamBusy, "policy is per app")

		p2, err := h.Publish("live/a", PublisherInfo{Protocol: "test", RemoteAddr: "second"})
		require.NoError(t, err)
		select {
		case <-p1.Done():
		case <-time.After(waitTimeout):
			t.Fatal("old publisher's Done not closed")
		}
		require.ErrorIs(t, p1.Err(), ErrReplaced)
		require.ErrorIs(t, p1.WritePacket(g1.Next()), ErrReplaced)
		p1.Close() // no effect on the new publisher

		info, ok := h.Stream("live/a")
		require.True(t, ok)
		require.True(t, info.Publishing)
		require.Equal(t, "second", info.Publisher.RemoteAddr)

		g2 := mediatest.New(mediatest.Config{Width: 640, Height: 360, StartTS: 123456})
		hdrs2 := g2.Headers()
		write(t, p2, hdrs2...)
		write(t, p2, g2.Packets(20)...)
		after := readN(t, r, 23)
		require.Equal(t, hdrs2, after[:3], "the new publisher's headers come first")
		require.True(t, after[3].Keyframe)
		require.Greater(t, after[3].DTS, last, "timeline continues")
		require.LessOrEqual(t, after[3].DTS, last+100)
	})
}

func lastDTS(pkts []*av.Packet) int64 {
	var m int64
	for _, p := range pkts {
		m = max(m, p.DTS)
	}
	return m
}

func TestMaxStreamsAndKeys(t *testing.T) {
	h, _, _ := testHub(t, Config{MaxStreams: 2})
	publish(t, h, "live/a")
	publish(t, h, "live/b")
	_, err := h.Publish("live/c", PublisherInfo{})
	require.ErrorIs(t, err, ErrTooManyStreams)
	require.ErrorContains(t, err, "limit 2")

	for _, key := range []string{"", "live", "live/", "/a", "live/../a", "live/a b", "live/a?x=1"} {
		_, err := h.Publish(key, PublisherInfo{})
		require.ErrorIs(t, err, ErrInvalidKey, key)
	}
	_, err = h.Subscribe("live/zzz", ReaderInfo{})
	require.ErrorIs(t, err, ErrStreamNotFound)
}

func TestWaitStream(t *testing.T) {
	t.Run("live already", func(t *testing.T) {
		h, _, _ := testHub(t, Config{})
		publish(t, h, "live/a")
		require.NoError(t, h.WaitStream(context.Background(), "live/a"))
	})
	t.Run("goes live", func(t *testing.T) {
		h, _, _ := testHub(t, Config{})
		errs := make(chan error, 2)
		for range 2 {
			go func() { errs <- h.WaitStream(context.Background(), "live/a") }()
		}
		// The waiters may not have registered yet; both orders must work.
		publish(t, h, "live/a")
		for range 2 {
			select {
			case err := <-errs:
				require.NoError(t, err)
			case <-time.After(waitTimeout):
				t.Fatal("WaitStream did not return")
			}
		}
	})
	t.Run("ctx ends", func(t *testing.T) {
		h, _, _ := testHub(t, Config{})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, h.WaitStream(ctx, "live/a"), context.DeadlineExceeded)
		h.mu.Lock()
		require.Empty(t, h.waiters, "abandoned waiters are removed")
		h.mu.Unlock()
	})
	t.Run("hub closes", func(t *testing.T) {
		h, _, _ := testHub(t, Config{})
		errc := make(chan error, 1)
		ready := make(chan struct{})
		go func() {
			close(ready)
			errc <- h.WaitStream(context.Background(), "live/a")
		}()
		<-ready
		h.Close()
		select {
		case err := <-errc:
			require.ErrorIs(t, err, ErrClosed)
		case <-time.After(waitTimeout):
			t.Fatal("WaitStream did not return on Close")
		}
	})
}

func TestHubCloseWhileReading(t *testing.T) {
	h, _, _ := testHub(t, Config{ReconnectGrace: time.Minute})
	g := mediatest.New(mediatest.Config{})
	p := publish(t, h, "live/a")
	p2 := publish(t, h, "live/b")
	p2.Close() // in grace: Close must stop its timer

	const readers = 8
	type result struct {
		n   int
		err error
	}
	results := make(chan result, readers)
	for range readers {
		r := subscribe(t, h, "live/a")
		go func() {
			var n int
			var buf []*av.Packet
			for {
				var err error
				buf, err = r.Read(context.Background(), buf[:0])
				n += len(buf)
				if err != nil {
					results <- result{n, err}
					return
				}
			}
		}()
	}
	write(t, p, g.Headers()...)
	write(t, p, g.Packets(30)...)
	h.Close()
	for range readers {
		select {
		case res := <-results:
			require.ErrorIs(t, res.err, io.EOF)
			require.Equal(t, 33, res.n, "queued packets are drained before EOF")
		case <-time.After(waitTimeout):
			t.Fatal("reader not ended by Hub.Close")
		}
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("publisher Done not closed by Hub.Close")
	}
	require.ErrorIs(t, p.Err(), ErrClosed)
	require.ErrorIs(t, p.WritePacket(g.Next()), ErrClosed)
	_, err := h.Publish("live/c", PublisherInfo{})
	require.ErrorIs(t, err, ErrClosed)
	_, err = h.Subscribe("live/a", ReaderInfo{})
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, h.WaitStream(context.Background(), "live/a"), ErrClosed)
	require.Empty(t, h.Streams())
	h.Close() // idempotent
}

func TestReaderCloseWhileReading(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	p := publish(t, h, "live/a")
	r := subscribe(t, h, "live/a")
	errc := make(chan error, 1)
	go func() {
		_, err := r.Read(context.Background(), nil)
		errc <- err
	}()
	r.Close()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, ErrClosed)
	case <-time.After(waitTimeout):
		t.Fatal("Read did not return after Close")
	}
	info, _ := h.Stream("live/a")
	require.Equal(t, 0, info.Readers)
	write(t, p, mediatest.New(mediatest.Config{}).Next())
	_, err := r.Read(context.Background(), nil)
	require.ErrorIs(t, err, ErrClosed)
	r.Close()
}
