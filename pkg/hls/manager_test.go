package hls

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestStopsWhenStreamEnds(t *testing.T) {
	e := newEnv(t, Config{}, hub.Config{})
	e.publish(t, mediatest.Config{}, true)
	e.send(t, 5*time.Second)
	e.waitSegments(t, 2)
	mx := e.m.get(testKey)
	e.pub.Close() // no reconnect grace: the reader gets io.EOF
	select {
	case <-mx.stopped:
	case <-time.After(waitFor):
		t.Fatal("muxer did not stop")
	}
	resp, _ := e.get(t, "/live/cam.m3u8")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, "public, max-age=2", resp.Header.Get("Cache-Control"))

	// A new publish starts a new muxer with new names.
	e.gen = nil
	e.publish(t, mediatest.Config{}, true)
	e.send(t, 5*time.Second)
	e.waitSegments(t, 2)
	mx2 := e.m.get(testKey)
	require.NotEqual(t, mx.media().epoch, mx2.media().epoch)
}

func TestRepublishWithinGraceIsADiscontinuity(t *testing.T) {
	e := newEnv(t, Config{Variant: VariantFMP4}, hub.Config{ReconnectGrace: time.Minute})
	e.publish(t, mediatest.Config{}, true)
	e.send(t, 5*time.Second)
	e.waitSegments(t, 2)
	mx := e.m.get(testKey)
	e.pub.Close()
	e.waitEvent(t, hub.EventUnpublish, "")

	// Same encoder settings, restarted: timestamps start over at 0 and the
	// hub keeps them continuous; the same muxer continues.
	e.gen = nil
	e.publish(t, mediatest.Config{}, false)
	e.send(t, 7*time.Second)
	md := e.waitSegments(t, 5)
	require.Same(t, mx, e.m.get(testKey))
	_, pl := e.get(t, "/live/cam/media.m3u8")
	require.Equal(t, 1, strings.Count(pl, "#EXT-X-DISCONTINUITY\n"), pl)
	require.Equal(t, 1, strings.Count(pl, "#EXT-X-MAP:"), "same codec settings: same init section")
	md.mu.Lock()
	defer md.mu.Unlock()
	for i, s := range md.segments[1:] {
		require.False(t, s.pdt.Before(md.segments[i].pdt), "PDT never goes back")
	}
}

func TestOnDemand(t *testing.T) {
	e := newEnv(t, Config{OnDemand: true, IdleTimeout: 300 * time.Millisecond}, hub.Config{})
	var mu sync.Mutex
	var demanded []string
	e.hub.SetDemand(func(key string, info hub.ReaderInfo) error {
		mu.Lock()
		defer mu.Unlock()
		demanded = append(demanded, key+" "+info.Protocol+" "+info.Query)
		return hub.ErrStreamNotFound
	})

	t.Run("not live asks the hub then 404", func(t *testing.T) {
		// The player's token goes to the hub (an edge pull passes it to
		// its origin); LL-HLS directives do not.
		resp, _ := e.get(t, "/live/other.m3u8?token=abc&expires=9&_HLS_msn=3&_HLS_part=1")
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, []string{"live/other hls expires=9&token=abc"}, demanded)
	})

	t.Run("first request starts the muxer, idleness stops it", func(t *testing.T) {
		e.publish(t, mediatest.Config{}, false)
		require.Nil(t, e.m.get(testKey), "no muxer before a request")
		first := e.async("/live/cam.m3u8")
		e.waitEvent(t, hub.EventReaderJoin, "hls")
		e.send(t, 5*time.Second)
		r := wait(t, first)
		require.Equal(t, http.StatusOK, r.resp.StatusCode)
		require.Contains(t, r.body, "#EXTINF:")
		e.waitEvent(t, hub.EventReaderLeave, "hls") // idle timeout, nobody asks

		// The media playlist URL alone restarts it.
		again := e.async("/live/cam/media.m3u8")
		e.waitEvent(t, hub.EventReaderJoin, "hls")
		e.send(t, 10*time.Second)
		r = wait(t, again)
		require.Equal(t, http.StatusOK, r.resp.StatusCode)
		require.Contains(t, r.body, "#EXTINF:")
	})
}

func TestCORSOriginList(t *testing.T) {
	e := newEnv(t, Config{AllowOrigin: "https://a.example, https://b.example"}, hub.Config{})
	resp, _ := e.do(t, http.MethodGet, "/live/cam.m3u8", map[string]string{"Origin": "https://b.example"})
	require.Equal(t, "https://b.example", resp.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, resp.Header.Values("Vary"), "Origin")
	// Same answer as HTTP-FLV: an exact origin may send credentials.
	require.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
	resp, _ = e.do(t, http.MethodGet, "/live/cam.m3u8", map[string]string{"Origin": "https://evil.example"})
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}

func TestDirectory(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, Config{Directory: dir, SegmentCount: 2}, hub.Config{})
	e.publish(t, mediatest.Config{}, true)
	e.send(t, 9*time.Second)
	md := e.waitSegments(t, 4)
	e.settle(t, 2100)

	sdir := filepath.Join(dir, "live", "cam@hls")
	top, err := os.ReadFile(filepath.Join(sdir, "index.m3u8"))
	require.NoError(t, err)
	inner, err := os.ReadFile(filepath.Join(sdir, "media.m3u8"))
	require.NoError(t, err)
	require.Equal(t, string(inner), string(top), "mpegts: the entry playlist is the media playlist")
	names := uris(string(top))
	require.Len(t, names, 2)
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(sdir, n))
		require.NoError(t, err)
		f, ok := md.lookup(n)
		require.True(t, ok)
		require.Equal(t, f.data, b)
	}
	_, err = os.Stat(filepath.Join(sdir, md.segmentName(0)))
	require.ErrorIs(t, err, os.ErrNotExist, "evicted segments are removed from disk too")
	entries, err := os.ReadDir(filepath.Join(dir, "live"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "nothing outside the stream's directory")

	mx := e.m.get(testKey)
	e.pub.Close()
	<-mx.stopped
	_, err = os.Stat(sdir)
	require.ErrorIs(t, err, os.ErrNotExist, "an ended stream leaves nothing behind")
}

// TestRejoinsAfterEviction: a muxer that falls behind and is evicted by the
// hub rejoins the stream; the gap is one discontinuity.
func TestRejoinsAfterEviction(t *testing.T) {
	e := newEnv(t, Config{}, hub.Config{QueueSize: 1024, MaxOverflows: 1})
	e.publish(t, mediatest.Config{}, true)
	e.send(t, 5*time.Second) // 365 packets: fits the queue however late the muxer reads
	md := e.waitSegments(t, 2)
	e.settle(t, 2100)

	// Stall the muxer: it blocks on the media lock at its next segment
	// while the publisher overflows its queue (about 1500 packets more).
	md.mu.Lock()
	e.send(t, 26*time.Second)
	md.mu.Unlock()
	e.waitEvent(t, hub.EventReaderLeave, "hls") // evicted, closed
	e.waitEvent(t, hub.EventReaderJoin, "hls")  // rejoined at the GOP cache
	e.send(t, 34*time.Second)
	e.settle(t, 2100)
	_, pl := e.get(t, "/live/cam.m3u8")
	require.Equal(t, 1, strings.Count(pl, "#EXT-X-DISCONTINUITY\n"), pl)
}

// A stream muxed since its publish (not on demand) whose publisher is
// replaced by a pull (a cluster node that stopped being its origin) is
// muxed only while HLS players ask: its muxer stops when idle, so that the
// pull can stop too.
func TestMuxerIdlesWhenPulled(t *testing.T) {
	e := newEnv(t, Config{IdleTimeout: 200 * time.Millisecond}, hub.Config{ReconnectGrace: time.Minute})
	e.publish(t, mediatest.Config{}, true)
	e.send(t, 3*time.Second)
	e.pub.Close() // inside the grace
	pull, err := e.hub.Publish(testKey, hub.PublisherInfo{Protocol: access.ProtoRelay})
	require.NoError(t, err)
	defer pull.Close()
	e.waitEvent(t, hub.EventReaderLeave, "hls") // the muxer stopped: no HLS request came
	require.Eventually(t, func() bool { return e.m.get(testKey) == nil }, waitFor, 5*time.Millisecond)
}
