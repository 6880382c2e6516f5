//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/internal/tlsx/tlstest"
)

// apiTarget is a restream target as GET .../forwards shows it.
type apiTarget struct {
	ID        uint64  `json:"id"`
	Target    string  `json:"target"`
	State     string  `json:"state"`
	Source    string  `json:"source"`
	LastError string  `json:"last_error"`
	Bitrate   float64 `json:"bitrate"`
}

// TestRestream: one stream restreamed to three destinations at once, as to
// three platforms: the on_publish hook's answer names a second Ripple
// behind RTMPS and a closed port, the API adds nginx-rtmp. Both live
// destinations get the stream, the dead one retries on its own, a local
// HTTP-FLV player sees no gap, and the stream keys (the "SECRET" parts)
// appear nowhere: not in the API, the logs, the events or the metrics.
func TestRestream(t *testing.T) {
	t.Parallel()
	const key = "live/show"
	clip := mediaPath(t, "h264_aac_gop1s.mp4")
	src := probeClip(t, clip)
	ngx, ngxURL := startNginxRTMP(t)
	dest := startTLSServer(t, tlstest.NewCA(t), t.TempDir())
	hookTargets := []string{
		"rtmps://" + dest.RTMPSAddr + "/live/hooked-SECRET1",
		fmt.Sprintf("rtmp://127.0.0.1:%d/live/dead-SECRET2", freePort(t)),
	}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]any
		_ = json.NewDecoder(r.Body).Decode(&b) // the action decides; a bad body answers with nothing
		if b["action"] != "on_publish" {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"forward": hookTargets})
	}))
	t.Cleanup(hook.Close)
	origin := startWithConfig(t, "origin", fmt.Sprintf(`auth:
  hooks:
    on_publish:
      url: %q
relay:
  tls_insecure_skip_verify: true  # dest's certificate is the test CA's
  backoff_min: 100ms
  backoff_max: 1s
`, hook.URL), false)
	events := origin.openEvents(t, "")
	pub := publishForever(t, origin, key, clip)
	origin.waitLive(t, key, pub)

	// The API adds the third destination.
	body, err := json.Marshal(map[string]string{"url": ngxURL + "/api-SECRET3"})
	require.NoError(t, err)
	resp, err := http.Post("http://"+origin.HTTPAddr+"/api/v1/streams/"+key+"/forwards", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	require.NotContains(t, string(b), "SECRET")

	// A local player for the whole test: it must see no gap.
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	local := tempFile(t, "local.flv")
	localDone := make(chan error, 1)
	go func() { localDone <- fetchFLVFor(ctx, origin.flvURL(key), local, 12*time.Second) }()

	// Both live destinations get the stream.
	atNginx := playGo(ctx, ngxURL+"/api-SECRET3")
	require.NoError(t, atNginx.waitFrames(30*time.Second, 50), "nginx-rtmp (API target)")
	require.False(t, ngx.exited(), "nginx: %v", ngx.result())
	atDest := tempFile(t, "dest.flv")
	require.NoError(t, fetchFLVFor(ctx, dest.flvURL("live/hooked-SECRET1"), atDest, 4*time.Second))
	got, err := runProbe(t.Context(), atDest)
	require.NoError(t, err)
	checkStreams(t, got, src)
	require.Greater(t, len(got.packets("video")), 50, "the second Ripple over RTMPS (hook target)")

	// Three targets, redacted, the dead one retrying with its error.
	targets := pollAPI(t, origin, "/api/v1/streams/"+key+"/forwards", 30*time.Second, func(ts []apiTarget) bool {
		live, dead := 0, 0
		for _, tg := range ts {
			switch {
			case tg.State == "live":
				live++
			case tg.LastError != "":
				dead++
			}
		}
		return len(ts) == 3 && live == 2 && dead == 1
	})
	sources := map[string]int{}
	for _, tg := range targets {
		sources[tg.Source]++
		require.True(t, strings.HasSuffix(tg.Target, "/live/****"), "redacted: %s", tg.Target)
		if tg.State == "live" {
			require.Positive(t, tg.Bitrate, "%s", tg.Target)
		}
	}
	require.Equal(t, map[string]int{"hook": 2, "api": 1}, sources)

	require.NoError(t, <-localDone, "local HTTP-FLV player")
	lp, err := runProbe(t.Context(), local)
	require.NoError(t, err)
	checkStreams(t, lp, src)
	checkTimestamps(t, lp, 200*time.Millisecond)

	// Keys appear nowhere.
	status, m := origin.apiCall(t, http.MethodGet, "/api/v1/streams")
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, string(m), "SECRET", "API stream view")
	status, m = origin.apiCall(t, http.MethodGet, "/api/v1/relays")
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, string(m), "SECRET", "API relays")
	mresp, err := http.Get("http://" + origin.HTTPAddr + "/metrics")
	require.NoError(t, err)
	mb, err := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	require.NoError(t, err)
	require.NotContains(t, string(mb), "SECRET", "metrics")
	for _, ev := range events.drain() {
		require.NotContains(t, ev.data, "SECRET", "event %s", ev.name)
	}
	require.Empty(t, origin.out.matching(0, contains("SECRET")), "log lines with a stream key")
}

// drain returns the lifecycle events received so far, without waiting.
func (st *sseStream) drain() []sseEvent {
	for {
		select {
		case ev := <-st.events:
			st.seen = append(st.seen, ev)
		default:
			return st.seen
		}
	}
}

// TestBrowserTargets: with the API token entered, a restream target is
// added from a stream's row, shows live and redacted, and is removed from
// it again; the destination's stream then ends.
func TestBrowserTargets(t *testing.T) {
	t.Parallel()
	const (
		key   = "live/page"
		token = "e2e-targets-token"
	)
	dest := startServer(t)
	srv := startServer(t, "RIPPLE_API_TOKEN="+token)
	pub := publishLoop(t, srv, key, mediaPath(t, "h264_aac_gop1s.mp4"))
	srv.waitLive(t, key, pub)
	br := startBrowser(t)
	tb := br.newTab(t, "targets")
	tb.do(t, "open the page", pageTimeout, chromedp.Navigate(srv.pageURL()))
	tb.do(t, "enter the token", pageTimeout,
		chromedp.SendKeys(chromedp.CSS(`#token`), token),
		chromedp.Click(chromedp.CSS(`#token-form button[type=submit]`)))
	row := `tr[data-stream="` + key + `"]`
	tb.poll(t, "the add-target field shows", 15*time.Second, `document.querySelector('`+row+` input.target-url')`)
	tb.do(t, "add a target", pageTimeout,
		chromedp.SendKeys(chromedp.CSS(row+` input.target-url`), "rtmp://"+dest.RTMPAddr+"/live/from-page-SECRET"),
		chromedp.Click(chromedp.CSS(row+` button.add-target`)))
	dest.waitLive(t, "live/from-page-SECRET", nil)
	tb.poll(t, "the target shows live", 20*time.Second,
		`(window.ripple.targets['`+key+`'] || []).some((tg) => tg.state === 'live')`)
	text := eval[string](t, tb, "targets text", pageTimeout, `document.querySelector('`+row+` .targets').textContent`)
	require.Contains(t, text, "/live/****")
	require.NotContains(t, text, "SECRET")
	tb.screenshot(t, "targets.png")

	eval[bool](t, tb, "accept confirmations", pageTimeout, `(() => { window.confirm = () => true; return true; })()`)
	tb.do(t, "remove it", pageTimeout, chromedp.Click(chromedp.CSS(row+` button.remove-target`)))
	tb.poll(t, "the target goes", 20*time.Second, `(window.ripple.targets['`+key+`'] || []).length === 0`)
	require.Eventually(t, func() bool { return dest.head(nil, "live/from-page-SECRET") == "404" }, 20*time.Second,
		100*time.Millisecond, "the destination's stream ends")
}
