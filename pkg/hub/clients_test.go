package hub

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestReadersRegistry(t *testing.T) {
	h, clk, _ := testHub(t, Config{})
	p := publish(t, h, "live/a")
	publish(t, h, "live/b")
	r1 := subscribe(t, h, "live/a")
	clk.advance(time.Second)
	r2, err := h.Subscribe("live/b", ReaderInfo{Protocol: "http-flv", RemoteAddr: "10.0.0.2:5000"})
	require.NoError(t, err)
	t.Cleanup(r2.Close)
	require.NotEqual(t, r1.ID(), r2.ID())
	require.Less(t, r1.ID(), r2.ID(), "ids grow")

	g := mediatest.New(mediatest.Config{NoAudio: true, FPS: 10, GOP: 10})
	write(t, p, g.Headers()...)
	write(t, p, g.Packets(5)...)
	r1.AddBytes(1000)
	r1.AddBytes(500)
	r2.AddBytes(7)

	got := h.Readers()
	require.Len(t, got, 2)
	require.Equal(t, r1.ID(), got[0].ID)
	require.Equal(t, "live/a", got[0].Key)
	require.Equal(t, "test", got[0].Info.Protocol)
	require.Equal(t, uint64(1500), got[0].Bytes)
	require.Equal(t, time.Unix(1_700_000_000, 0), got[0].Since)
	require.Equal(t, r1.Stats().Queued, got[0].Queued)
	require.Positive(t, got[0].Queued)
	// 5 frames at 10 fps queued behind the header: 400 ms from first to last.
	require.Equal(t, 400*time.Millisecond, got[0].Lag)
	require.Equal(t, "10.0.0.2:5000", got[1].Info.RemoteAddr)
	require.Equal(t, time.Unix(1_700_000_001, 0), got[1].Since)
	require.Equal(t, time.Duration(0), got[1].Lag, "empty queue")

	in, out := h.Traffic()
	require.Equal(t, uint64(1507), out)
	st, ok := h.Stream("live/a")
	require.True(t, ok)
	require.Equal(t, st.BytesIn, in, "live/b carried nothing")
	require.Equal(t, []ProtocolStats{{Protocol: "test", Readers: 1, BytesOut: 1500}}, st.Protocols)
}

func TestStreamInfoCadence(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	p := publish(t, h, "live/a")
	g := mediatest.New(mediatest.Config{NoAudio: true, FPS: 25, GOP: 50})
	write(t, p, g.Headers()...)
	st, _ := h.Stream("live/a")
	require.NotNil(t, st.VideoHeader)
	require.True(t, st.VideoHeader.Header)
	require.NotNil(t, st.MetaData)
	require.Nil(t, st.AudioHeader)
	require.Zero(t, st.GOPFrames, "no keyframe yet")

	write(t, p, g.Packets(101)...) // keyframes at 0, 50, 100
	st, _ = h.Stream("live/a")
	require.Equal(t, uint64(101), st.VideoFrames)
	require.Equal(t, 50, st.GOPFrames)
	require.Equal(t, 2*time.Second, st.GOPDuration)
}

func TestKickReader(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	publish(t, h, "live/a")
	var rc recorder
	defer h.Watch(rc.add)()
	r := subscribe(t, h, "live/a")

	require.False(t, h.KickReader(r.ID()+100), "unknown id")
	require.True(t, h.KickReader(r.ID()))
	select {
	case <-r.Done():
	case <-time.After(waitTimeout):
		t.Fatal("kicked reader not done")
	}
	_, err := readToEnd(t, r)
	require.ErrorIs(t, err, ErrClosed)
	require.Empty(t, h.Readers())
	require.False(t, h.KickReader(r.ID()), "already gone")
	require.Equal(t, []EventType{EventReaderJoin, EventReaderLeave}, rc.types())
	rc.mu.Lock()
	require.Equal(t, r.ID(), rc.events[0].ReaderID)
	require.Equal(t, r.ID(), rc.events[1].ReaderID)
	rc.mu.Unlock()
}

func TestKickPublisher(t *testing.T) {
	cases := []struct {
		name  string
		grace time.Duration
	}{
		{name: "no grace", grace: 0},
		{name: "with grace", grace: 5 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, _, timers := testHub(t, Config{ReconnectGrace: tc.grace})
			p := publish(t, h, "live/a")
			r := subscribe(t, h, "live/a")
			var rc recorder
			defer h.Watch(rc.add)()

			require.ErrorIs(t, h.KickPublisher("live/none"), ErrStreamNotFound)
			require.NoError(t, h.KickPublisher("live/a"))
			select {
			case <-p.Done():
			case <-time.After(waitTimeout):
				t.Fatal("kicked publisher not done")
			}
			require.ErrorIs(t, p.Err(), ErrKicked)
			require.ErrorIs(t, p.WritePacket(mediatest.VideoFrame(0, true, 10, 1)), ErrKicked)
			require.ErrorIs(t, h.KickPublisher("live/a"), ErrStreamNotFound, "no publisher any more")
			p.Close() // the protocol's own cleanup after the kick is a no-op

			if tc.grace > 0 {
				require.Equal(t, []EventType{EventUnpublish}, rc.types())
				_, ok := h.Stream("live/a")
				require.True(t, ok, "readers wait inside the grace")
				require.Equal(t, 1, timers.fireAll())
			}
			require.Equal(t, []EventType{EventUnpublish, EventStreamEnd}, rc.types())
			_, err := readToEnd(t, r)
			require.ErrorIs(t, err, io.EOF)
		})
	}
}

// TestRegistryChurn kicks readers and publishers while others publish,
// subscribe, read and report bytes; run with -race. Every reader must end
// (kicked, evicted or at the end of its stream) and nothing may deadlock.
func TestRegistryChurn(t *testing.T) {
	h := New(Config{QueueSize: 16, ReconnectGrace: time.Millisecond})
	defer h.Close()
	keys := []string{"live/a", "live/b"}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, key := range keys {
		wg.Go(func() { // publisher: republishes whenever kicked
			g := mediatest.New(mediatest.Config{GOP: 5})
			for {
				p, err := h.Publish(key, PublisherInfo{Protocol: "test"})
				if err != nil {
					select {
					case <-stop:
						return
					default:
						continue // the old stream is still inside its grace
					}
				}
				for _, pk := range g.Headers() {
					_ = p.WritePacket(pk)
				}
				for p.WritePacket(g.Next()) == nil {
					select {
					case <-stop:
						p.Close()
						return
					default:
					}
				}
				p.Close()
			}
		})
		wg.Go(func() { // readers: subscribe, read a little, report bytes
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := h.Subscribe(key, ReaderInfo{Protocol: "test"})
				if err != nil {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
				for range 3 {
					pkts, err := r.Read(ctx, nil)
					r.AddBytes(uint64(len(pkts)))
					if err != nil {
						break
					}
				}
				cancel()
				r.Close()
			}
		})
	}
	deadline := time.After(500 * time.Millisecond)
	for kicks := 0; ; kicks++ {
		select {
		case <-deadline:
			close(stop)
			wg.Wait()
			_, out := h.Traffic()
			require.Positive(t, out)
			return
		default:
		}
		for _, rd := range h.Readers() {
			h.KickReader(rd.ID)
		}
		if kicks%10 == 0 {
			_ = h.KickPublisher(keys[kicks/10%len(keys)])
		}
		h.Streams()
	}
}
