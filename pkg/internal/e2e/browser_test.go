//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// The browser tests open the page web.Handler serves at "/" in headless
// Chromium (helpers in chromium_test.go) against the real ripple binary and
// an ffmpeg publisher that loops a media/ clip at real time.

const (
	pageTimeout = 30 * time.Second // load the page, click, evaluate
	// playAdvance is how far the video element's currentTime must move.
	playAdvance = 5 * time.Second
	// playTimeout bounds one player: first frame plus playAdvance of real
	// time, with slack for a race-built server on a loaded 2-core machine.
	browserPlayTimeout = 45 * time.Second
)

// publishLoop publishes clip to key at real time, looping forever, until
// the test ends.
func publishLoop(t *testing.T, s *server, key, clip string) *proc {
	t.Helper()
	args := append(append([]string{}, ffmpegBase...), "-re", "-stream_loop", "-1", "-i", clip, "-c", "copy", "-f", "flv", s.rtmpURL(key))
	return startProc(t, "publisher "+key, ffmpegBin, args, nil)
}

func (s *server) pageURL() string { return "http://" + s.HTTPAddr + "/" }

// libSource is one entry of the page's library config (web.libLoad).
type libSource struct {
	URL   string `json:"url"`
	Local bool   `json:"local"`
}

// requireLocalLibs checks the page loads its player libraries from the
// binary, not the CDN: CI has no internet, and the ripple binary under test
// embeds web/vendor/ only when scripts/web.sh ran before it was built.
func requireLocalLibs(t *testing.T, tb *tab) {
	t.Helper()
	libs := eval[map[string]libSource](t, tb, "read the page config", pageTimeout,
		`JSON.parse(document.getElementById('ripple-config').textContent).libs`)
	require.Len(t, libs, 2, "mpegts and hls")
	for name, l := range libs {
		require.True(t, l.Local, "%s loads from %s, not the binary: run scripts/web.sh before building ripple", name, l.URL)
	}
}

// playResult is what watchPlayback resolves with.
type playResult struct {
	OK           bool          `json:"ok"`
	Reason       string        `json:"reason"`
	FirstFrameMS float64       `json:"firstFrameMs"` // from the click to currentTime > 0
	Start        float64       `json:"start"`        // currentTime when first seen > 0
	End          float64       `json:"end"`
	AdvanceMS    float64       `json:"advanceMs"` // wall time from Start to End
	Width        int           `json:"width"`
	Height       int           `json:"height"`
	ReadyState   int           `json:"readyState"`
	Paused       bool          `json:"paused"`
	Protocol     string        `json:"protocol"`
	URL          string        `json:"url"`
	Errors       []playerError `json:"errors"`
}

type playerError struct {
	Source string  `json:"source"`
	Detail string  `json:"detail"`
	Fatal  bool    `json:"fatal"`
	Time   float64 `json:"time"`
}

// watchPlayback is a promise that resolves once the video element's
// currentTime has advanced by want seconds since it first moved, or with
// ok=false on a player or media error (window.ripple.errors, video.error) or
// after limitMS. It re-checks on every timeupdate; the interval only covers
// a player that stalls without an event.
const watchPlayback = `((want, limitMS) => new Promise((resolve) => {
  const v = document.getElementById('video');
  const t0 = performance.now();
  let first = null, timer = 0;
  const done = (ok, reason) => {
    clearInterval(timer);
    v.removeEventListener('timeupdate', check);
    const now = performance.now();
    resolve({ ok, reason, firstFrameMs: first ? first.at - t0 : -1, start: first ? first.ct : 0, end: v.currentTime,
      advanceMs: first ? now - first.at : 0, width: v.videoWidth, height: v.videoHeight, readyState: v.readyState,
      paused: v.paused, protocol: window.ripple.protocol, url: window.ripple.url, errors: window.ripple.errors });
  };
  function check() {
    if (window.ripple.errors.some((e) => e.fatal)) return done(false, 'player reported an error');
    if (v.error) return done(false, 'video error ' + v.error.code + ' ' + v.error.message);
    if (!first && v.currentTime > 0) first = { ct: v.currentTime, at: performance.now() };
    if (first && v.currentTime - first.ct >= want) return done(true, '');
    if (performance.now() - t0 > limitMS) done(false, 'timeout');
  }
  timer = setInterval(check, 250);
  v.addEventListener('timeupdate', check);
  check();
}))(%g, %d)`

// TestBrowserPlayback plays one live stream in the page over each protocol,
// each in its own tab at the same time: the video must advance by
// playAdvance with no player or media error.
func TestBrowserPlayback(t *testing.T) {
	t.Parallel()
	const key = "live/browser"
	clip := mediaPath(t, "h264_aac_gop1s.mp4")
	srv := startServer(t)
	pub := publishLoop(t, srv, key, clip)
	srv.waitLive(t, key, pub)
	br := startBrowser(t)

	for _, tc := range []struct {
		name, proto string
		screenshot  string
	}{
		{name: "WS-FLV", proto: "ws", screenshot: "player-ws-flv.png"},
		{name: "HTTP-FLV", proto: "http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := br.newTab(t, tc.name)
			// #app/stream?protocol preselects the form; the test then
			// presses Play like a person.
			tb.do(t, "open the page", pageTimeout, chromedp.Navigate(srv.pageURL()+"#"+key+"?"+tc.proto))
			requireLocalLibs(t, tb)
			start := time.Now()
			tb.do(t, "press Play", pageTimeout, chromedp.Click(chromedp.CSS(`#stream-form button[type=submit]`)))
			res := eval[playResult](t, tb, "watch playback", browserPlayTimeout+5*time.Second,
				fmt.Sprintf(watchPlayback, playAdvance.Seconds(), browserPlayTimeout.Milliseconds()))
			t.Logf("%s: %s: first frame after %.0f ms, currentTime %.2f → %.2f s in %.0f ms wall, %dx%d, %d non-fatal errors (total %s)",
				tc.name, res.URL, res.FirstFrameMS, res.Start, res.End, res.AdvanceMS, res.Width, res.Height,
				len(res.Errors), time.Since(start).Round(time.Millisecond))
			require.True(t, res.OK, "%s: %s (state: %+v)", tc.name, res.Reason, res)
			require.Equal(t, tc.proto, res.Protocol)
			require.Contains(t, res.URL, "/"+key+".")
			for _, e := range res.Errors {
				require.False(t, e.Fatal, "%s error: %+v", e.Source, e)
			}
			require.Positive(t, res.Width, "no decoded video")
			// Live playback runs at real time: currentTime cannot advance
			// much faster than the wall clock (a seek or a burst of
			// buffered media would).
			require.GreaterOrEqual(t, res.AdvanceMS, 0.8*float64(playAdvance.Milliseconds()),
				"currentTime advanced %.2f s in %.0f ms", res.End-res.Start, res.AdvanceMS)
			if tc.screenshot != "" {
				tb.screenshot(t, tc.screenshot)
			}
			if len(res.Errors) > 0 {
				t.Logf("%s: non-fatal errors: %s", tc.name, describeErrors(res.Errors))
			}
		})
	}
}

func describeErrors(errs []playerError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  %s at %.2fs: %s", e.Source, e.Time, e.Detail)
	}
	return b.String()
}
