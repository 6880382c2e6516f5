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
	Engine       string        `json:"engine"` // mpegts.js, hls.js or native
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
      paused: v.paused, protocol: window.ripple.protocol, engine: window.ripple.engine, url: window.ripple.url, errors: window.ripple.errors });
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
// playAdvance with no player or media error. HLS is the default variant
// (mpegts); TestBrowserHLSVariants covers the others.
func TestBrowserPlayback(t *testing.T) {
	t.Parallel()
	const key = "live/browser"
	srv := startServer(t)
	pub := publishLoop(t, srv, key, mediaPath(t, "h264_aac_gop1s.mp4"))
	srv.waitLive(t, key, pub)
	br := startBrowser(t)

	for _, tc := range []struct {
		name, proto, engine string
		screenshot          string
	}{
		{name: "WS-FLV", proto: "ws", engine: "mpegts.js", screenshot: "player-ws-flv.png"},
		{name: "HTTP-FLV", proto: "http", engine: "mpegts.js"},
		{name: "HLS", proto: "hls", engine: "hls.js", screenshot: "player-hls.png"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			playInPage(t, br, srv, key, tc.proto, tc.engine, tc.screenshot)
		})
	}
	// One tab switching between engines: tearing a player down and
	// starting the next must not leave an error behind.
	t.Run("switch", func(t *testing.T) {
		t.Parallel()
		tb := br.newTab(t, t.Name())
		tb.do(t, "open the page", pageTimeout, chromedp.Navigate(srv.pageURL()+"#"+key))
		for _, proto := range []string{"hls", "ws", "http"} {
			tb.do(t, "play "+proto, pageTimeout,
				chromedp.SetValue(chromedp.CSS(`#proto`), proto),
				chromedp.Click(chromedp.CSS(`#stream-form button[type=submit]`)))
			res := eval[playResult](t, tb, "watch "+proto, browserPlayTimeout+5*time.Second,
				fmt.Sprintf(watchPlayback, 2.0, browserPlayTimeout.Milliseconds()))
			require.True(t, res.OK, "%s: %s (state: %+v)", proto, res.Reason, res)
			require.Equal(t, proto, res.Protocol)
		}
		tb.do(t, "press Stop", pageTimeout, chromedp.Click(chromedp.CSS(`#stop`)))
		require.Empty(t, eval[[]playerError](t, tb, "errors", pageTimeout, `window.ripple.errors`))
		require.Equal(t, "Stopped.", eval[string](t, tb, "status", pageTimeout, `document.getElementById('status').textContent`))
	})
}

// TestBrowserHLSVariants plays the fMP4 and low-latency HLS variants with
// hls.js, one server per variant.
func TestBrowserHLSVariants(t *testing.T) {
	t.Parallel()
	br := startBrowser(t)
	for _, variant := range []string{"fmp4", "low_latency"} {
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			const key = "live/variant"
			srv := startServer(t, "RIPPLE_HLS_VARIANT="+variant)
			pub := publishLoop(t, srv, key, mediaPath(t, "h264_aac_gop1s.mp4"))
			srv.waitLive(t, key, pub)
			playInPage(t, br, srv, key, "hls", "hls.js", "")
		})
	}
}

// playInPage opens the page in a new tab with key and proto preselected
// (#app/stream?protocol), presses Play like a person, and requires the video
// to advance by playAdvance at real time with engine playing it and no
// fatal player or media error.
func playInPage(t *testing.T, br *browser, srv *server, key, proto, engine, screenshot string) {
	t.Helper()
	tb := br.newTab(t, t.Name())
	tb.do(t, "open the page", pageTimeout, chromedp.Navigate(srv.pageURL()+"#"+key+"?"+proto))
	requireLocalLibs(t, tb)
	start := time.Now()
	tb.do(t, "press Play", pageTimeout, chromedp.Click(chromedp.CSS(`#stream-form button[type=submit]`)))
	res := eval[playResult](t, tb, "watch playback", browserPlayTimeout+5*time.Second,
		fmt.Sprintf(watchPlayback, playAdvance.Seconds(), browserPlayTimeout.Milliseconds()))
	t.Logf("%s with %s: first frame after %.0f ms, currentTime %.2f → %.2f s in %.0f ms wall, %dx%d, %d non-fatal errors (total %s)",
		res.URL, res.Engine, res.FirstFrameMS, res.Start, res.End, res.AdvanceMS, res.Width, res.Height,
		len(res.Errors), time.Since(start).Round(time.Millisecond))
	if len(res.Errors) > 0 {
		t.Logf("player errors: %s", describeErrors(res.Errors))
	}
	require.True(t, res.OK, "%s (state: %+v)", res.Reason, res)
	require.Equal(t, proto, res.Protocol)
	require.Equal(t, engine, res.Engine)
	require.Contains(t, res.URL, "/"+key+".")
	for _, e := range res.Errors {
		require.False(t, e.Fatal, "%s error: %+v", e.Source, e)
	}
	require.Positive(t, res.Width, "no decoded video")
	// Live playback runs at real time: currentTime cannot advance much
	// faster than the wall clock. The page lets mpegts.js chase latency
	// (liveBufferLatencyChasing: it jumps to the live edge once more than
	// 1.5 s is buffered), which a first frame delayed by a loaded machine
	// triggers: seen 5.1 s of media in 3.5 s of wall. Twice real time
	// would be a burst or a seek through the GOP cache, not chasing.
	require.GreaterOrEqual(t, res.AdvanceMS, 0.5*float64(playAdvance.Milliseconds()),
		"currentTime advanced %.2f s in %.0f ms", res.End-res.Start, res.AdvanceMS)
	if screenshot != "" {
		tb.screenshot(t, screenshot)
	}
}

func describeErrors(errs []playerError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  %s at %.2fs: %s", e.Source, e.Time, e.Detail)
	}
	return b.String()
}

// logTime parses the time= attribute of a ripple log line (slog text).
func logTime(t *testing.T, line string) time.Time {
	t.Helper()
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "time="); ok {
			ts, err := time.Parse(time.RFC3339Nano, v)
			require.NoError(t, err, "time in %q", line)
			return ts
		}
	}
	t.Fatalf("no time= in log line %q", line)
	return time.Time{}
}

// TestBrowserDashboard drives the page's live list: with api.token
// set the page asks for the token; once it is entered a stream shows up
// within 3 s of publishing, its viewer count follows a player joining and
// being kicked (from the page's own kick button), and the row goes when the
// publisher is kicked from its row.
func TestBrowserDashboard(t *testing.T) {
	t.Parallel()
	const (
		key       = "live/dash"
		token     = "e2e-dashboard-token"
		grace     = time.Second
		appearMax = 3 * time.Second
	)
	row := `document.querySelector('tr[data-stream="` + key + `"]')`
	viewers := row + `?.querySelector('.viewers').textContent`
	liveState := `document.getElementById('live-state').textContent`
	clip := mediaPath(t, "h264_aac_gop1s.mp4")
	srv := startServer(t, "RIPPLE_API_TOKEN="+token, envGrace+"="+grace.String())
	br := startBrowser(t)
	tb := br.newTab(t, "dashboard")
	tb.do(t, "open the page", pageTimeout, chromedp.Navigate(srv.pageURL()))

	// The API refuses the page until the token is entered.
	tb.poll(t, "the page asks for the API token", 10*time.Second, liveState+`.includes('needs a token')`)
	tb.do(t, "enter the token", pageTimeout,
		chromedp.SendKeys(chromedp.CSS(`#token`), token),
		chromedp.Click(chromedp.CSS(`#token-form button[type=submit]`)))
	tb.poll(t, "live updates connect", 10*time.Second, liveState+` === 'Live updates on.'`)
	require.Equal(t, "e2e-dashboard-token",
		eval[string](t, tb, "token kept", pageTimeout, `sessionStorage.getItem('ripple.apiToken')`))

	// Publish: the row must appear within appearMax of the server
	// accepting the publish (its "publish started" log line).
	logFrom := srv.out.len()
	pubStart := time.Now()
	pub := publishLoop(t, srv, key, clip)
	tb.poll(t, "the stream appears", 15*time.Second, row)
	seen := time.Now()
	line, err := srv.out.waitFor(5*time.Second, logFrom, func(s string) bool {
		return strings.Contains(s, `msg="publish started"`) && strings.Contains(s, "stream="+key)
	})
	require.NoError(t, err, "server log: publish started")
	published := logTime(t, line)
	t.Logf("stream row shown %s after the server accepted the publish (%s after ffmpeg started)",
		seen.Sub(published).Round(time.Millisecond), seen.Sub(pubStart).Round(time.Millisecond))
	require.LessOrEqual(t, seen.Sub(published), appearMax, "stream row too late")
	tb.poll(t, "codecs and bitrate filled in", 15*time.Second,
		row+`.querySelector('.video').textContent.startsWith('h264') && `+row+`.querySelector('.bitrate').textContent !== '–'`)
	require.Equal(t, "0", eval[string](t, tb, "viewers before", pageTimeout, viewers))

	// A player joins: this page's own player, started from the row.
	joinAt := time.Now()
	tb.do(t, "press Watch", pageTimeout, chromedp.Click(chromedp.CSS(`tr[data-stream="`+key+`"] button`)))
	tb.poll(t, "viewer count 1", 10*time.Second, viewers+` === '1'`)
	t.Logf("viewer count changed %s after pressing Watch", time.Since(joinAt).Round(time.Millisecond))

	// The player shows in the client list, with a kick button (the token is
	// set); wait for it to play so the screenshots show video.
	wsClient := `[...document.querySelectorAll('#clients tbody tr')].find((tr) => tr.cells[1].textContent === 'ws-flv')`
	tb.poll(t, "ws-flv client listed", 10*time.Second, wsClient)
	tb.poll(t, "video plays", 20*time.Second, `document.getElementById('video').currentTime > 1`)
	tb.screenshot(t, "dashboard.png")
	tb.do(t, "phone viewport", pageTimeout, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	tb.screenshot(t, "dashboard-phone.png")
	tb.do(t, "desktop viewport", pageTimeout, chromedp.EmulateReset())

	eval[bool](t, tb, "press the client's Kick", pageTimeout, `(() => { `+wsClient+`.querySelector('button').click(); return true; })()`)
	tb.poll(t, "viewer count back to 0", 10*time.Second, viewers+` === '0'`)
	tb.poll(t, "client gone from the list", 10*time.Second, `!(`+wsClient+`)`)

	// Kick the publisher from its row (the page asks to confirm: the test
	// answers yes): ffmpeg loses its connection and the row goes once the
	// reconnect grace is over.
	eval[bool](t, tb, "accept confirmations", pageTimeout, `(() => { window.confirm = () => true; return true; })()`)
	tb.do(t, "press the stream's Kick", pageTimeout, chromedp.Click(chromedp.CSS(`tr[data-stream="`+key+`"] button.kick`)))
	if err := pub.wait(10 * time.Second); err == nil {
		t.Log("publisher exited cleanly after the kick")
	} else if pub.exited() {
		t.Logf("publisher exited after the kick: %v", err)
	} else {
		t.Fatalf("publisher still running 10 s after the kick")
	}
	tb.poll(t, "the stream row goes", grace+10*time.Second, `!`+row)
}
