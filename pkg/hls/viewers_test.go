package hls

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestViewersTable(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	v := newViewers(18 * time.Second)
	v.seen("live/a", "192.0.2.1:1000", "hls.js", t0)
	v.seen("live/a", "192.0.2.1:1001", "hls.js", t0.Add(time.Second)) // same client, another connection
	v.seen("live/a", "192.0.2.1:1002", "VLC", t0)                     // same address, another player
	v.seen("live/a", "192.0.2.2", "hls.js", t0)                       // a bare address (X-Forwarded-For)
	v.seen("live/b", "192.0.2.1:1000", "hls.js", t0)
	require.Equal(t, 3, v.count("live/a", 6*time.Second, t0.Add(time.Second)))
	require.Equal(t, 1, v.count("live/b", 6*time.Second, t0))
	require.Zero(t, v.count("live/c", 6*time.Second, t0))
	require.Equal(t, 4, v.n)

	// Past the window only the client that came back later is counted.
	require.Equal(t, 1, v.count("live/a", 6*time.Second, t0.Add(6500*time.Millisecond)))
	require.Zero(t, v.count("live/a", 6*time.Second, t0.Add(8*time.Second)))

	// A request after maxAge sweeps every stream: only the newcomer is left.
	v.seen("live/c", "192.0.2.9:1", "x", t0.Add(20*time.Second))
	require.Equal(t, 1, v.n)
	require.Len(t, v.streams, 1)
}

func TestViewersCap(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	v := newViewers(18 * time.Second)
	v.max = 2
	v.seen("live/a", "192.0.2.1:1", "p", t0)
	v.seen("live/a", "192.0.2.2:1", "p", t0)
	v.seen("live/a", "192.0.2.3:1", "p", t0) // over the cap: not counted
	v.seen("live/b", "192.0.2.4:1", "p", t0) // nor a new stream
	require.Equal(t, 2, v.count("live/a", time.Minute, t0))
	require.Zero(t, v.count("live/b", time.Minute, t0))
	v.seen("live/a", "192.0.2.1:9", "p", t0.Add(time.Second)) // a known client still refreshes
	require.Equal(t, 2, v.n)
	// Once the first two aged out, a new one fits (the sweep makes room).
	v.seen("live/b", "192.0.2.4:1", "p", t0.Add(19*time.Second+time.Millisecond))
	require.Equal(t, 1, v.count("live/b", time.Minute, t0.Add(19*time.Second)))
	require.LessOrEqual(t, v.n, v.max)
}

func TestViewersNoAlloc(t *testing.T) {
	require.NotEqual(t, clientID("ab", "c"), clientID("a", "bc"))
	require.Equal(t, clientID("192.0.2.1:1", "p"), clientID("192.0.2.1:2", "p"))
	require.Equal(t, clientID("[2001:db8::1]:1", "p"), clientID("2001:db8::1", "p"))
	v := newViewers(18 * time.Second)
	t0 := time.Unix(1_000_000, 0)
	v.seen("live/a", "192.0.2.1:1234", "Mozilla/5.0", t0)
	require.Zero(t, testing.AllocsPerRun(100, func() { v.seen("live/a", "192.0.2.1:1234", "Mozilla/5.0", t0) }),
		"a known viewer's request allocates nothing")
}

// TestViewersFromRequests: three players fetching the playlist and
// segments are three viewers (the muxer's hub reader is none); they drop
// out three target durations after their last request.
func TestViewersFromRequests(t *testing.T) {
	e := newEnv(t, Config{}, hub.Config{})
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	e.m.now = func() time.Time { return time.Unix(0, now.Load()) }
	e.publish(t, mediatest.Config{}, true)
	e.send(t, 5*time.Second)
	e.waitSegments(t, 2)
	require.Zero(t, e.m.Viewers(testKey), "the muxer's reader is not a viewer")

	for _, ua := range []string{"hls.js", "AppleCoreMedia", "VLC"} {
		resp, pl := e.do(t, http.MethodGet, "/live/cam.m3u8", map[string]string{"User-Agent": ua})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		seg := firstURI(t, pl) // relative to /live/: "cam/EPOCH-MSN.ts"
		resp, _ = e.do(t, http.MethodGet, "/live/"+seg, map[string]string{"User-Agent": ua})
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	resp, _ := e.do(t, http.MethodGet, "/live/nope.m3u8", map[string]string{"User-Agent": "other"})
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, 3, e.m.Viewers(testKey))
	require.Zero(t, e.m.Viewers("live/nope"), "a request for no stream counts for none")

	target := e.m.get(testKey).media()
	target.mu.Lock()
	window := viewerWindows * time.Duration(target.target) * time.Second
	target.mu.Unlock()
	now.Add(int64(window - time.Second))
	require.Equal(t, 3, e.m.Viewers(testKey), "still inside the window")
	now.Add(int64(2 * time.Second))
	require.Zero(t, e.m.Viewers(testKey), "gone after three target durations")
}

// firstURI returns the first segment URI of a media playlist.
func firstURI(t *testing.T, pl string) string {
	t.Helper()
	for _, l := range strings.Split(pl, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	t.Fatalf("no URI in\n%s", pl)
	return ""
}
