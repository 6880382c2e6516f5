package bench

import (
	"context"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ripplemedia/ripple/pkg/httpflv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestPlaySmoke publishes media/h264_aac_gop2s.flv (stamped) to an
// in-process Ripple and plays it back over RTMP, HTTP-FLV and WS-FLV with a
// few players each: every player must receive stamped frames with a sane
// latency. Bounded: about one second per protocol.
func TestPlaySmoke(t *testing.T) {
	// Ripple's outputs wired by hand (like pkg/server does), so that this
	// test depends only on the packages it measures.
	h := hub.New(hub.Config{})
	rtmpLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	rs := rtmp.NewServer(rtmp.ServerConfig{}, h)
	rtmpDone := make(chan error, 1)
	go func() { rtmpDone <- rs.Serve(rtmpLn) }()
	flvHandler := httpflv.NewHandler(httpflv.Config{}, h)
	hs := httptest.NewServer(flvHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	clip, err := LoadClip("../../media/h264_aac_gop2s.flv")
	require.NoError(t, err)
	require.Greater(t, clip.Duration, 9*time.Second)

	pubCtx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan error, 1)
	rtmpBase := "rtmp://" + rtmpLn.Addr().String() + "/live/smoke"
	go func() {
		_, err := Publish(pubCtx, clip, PublishConfig{URL: rtmpBase})
		pubDone <- err
	}()

	httpBase := hs.Listener.Addr().String() + "/live/smoke.flv"
	for _, u := range []string{rtmpBase, "http://" + httpBase, "ws://" + httpBase} {
		t.Run(u[:4], func(t *testing.T) {
			stalled := 0
			if u[:4] == "http" {
				stalled = 1 // a viewer that never reads must not hold the others up
			}
			r, err := Play(ctx, PlayConfig{URL: u, Players: 3, Ramp: 30 * time.Millisecond, Stalled: stalled,
				Warmup: 300 * time.Millisecond, Duration: 700 * time.Millisecond, PIDs: []int{0}})
			require.NoError(t, err)
			require.Equal(t, stalled, r.Stalled)
			require.Equal(t, 3, r.OK, "errors: %v", r.Errors)
			require.Zero(t, r.Failed)
			require.Positive(t, r.FirstFrame.N)
			require.Greater(t, r.Frames, uint64(3*10)) // 25 fps clip, 0.7 s, 3 players
			require.Less(t, r.Latency.P50, 500.0)      // loopback, in-process: ms at most
			require.Positive(t, r.Mbps)
			require.Positive(t, r.RSSMaxMB) // pid 0 samples ourselves
		})
	}

	t.Run("missing stream fails cleanly", func(t *testing.T) {
		r, err := Play(ctx, PlayConfig{URL: "http://" + hs.Listener.Addr().String() + "/live/none.flv", Players: 2,
			Duration: 200 * time.Millisecond})
		require.NoError(t, err)
		require.Equal(t, 2, r.Failed)
		require.Len(t, r.Errors, 1)
	})

	stopPub()
	select {
	case err := <-pubDone:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("publisher did not stop")
	}
	flvHandler.Close()
	hs.Close()
	defer h.Close()
	require.NoError(t, rs.Close())
	select {
	case err := <-rtmpDone:
		require.ErrorIs(t, err, rtmp.ErrServerClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("rtmp server did not stop")
	}
}
