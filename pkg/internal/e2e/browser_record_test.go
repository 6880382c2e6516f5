//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// thumbTimeout bounds the first thumbnail: the page asks for it when the
// row appears, and a decode runs ffmpeg on the latest keyframe.
const thumbTimeout = 30 * time.Second

// TestBrowserFirstRun is a new user's first minutes: the binary with its
// defaults (listening on every interface, no api.token), ffmpeg publishing,
// and the page opened on this machine. The start-up log says where to
// publish and where to watch; the page lists the stream with its
// thumbnail (the stream's size), and Watch plays it.
func TestBrowserFirstRun(t *testing.T) {
	t.Parallel()
	const key = "live/stream" // the key the start-up log suggests
	srv := startServer(t, envRTMPListen+"=:0", envHTTPListen+"=:0")
	// Bound to every interface: the page is opened over loopback, like
	// http://localhost:8080/ on a first run.
	for _, a := range []*string{&srv.RTMPAddr, &srv.HTTPAddr} {
		_, port, err := net.SplitHostPort(*a)
		require.NoError(t, err)
		*a = net.JoinHostPort("127.0.0.1", port)
	}
	_, port, _ := net.SplitHostPort(srv.RTMPAddr)
	line, err := srv.out.waitFor(5*time.Second, 0, contains(`msg="publish to"`))
	require.NoError(t, err, "the start-up log says where to publish")
	require.Contains(t, line, "rtmp://localhost:"+port+"/live/stream")
	_, port, _ = net.SplitHostPort(srv.HTTPAddr)
	line, err = srv.out.waitFor(5*time.Second, 0, contains(`msg="watch at"`))
	require.NoError(t, err, "the start-up log says where to watch")
	require.Contains(t, line, "http://localhost:"+port+"/")

	pub := publishLoop(t, srv, key, mediaPath(t, "h264_aac_gop1s.mp4"))
	srv.waitLive(t, key, pub)
	br := startBrowser(t)
	tb := br.newTab(t, "first run")
	tb.do(t, "open the page", pageTimeout, chromedp.Navigate(srv.pageURL()))
	requireLocalLibs(t, tb)
	row := `document.querySelector('tr[data-stream="` + key + `"]')`
	tb.poll(t, "the stream is listed", 15*time.Second, row)
	require.NotContains(t, eval[string](t, tb, "live state", pageTimeout, `document.getElementById('live-state').textContent`),
		"token", "the API answers the page without a token")
	tb.poll(t, "its thumbnail shows", thumbTimeout, `(window.ripple.thumbnails['`+key+`'] || {}).loads > 0`)
	require.Equal(t, []int{320, 240}, eval[[]int](t, tb, "thumbnail size", pageTimeout,
		`[window.ripple.thumbnails['`+key+`'].width, window.ripple.thumbnails['`+key+`'].height]`))
	require.True(t, eval[bool](t, tb, "thumbnail drawn", pageTimeout,
		row+`.querySelector('img.thumb').naturalWidth === 320`))

	tb.do(t, "press Watch", pageTimeout, chromedp.Click(chromedp.CSS(`tr[data-stream="`+key+`"] button`)))
	res := eval[playResult](t, tb, "watch playback", browserPlayTimeout+5*time.Second,
		fmt.Sprintf(watchPlayback, 3.0, browserPlayTimeout.Milliseconds()))
	require.True(t, res.OK, "%s (state: %+v)", res.Reason, res)
	require.Contains(t, res.URL, "/"+key+".")
	tb.screenshot(t, "first-run.png")
}

// TestBrowserRecordings: the page lists a stream's recordings, fMP4 and
// FLV, and plays each one: fMP4 in the video element (and seeks in it),
// FLV with mpegts.js.
func TestBrowserRecordings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := startWithConfig(t, "ripple", fmt.Sprintf(`record:
  enabled: true
  path: %q
apps:
  flv:
    record:
      format: flv
`, filepath.Join(dir, "{app}", "{stream}", "{time}.{ext}")), false)
	clip := mediaPath(t, "h264_aac_gop1s.mp4")
	pubs := []*proc{publishFor(t, srv, "live/rec", clip, 0), publishFor(t, srv, "flv/rec", clip, 0)}
	for _, p := range pubs {
		require.NoError(t, p.wait(recordTimeout), "publisher")
	}
	mp4 := pollAPI(t, srv, "/api/v1/recordings?app=live&stream=rec", recordTimeout, func(rs []apiRecording) bool {
		return len(rs) == 1 && !rs[0].InProgress
	})[0]
	flv := pollAPI(t, srv, "/api/v1/recordings?app=flv&stream=rec", recordTimeout, func(rs []apiRecording) bool {
		return len(rs) == 1 && !rs[0].InProgress
	})[0]

	br := startBrowser(t)
	tb := br.newTab(t, "recordings")
	tb.do(t, "open the page", pageTimeout, chromedp.Navigate(srv.pageURL()))
	requireLocalLibs(t, tb)
	tb.poll(t, "both recordings listed", 15*time.Second, `(window.ripple.recordings || []).length === 2`)
	for _, tc := range []struct {
		rec    apiRecording
		engine string
	}{{mp4, "native"}, {flv, "mpegts.js"}} {
		t.Run(tc.rec.Format, func(t *testing.T) {
			sel := `#recordings tr[data-recording="` + tc.rec.Name + `"] button.play-recording`
			tb.do(t, "press Play", pageTimeout, chromedp.Click(chromedp.CSS(sel)))
			res := eval[playResult](t, tb, "watch the recording", browserPlayTimeout+5*time.Second,
				fmt.Sprintf(watchPlayback, 2.0, browserPlayTimeout.Milliseconds()))
			require.True(t, res.OK, "%s (state: %+v)", res.Reason, res)
			require.Equal(t, "recording", res.Protocol)
			require.Equal(t, tc.engine, res.Engine)
			require.True(t, strings.HasSuffix(res.URL, tc.rec.URL), res.URL)
			require.Equal(t, 320, res.Width)
			if tc.engine == "native" {
				// Seekable: a jump ahead plays on from there.
				require.InDelta(t, 10, eval[float64](t, tb, "duration", pageTimeout, `document.getElementById('video').duration`), 1.5)
				eval[bool](t, tb, "seek", pageTimeout, `(() => { document.getElementById('video').currentTime = 7; return true; })()`)
				tb.poll(t, "plays after the seek", browserPlayTimeout,
					`document.getElementById('video').currentTime > 7.5 && !document.getElementById('video').seeking`)
			}
		})
	}
	require.Empty(t, eval[[]playerError](t, tb, "errors", pageTimeout, `window.ripple.errors.filter((e) => e.fatal)`))
}
