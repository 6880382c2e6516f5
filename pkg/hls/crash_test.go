package hls

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// panicky is a container that panics at the video sample where left
// reaches 0: a stand-in for any bug the muxer's processing can hit.
type panicky struct {
	container
	left *atomic.Int64
}

func (p *panicky) video(dts int64, cts int32, key bool, au []byte) error {
	if p.left.Add(-1) == 0 {
		panic("injected muxer bug")
	}
	return p.container.video(dts, cts, key, au)
}

// waitMSN waits until md has published segments up to n.
func waitMSN(t *testing.T, md *media, n uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.True(t, md.wait(ctx, nil, func() bool { return md.nextMSN >= n }), "segment %d", n)
}

// TestPanicStopsOneStream: a panic in one stream's muxer is recovered and
// counted; that stream's playlists answer 503 while other streams go on;
// its packets are discarded (no busy loop, no resubscription) until its
// next sequence header, where HLS restarts with a new epoch and a
// discontinuity.
func TestPanicStopsOneStream(t *testing.T) {
	var rec guard.Recorder
	lb := &logBuf{}
	var left atomic.Int64
	left.Store(1 << 40)
	cfg := Config{Variant: VariantLowLatency, Panics: &rec, Logger: newLogger(lb)}
	cfg.wrap = func(key string, c container) container {
		if key != testKey {
			return c
		}
		return &panicky{container: c, left: &left}
	}
	e := newEnv(t, cfg, hub.Config{})

	const otherKey = "live/other"
	other, err := e.hub.Publish(otherKey, hub.PublisherInfo{Protocol: "test"})
	require.NoError(t, err)
	ogen := mediatest.New(mediatest.Config{})
	for _, p := range ogen.Headers() {
		require.NoError(t, other.WritePacket(p))
	}
	e.waitEvent(t, hub.EventReaderJoin, "hls")
	sendOther := func(until time.Duration) {
		for {
			p := ogen.Next()
			require.NoError(t, other.WritePacket(p))
			if p.DTS >= until.Milliseconds() {
				return
			}
		}
	}

	e.publish(t, mediatest.Config{}, true)
	e.send(t, 5*time.Second)
	sendOther(5 * time.Second)
	old := e.waitSegments(t, 2)
	e.settle(t, 100)
	omx := e.m.get(otherKey)
	require.NotNil(t, omx)
	omd := omx.media()
	waitMSN(t, omd, 2)
	mx := e.m.get(testKey)

	// A blocking reload held on the stream when it breaks.
	old.mu.Lock()
	next := old.nextMSN
	old.mu.Unlock()
	waiting := e.watchWaits(old)
	blocked := e.async("/live/cam/media.m3u8?_HLS_msn=" + strconv.FormatUint(next+1, 10))
	waitN(t, waiting, 1)

	left.Store(1) // the next video sample panics
	e.send(t, 8*time.Second)
	r := wait(t, blocked)
	require.Equal(t, http.StatusServiceUnavailable, r.resp.StatusCode, r.body)
	require.Equal(t, "1", r.resp.Header.Get("Retry-After"))
	require.Equal(t, []guard.Count{{Component: "hls", Panics: 1}}, rec.Counts())
	require.Equal(t, 1, lb.count("panic recovered"), lb.String())
	require.Contains(t, lb.String(), "level=ERROR")
	require.Contains(t, lb.String(), "injected muxer bug")
	require.Contains(t, lb.String(), "stack=")

	// The other stream is untouched.
	sendOther(11 * time.Second)
	waitMSN(t, omd, 4)
	require.Same(t, omd, omx.media())
	resp, _ := e.get(t, "/live/other/media.m3u8")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Media without a sequence header is discarded: no segment, no new
	// panic, the same reader.
	e.send(t, 14*time.Second)
	md := mx.media()
	require.NotSame(t, old, md)
	require.NotEqual(t, old.epoch, md.epoch, "names never repeat")
	resp, _ = e.get(t, "/live/cam/"+old.segmentName(0))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	// The next header restarts it.
	require.NoError(t, e.pub.WritePacket(e.gen.VideoHeader()))
	// Read before sending: the muxer may have segmented all of it by the
	// time the send returns, and then no segment would come after.
	md.mu.Lock()
	first := md.nextMSN
	md.mu.Unlock()
	e.send(t, 22*time.Second)
	require.GreaterOrEqual(t, first, next, "media sequence numbers never go back")
	waitMSN(t, md, first+2)
	require.Same(t, mx, e.m.get(testKey), "the same muxer")
	require.Equal(t, []guard.Count{{Component: "hls", Panics: 1}}, rec.Counts(), "no loop")
	md.mu.Lock()
	segs := append([]*segment(nil), md.segments...)
	md.mu.Unlock()
	require.True(t, segs[0].disc)
	require.GreaterOrEqual(t, segs[0].maxDTS, int64(14_000), "nothing from before the header was kept")

	resp, body := e.get(t, "/live/cam/media.m3u8")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "#EXT-X-DISCONTINUITY\n")
	require.Contains(t, body, "#EXT-X-MEDIA-SEQUENCE:"+strconv.FormatUint(segs[0].msn, 10)+"\n")
	for _, u := range uris(body) {
		require.True(t, strings.HasPrefix(u, md.epoch+"-"), u)
		resp, _ := e.get(t, "/live/cam/"+u)
		require.Equal(t, http.StatusOK, resp.StatusCode, u)
	}

	joins := 0
	for len(e.events) > 0 {
		ev := <-e.events
		if ev.Type == hub.EventReaderJoin && ev.Key == testKey {
			joins++
		}
	}
	require.Zero(t, joins, "no resubscription")
	other.Close()
}
