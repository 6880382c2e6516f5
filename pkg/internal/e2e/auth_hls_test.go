//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hlsURIs returns every URI a playlist names: URI lines and URI="..."
// attributes (EXT-X-MAP, EXT-X-PART, EXT-X-PRELOAD-HINT, ...).
func hlsURIs(playlist string) []string {
	var out []string
	for _, line := range strings.Split(playlist, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case !strings.HasPrefix(line, "#"):
			out = append(out, line)
		default:
			for rest := line; ; {
				i := strings.Index(rest, `URI="`)
				if i < 0 {
					break
				}
				rest = rest[i+5:]
				j := strings.IndexByte(rest, '"')
				if j < 0 {
					break
				}
				out = append(out, rest[:j])
				rest = rest[j:]
			}
		}
	}
	return out
}

// TestHLSAuthEveryObject: with a play secret and hls.auth_scope all (the
// default), every HLS object (multivariant and media playlists, blocking
// reloads, init sections, segments, parts; GET and HEAD) is refused without
// the token and served with it; the token the viewer brought is on every URI
// the playlists list, so hls.js in Chromium plays the signed entry URL as it
// is. Under hls.auth_scope entry only the entry playlist is checked.
func TestHLSAuthEveryObject(t *testing.T) {
	t.Parallel()
	const (
		pubSecret  = "e2e-hls-publish"
		playSecret = "e2e-hls-play"
		key        = "live/hlsauth"
	)
	clip := mediaPath(t, "h264_aac_gop1s.mp4")
	srv := startServer(t, envPublishSecret+"="+pubSecret, envPlaySecret+"="+playSecret, "RIPPLE_HLS_VARIANT=low_latency")
	pub := publishLoop(t, srv, signed(key, pubSecret, time.Hour), clip)
	srv.waitLive(t, signed(key, playSecret, time.Hour), pub)

	entry := "http://" + srv.HTTPAddr + "/" + key + ".m3u8"
	token := strings.TrimPrefix(signed(key, playSecret, time.Hour), key+"?")
	multi := hlsPlaylist(t, entry+"?"+token)
	mediaRef := lastURI(multi)
	require.Contains(t, mediaRef, token, "the media playlist URI carries the token:\n%s", multi)
	mediaURL := resolve(t, entry, mediaRef)
	media := waitPlaylist(t, mediaURL, 2)

	objects := map[string]string{"multivariant": entry + "?" + token, "media": mediaURL}
	for _, ref := range hlsURIs(media) {
		require.Contains(t, ref, token, "every URI carries the token:\n%s", media)
		u := resolve(t, mediaURL, ref)
		switch {
		case strings.Contains(ref, "init"):
			objects["init"] = u
		case strings.Count(strings.SplitN(ref, "?", 2)[0], ".") == 2:
			objects["part"] = u
		default:
			objects["segment"] = u
		}
	}
	require.Len(t, objects, 5, "playlist lists an init section, a segment and a part:\n%s", media)
	msn := mediaSequence(mediaURL)
	objects["blocking_reload"] = mediaURL + fmt.Sprintf("&_HLS_msn=%d", msn)

	for name, u := range objects {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			req, err := http.NewRequest(method, u, nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s %s with the token", method, name, u)

			bare, err := url.Parse(u)
			require.NoError(t, err)
			q := bare.Query()
			q.Del("sig")
			q.Del("exp")
			q.Del("token")
			for k := range q {
				if !strings.HasPrefix(k, "_HLS_") {
					q.Del(k)
				}
			}
			bare.RawQuery = q.Encode()
			req, err = http.NewRequest(method, bare.String(), nil)
			require.NoError(t, err)
			resp, err = http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s %s %s without the token", method, name, bare)
		}
	}

	// hls.js (LL-HLS mode) in Chromium plays the signed URL as it is.
	br := startBrowser(t)
	tb := br.newTab(t, "hls.js signed")
	tb.do(t, "open the page", pageTimeout, chromedp.Navigate(srv.pageURL()))
	res := eval[signedPlay](t, tb, "play the signed URL", browserPlayTimeout+10*time.Second,
		fmt.Sprintf(playSignedHLS, entry+"?"+token, browserPlayTimeout.Milliseconds()))
	t.Logf("hls.js signed play: %+v", res)
	require.True(t, res.OK, "hls.js did not play the signed URL: %+v", res)

	// hls.auth_scope entry: the playlist needs the token, the objects it
	// lists do not carry it and are public (for a CDN that checks tokens
	// itself).
	entrySrv := startServer(t, envPublishSecret+"="+pubSecret, envPlaySecret+"="+playSecret, "RIPPLE_HLS_AUTH_SCOPE=entry")
	pub2 := publishLoop(t, entrySrv, signed(key, pubSecret, time.Hour), clip)
	entrySrv.waitLive(t, signed(key, playSecret, time.Hour), pub2)
	entry2 := "http://" + entrySrv.HTTPAddr + "/" + key + ".m3u8"
	status, _ := httpStatus(t, entry2, "")
	assert.Equal(t, http.StatusUnauthorized, status)
	pl := hlsPlaylist(t, entry2+"?"+token)
	seg := lastURI(pl)
	require.NotContains(t, seg, "?", "entry scope leaves URIs untouched:\n%s", pl)
	status, _ = httpStatus(t, resolve(t, entry2, seg), "")
	assert.Equal(t, http.StatusOK, status, "entry scope: segments are public")
}

type signedPlay struct {
	OK      bool    `json:"ok"`
	Reason  string  `json:"reason"`
	Start   float64 `json:"start"`
	End     float64 `json:"end"`
	Errors  []any   `json:"errors"`
	Loaded  bool    `json:"loaded"`
	Frames  int     `json:"frames"`
	Elapsed float64 `json:"elapsed"`
}

// playSignedHLS loads the page's own hls.js build and plays a URL with it in
// a fresh video element; it resolves once currentTime advanced by 2 s.
const playSignedHLS = `((src, limitMS) => new Promise((resolve) => {
  const t0 = performance.now();
  const errors = [];
  const s = document.createElement('script');
  const lib = [...document.scripts].map((x) => x.src).find((x) => x.includes('hls')) || '';
  s.src = lib || '/vendor/hls.js@1.7.4/dist/hls.min.js';
  const go = () => {
    const v = document.createElement('video');
    v.muted = true;
    document.body.appendChild(v);
    const h = new Hls({ lowLatencyMode: true });
    h.on(Hls.Events.ERROR, (_, d) => { errors.push({ type: d.type, details: d.details, fatal: d.fatal, code: d.response && d.response.code }); });
    h.loadSource(src);
    h.attachMedia(v);
    v.play().catch(() => {});
    let first = -1;
    const timer = setInterval(() => {
      const el = performance.now() - t0;
      if (errors.some((e) => e.fatal)) { clearInterval(timer); return resolve({ ok: false, reason: 'fatal error', errors, elapsed: el }); }
      if (first < 0 && v.currentTime > 0) first = v.currentTime;
      if (first >= 0 && v.currentTime - first >= 2) { clearInterval(timer); return resolve({ ok: true, start: first, end: v.currentTime, errors, elapsed: el }); }
      if (el > limitMS) { clearInterval(timer); resolve({ ok: false, reason: 'timeout', start: first, end: v.currentTime, errors, elapsed: el }); }
    }, 200);
  };
  if (window.Hls) return go();
  s.onload = go;
  s.onerror = () => resolve({ ok: false, reason: 'cannot load hls.js from ' + s.src });
  document.head.appendChild(s);
}))(%q, %d)`

// TestAuthNestedKeysAndHead: per-app rules hold for every key under the app
// (rtmp://host/live/x/cam1 is under apps.live, for RTMP, HTTP-FLV and HLS
// alike), and HEAD on an FLV URL needs the play token like GET.
func TestAuthNestedKeysAndHead(t *testing.T) {
	t.Parallel()
	const (
		appPub  = "e2e-app-publish"
		appPlay = "e2e-app-play"
	)
	srv := startWithConfig(t, "ripple", `
apps:
  live:
    auth:
      publish_secret: `+appPub+`
      play_secret: `+appPlay+`
`, false)
	clip := mediaPath(t, "h264_aac_gop1s.mp4")

	// Publishing to a nested key without the app's token is refused.
	code, out := ffmpegRun(t, "nested unsigned", "-re", "-i", clip, "-t", "2", "-c", "copy", "-f", "flv",
		srv.rtmpURL("live/x/cam1"))
	require.NotZero(t, code)
	require.Contains(t, out, "signed URL required")

	// Signed with the app's secret it streams; playing needs the app's
	// play token over every protocol, HEAD included.
	key := "live/x/cam1"
	pub := publishLoop(t, srv, signed(key, appPub, time.Hour), clip)
	srv.waitLive(t, signed(key, appPlay, time.Hour), pub)
	for _, u := range []string{srv.flvURL(key), "http://" + srv.HTTPAddr + "/" + key + ".m3u8"} {
		for _, method := range []string{http.MethodHead, http.MethodGet} {
			req, err := http.NewRequest(method, u, nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s %s", method, u)
		}
	}
	resp, err := http.Head(flvSigned(srv, key, appPlay, time.Hour))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "signed HEAD")
	code, out = ffmpegPlay(t, srv.rtmpURL(key))
	require.NotZero(t, code, "unsigned RTMP play of a nested key: %s", out)
	code, out = ffmpegPlay(t, srv.rtmpURL(signed(key, appPlay, time.Hour)))
	require.Zero(t, code, "signed RTMP play of a nested key: %s", out)
}
