//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Server environment shared by the relay tests: no reconnect grace (the
// stream ends when its source does) and a short play wait on origins, so a
// pull that lost its stream gives up quickly.
var originEnv = []string{envGrace + "=0s", "RIPPLE_RTMP_PLAY_WAIT=1s"}

// edgeYAML configures app "live" as an edge of origins, with short timeouts
// (relay.timeout 10 s: generous for a loaded CI machine; hls.idle_timeout
// 10 s: longer than the gaps between a test's HLS requests, which run
// ffprobe in between and take seconds under load).
func edgeYAML(selection string, origins ...string) string {
	return edgeYAMLTimeout(selection, 10*time.Second, origins...)
}

// edgeYAMLTimeout is edgeYAML with relay.timeout set: how long a silent
// origin is waited for.
func edgeYAMLTimeout(selection string, timeout time.Duration, origins ...string) string {
	var b strings.Builder
	b.WriteString("apps:\n  live:\n    edge:\n      origins:\n")
	for _, o := range origins {
		fmt.Fprintf(&b, "        - %q\n", o)
	}
	fmt.Fprintf(&b, "      selection: %s\n", selection)
	fmt.Fprintf(&b, "relay:\n  timeout: %s\n", timeout)
	b.WriteString(`  backoff_min: 100ms
  backoff_max: 1s
  idle_timeout: 2s
  not_found_timeout: 3s
hub:
  reconnect_grace: 0s
hls:
  on_demand: true
  idle_timeout: 10s
`)
	return b.String()
}

// TestRelayEdgePlayback: ffmpeg → origin → edge → players of every protocol
// on the edge: ffmpeg over RTMP, ffprobe over HTTP-FLV, WS-FLV; each gets the
// clip's tracks with clean timestamps and nearly every frame.
func TestRelayEdgePlayback(t *testing.T) {
	t.Parallel()
	const key = "live/cam"
	clip := mediaPath(t, "h264_aac_gop2s.mp4")
	src := probeClip(t, clip)
	origin := startWithConfig(t, "origin", "", false, originEnv...)
	edge := startWithConfig(t, "edge", edgeYAML("failover", "rtmp://"+origin.RTMPAddr+"/{app}"), false)

	events := edge.openEvents(t, "")
	pub := publish(t, origin, key, clip, "-progress", "pipe:2", "-stats_period", "0.1")
	origin.waitLive(t, key, pub)
	rtmpOut := tempFile(t, "rtmp.flv")
	rtmpPlayer := playRTMPToFile(t, edge, key, rtmpOut)
	httpRes := probeURLAsync(edge.flvURL(key))
	wsRes := playWSAsync(edge.wsURL(key), tempFile(t, "ws.flv"))
	// When each player subscribed on the edge, bounded by the publisher's
	// progress (the edge relays its frames).
	joined := waitJoins(t, events, pub, key, "rtmp", "http-flv", "ws-flv")
	require.NoError(t, pub.wait(playTimeout), "publisher")

	// The players joined through a pull started a moment after the origin
	// went live: they may miss the start of the GOP live when they
	// subscribed (the first, unless the machine is loaded), never more.
	check := func(t *testing.T, proto string, got probe) {
		from := gopStart(src.keyframes(), joined[proto])
		t.Logf("received %d video / %d audio packets (source %d / %d); subscribed by frame %d (GOP from keyframe %d)",
			len(got.packets("video")), len(got.packets("audio")), src.VideoPackets, src.AudioPackets, joined[proto], from)
		checkStreams(t, got, src)
		checkTimestamps(t, got, time.Second)
		assert.GreaterOrEqual(t, len(got.packets("video")), (src.VideoPackets-from)*8/10)
		assert.LessOrEqual(t, len(got.packets("video")), src.VideoPackets)
	}
	t.Run("rtmp", func(t *testing.T) {
		require.NoError(t, rtmpPlayer.wait(playTimeout), "ffmpeg rtmp player should exit 0 at end of stream")
		assert.Empty(t, timestampWarnings(rtmpPlayer))
		got, err := runProbe(t.Context(), rtmpOut)
		require.NoError(t, err)
		check(t, "rtmp", got)
	})
	t.Run("httpflv", func(t *testing.T) {
		r := await(t, "http-flv ffprobe", httpRes, playTimeout)
		require.NoError(t, r.err)
		check(t, "http-flv", r.probe)
	})
	t.Run("wsflv", func(t *testing.T) {
		r := await(t, "ws-flv client", wsRes, playTimeout)
		require.NoError(t, r.err)
		check(t, "ws-flv", r.probe)
	})
	// Three players, one upstream play on the origin.
	assert.Equal(t, 1, origin.countLines(`msg="play started"`, "stream="+key), "upstream connections")

	// A stream no origin has: a clean "not found" within a bounded time.
	t.Run("not_found", func(t *testing.T) {
		start := time.Now()
		code, _ := httpStatus(t, edge.flvURL("live/none"), "")
		assert.Equal(t, http.StatusNotFound, code, "HTTP-FLV")
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		g := playGo(ctx, edge.rtmpURL("live/none2"))
		<-g.done
		require.Error(t, g.err)
		assert.Contains(t, g.err.Error(), "NetStream.Play.StreamNotFound", "RTMP")
		t.Logf("not found answered within %s", time.Since(start).Round(time.Millisecond))
		assert.Less(t, time.Since(start), 15*time.Second)
	})
}

// TestRelayEdgeFanout: 50 players of mixed protocols on one edge make one
// upstream connection; HLS on the edge starts from the same pull; the added
// latency of the hop is measured; the pull stops idle_timeout after the last
// player left.
func TestRelayEdgeFanout(t *testing.T) {
	t.Parallel()
	const (
		key     = "live/fan"
		players = 50
	)
	clip := mediaPath(t, "h264_aac_gop1s.mp4")
	origin := startWithConfig(t, "origin", "", false, originEnv...)
	edge := startWithConfig(t, "edge", edgeYAML("hash", "rtmp://"+origin.RTMPAddr+"/{app}"), false)
	pub := publishForever(t, origin, key, clip)
	origin.waitLive(t, key, pub)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	// Latency probes: the same frames at the origin and at the edge.
	atOrigin := playGo(ctx, origin.rtmpURL(key))
	atEdge := playGo(ctx, edge.rtmpURL(key+"?token=abc"))

	// 24 more RTMP players and 25 HTTP-FLV readers, all at once, each reading
	// until it has seen 50 video frames (or 128 KiB of FLV).
	var wg sync.WaitGroup
	errs := make(chan error, players)
	for i := range players - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				g := playGo(ctx, edge.rtmpURL(key))
				errs <- g.waitFrames(30*time.Second, 50)
				return
			}
			errs <- readFLVBytes(ctx, edge.flvURL(key), 128<<10) // ~4 s of this clip
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, atEdge.waitFrames(30*time.Second, 150), "edge latency probe")
	// Two plays on the origin: the latency probe and the edge's one pull.
	assert.Equal(t, 2, origin.countLines(`msg="play started"`, "stream="+key),
		"%d edge players must share one upstream connection", players)
	pull := edge.logLine(t, time.Second, 0, `msg="relay state"`, "relay=pull", "stream="+key, "state=live")
	t.Logf("edge: %s", pull)

	lat := hopLatency(atOrigin.snapshot(), atEdge.snapshot())
	require.Greater(t, len(lat), 50, "frames seen live at both the origin and the edge")
	t.Logf("RELAY HOP LATENCY (edge vs origin player, %d frames): p50 %s, p99 %s, max %s",
		len(lat), percentile(lat, 50), percentile(lat, 99), lat[len(lat)-1])

	t.Run("hls", func(t *testing.T) {
		checkHLS(t, edge, key, "mpegts", true, true)
	})

	// Idle stop: every player gone (the HLS muxer idles out after 10 s), the
	// pull stops 2 s later and the origin sees its player leave.
	cancel()
	<-atOrigin.done
	<-atEdge.done
	from := 0
	line := edge.logLine(t, 30*time.Second, from, `msg="relay state"`, "relay=pull", "stream="+key, "state=stopped")
	assert.Contains(t, line, "idle")
	require.False(t, pub.exited(), "publisher")
}

// readFLVBytes reads n bytes of an HTTP-FLV stream.
func readFLVBytes(ctx context.Context, url string, n int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	got, err := io.CopyN(io.Discard, resp.Body, n)
	if err != nil {
		return fmt.Errorf("GET %s: %d of %d bytes: %w", url, got, n, err)
	}
	return nil
}

// TestRelayFailover: the publisher pushes to two origins; an ffmpeg player
// and a Go player read from the edge; the first origin fails: both players
// keep receiving frames (from the second origin) without reconnecting, and
// the ffmpeg player's file has clean timestamps. The failover gap is
// measured. Two failures:
//   - sigkill: the origin process dies, its sockets are reset: the edge
//     notices at once. One ffmpeg tees the same frames to both origins, so
//     the edge aligns origin 2's replay with what it delivered: no repeat.
//   - sigstop: the origin hangs with its connections open: the edge notices
//     after relay.timeout (3 s here) of silence. Two ffmpegs (a hung tee
//     would stall both outputs).
func TestRelayFailover(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"sigkill", "sigstop"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			testFailover(t, mode)
		})
	}
}

func testFailover(t *testing.T, mode string) {
	const key = "live/fo"
	clip := mediaPath(t, "h264_aac_gop1s.mp4")
	o1 := startWithConfig(t, "origin1", "", true, originEnv...)
	o2 := startWithConfig(t, "origin2", "", false, originEnv...)
	edge := startWithConfig(t, "edge", edgeYAMLTimeout("failover", 3*time.Second,
		"rtmp://"+o1.RTMPAddr+"/{app}", "http://"+o2.HTTPAddr+"/{app}"), false)
	var pubs []*proc
	if mode == "sigkill" {
		pubs = append(pubs, publishTee(t, clip, o1.rtmpURL(key), o2.rtmpURL(key)))
	} else {
		pubs = append(pubs, publishForever(t, o1, key, clip), publishForever(t, o2, key, clip))
	}
	o1.waitLive(t, key, pubs[0])
	o2.waitLive(t, key, pubs[len(pubs)-1])

	out := tempFile(t, "edge.flv")
	player := playRTMPToFile(t, edge, key, out)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	g := playGo(ctx, edge.rtmpURL(key))
	require.NoError(t, g.waitFrames(30*time.Second, 100), "frames before the failure")
	edge.logLine(t, time.Second, 0, `msg="relay state"`, "stream="+key, "state=live", "target=rtmp://"+o1.RTMPAddr)

	logFrom := edge.out.len()
	before := g.count()
	if mode == "sigkill" {
		o1.sigkill()
	} else {
		require.NoError(t, o1.cmd.Process.Signal(syscall.SIGSTOP))
		t.Cleanup(o1.sigkill) // SIGKILL ends a stopped process too
	}
	failedAt := time.Now()
	switched := edge.logLine(t, 15*time.Second, logFrom, `msg="relay state"`, "stream="+key, "state=live",
		"target=http://"+o2.HTTPAddr)
	require.NoError(t, g.waitFrames(30*time.Second, before+150), "frames after the failure (from origin 2)")
	var firstAfter time.Duration
	for _, f := range g.snapshot() {
		if f.at.After(failedAt) {
			firstAfter = f.at.Sub(failedAt)
			break
		}
	}
	require.False(t, player.exited(), "the ffmpeg player must not notice the failover: %v", player.result())
	// The longest wait between frames that ended after the failure: the
	// one spanning the switch, unless scheduling jitter was worse.
	gap, gapAt := longestGap(g.snapshot(), failedAt, time.Now())
	t.Logf("FAILOVER (%s): edge live on origin 2 %s after the failure; first frame at the player %s after it; "+
		"longest gap between frames since: %s (starting %s after the failure)", mode,
		logTime(t, switched).Sub(failedAt).Round(time.Millisecond), firstAfter.Round(time.Millisecond),
		gap.Round(time.Millisecond), gapAt.Sub(failedAt).Round(time.Millisecond))
	assert.Less(t, gap, 7*time.Second, "players should see frames again within a few seconds")
	if mode == "sigkill" {
		// Both origins carry the same encoder output: the edge aligns the
		// second origin's GOP replay with what it delivered, so no frame
		// repeats (the clip itself repeats only every 250 frames).
		frames := g.snapshot()
		last := map[uint64]int{}
		for i, f := range frames {
			if j, ok := last[f.hash]; ok && i-j < 200 {
				t.Errorf("frame %d repeats frame %d (%s after the kill): the replay was not aligned",
					i, j, f.at.Sub(failedAt).Round(time.Millisecond))
				break
			}
			last[f.hash] = i
		}
	}

	// End: the publishers stop, origin 2's stream ends, the pull gives up
	// (not found), the players get the end of stream.
	for _, p := range pubs {
		p.kill()
	}
	require.NoError(t, player.wait(60*time.Second), "ffmpeg player should end cleanly")
	assert.Empty(t, timestampWarnings(player), "ffmpeg complained about timestamps across the failover")
	got, err := runProbe(t.Context(), out)
	require.NoError(t, err)
	src := probeClip(t, clip)
	checkStreams(t, got, src)
	checkTimestamps(t, got, time.Second)
	t.Logf("ffmpeg player received %d video frames across the failover", len(got.packets("video")))
}

// TestRelayForward: the origin forwards to two destinations, one of them
// down: the live one gets the stream, the dead one backs off, and the
// origin's own player is unaffected.
func TestRelayForward(t *testing.T) {
	t.Parallel()
	const key = "live/fwd"
	clip := mediaPath(t, "h264_aac_gop2s.mp4")
	src := probeClip(t, clip)
	dest := startWithConfig(t, "destination", "", false, originEnv...)
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	origin := startWithConfig(t, "origin", fmt.Sprintf(`apps:
  live:
    forward:
      - rtmp://%s/{app}
      - rtmp://%s/backup/{stream}
relay:
  backoff_min: 100ms
  backoff_max: 1s
hub:
  reconnect_grace: 0s
`, dead, dest.RTMPAddr), false)

	events := origin.openEvents(t, "")
	destEvents := dest.openEvents(t, "")
	pub := publish(t, origin, key, clip, "-progress", "pipe:2", "-stats_period", "0.1")
	origin.waitLive(t, key, pub)
	local := probeURLAsync(origin.flvURL(key))
	dest.waitLive(t, "backup/fwd", pub)
	remote := probeURLAsync(dest.flvURL("backup/fwd"))
	// Under load the players may subscribe after the first GOP. The
	// destination's frames are the publisher's, forwarded: its progress
	// bounds them too.
	joined := waitJoins(t, events, pub, key, "http-flv")
	joinedDest := waitJoins(t, destEvents, pub, "backup/fwd", "http-flv")

	origin.logLine(t, 10*time.Second, 0, `msg="relay state"`, "relay=forward", "target=rtmp://"+dead, "state=backoff", "err=")
	origin.logLine(t, 10*time.Second, 0, `msg="relay state"`, "relay=forward", "target=rtmp://"+dest.RTMPAddr, "state=live")
	require.NoError(t, pub.wait(playTimeout), "publisher")

	r := await(t, "origin player", local, playTimeout)
	require.NoError(t, r.err)
	checkPlaybackJoined(t, r.probe, src, joined["http-flv"])
	r = await(t, "destination player", remote, playTimeout)
	require.NoError(t, r.err)
	checkStreams(t, r.probe, src)
	checkTimestamps(t, r.probe, time.Second)
	fromDest := gopStart(src.keyframes(), joinedDest["http-flv"])
	assert.GreaterOrEqual(t, len(r.probe.packets("video")), (src.VideoPackets-fromDest)*8/10,
		"destination player subscribed by frame %d (GOP from keyframe %d)", joinedDest["http-flv"], fromDest)
	origin.logLine(t, 10*time.Second, 0, `msg="relay state"`, "relay=forward", "target=rtmp://"+dead, "state=stopped")
}

// TestRelayEdgePublish: an encoder publishing to the edge is pushed to the
// origin; players on the origin and on the edge both get the stream.
func TestRelayEdgePublish(t *testing.T) {
	t.Parallel()
	const key = "live/up"
	clip := mediaPath(t, "h264_aac_gop2s.mp4")
	src := probeClip(t, clip)
	origin := startWithConfig(t, "origin", "", false, originEnv...)
	edge := startWithConfig(t, "edge", edgeYAML("failover", "rtmp://"+origin.RTMPAddr+"/{app}"), false)
	pub := publish(t, edge, key+"?secret=s1", clip)
	edge.waitLive(t, key, pub)
	atEdge := probeURLAsync(edge.flvURL(key))
	origin.waitLive(t, key, pub)
	atOrigin := probeURLAsync(origin.flvURL(key))
	line := origin.logLine(t, 10*time.Second, 0, `msg="publish started"`, "stream="+key)
	t.Logf("origin: %s", line)
	require.NoError(t, pub.wait(playTimeout), "publisher")
	for name, ch := range map[string]<-chan result{"edge": atEdge, "origin": atOrigin} {
		r := await(t, name+" player", ch, playTimeout)
		require.NoError(t, r.err, name)
		checkStreams(t, r.probe, src)
		checkTimestamps(t, r.probe, time.Second)
		assert.GreaterOrEqual(t, len(r.probe.packets("video")), src.VideoPackets*8/10, name)
	}
}

// TestRelayInteropNginx: ffmpeg → Ripple (forward) → nginx-rtmp → Ripple edge
// (pull, nginx as origin) → ffprobe: both directions with a foreign server.
func TestRelayInteropNginx(t *testing.T) {
	t.Parallel()
	ngx, ngxURL := startNginxRTMP(t)

	const key = "live/ngx"
	clip := mediaPath(t, "h264_aac_gop1s.mp4")
	src := probeClip(t, clip)
	origin := startWithConfig(t, "origin", fmt.Sprintf(`apps:
  live:
    forward: [%q]
relay:
  backoff_min: 100ms
  backoff_max: 500ms
`, ngxURL), false, originEnv...)
	edge := startWithConfig(t, "edge", edgeYAML("failover", ngxURL), false)

	pub := publishForever(t, origin, key, clip)
	origin.waitLive(t, key, pub)
	origin.logLine(t, 20*time.Second, 0, `msg="relay state"`, "relay=forward", "state=live")
	require.False(t, ngx.exited(), "nginx: %v", ngx.result())

	// nginx serves what Ripple forwarded...
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	atNginx := playGo(ctx, ngxURL+"/ngx")
	require.NoError(t, atNginx.waitFrames(30*time.Second, 50), "Go player on nginx")
	// ...and a Ripple edge pulls it back from nginx.
	out := tempFile(t, "edge.flv")
	require.NoError(t, fetchFLVFor(ctx, edge.flvURL(key), out, 4*time.Second))
	got, err := runProbe(t.Context(), out)
	require.NoError(t, err)
	checkStreams(t, got, src)
	checkTimestamps(t, got, time.Second)
	require.Greater(t, len(got.packets("video")), 50, "edge player frames from nginx")
	edge.logLine(t, time.Second, 0, `msg="relay state"`, "relay=pull", "state=live", "target="+ngxURL)
}

// startNginxRTMP runs nginx-rtmp on a free loopback port with one live
// application and returns it and the application's URL (rtmp://…/live).
func startNginxRTMP(t *testing.T) (*proc, string) {
	t.Helper()
	const module = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
	nginx, err := execLookPath("nginx")
	_, modErr := os.Stat(module)
	requireTool(t, "nginx with libnginx-mod-rtmp", err == nil && modErr == nil)

	dir := t.TempDir()
	port := freePort(t)
	conf := fmt.Sprintf(`daemon off;
master_process off;
error_log %[1]s/error.log info;
pid %[1]s/nginx.pid;
load_module %[2]s;
events {}
rtmp {
  server {
    listen 127.0.0.1:%[3]d;
    chunk_size 4096;
    application live { live on; }
  }
}
`, dir, module, port)
	confPath := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o644))
	ngx := startProc(t, "nginx", nginx, []string{"-p", dir, "-c", confPath}, nil)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error.log:\n%s", b)
		}
	})
	return ngx, fmt.Sprintf("rtmp://127.0.0.1:%d/live", port)
}

// fetchFLVFor saves an HTTP-FLV stream for d, then stops.
func fetchFLVFor(ctx context.Context, url, out string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := fetchFLV(ctx, url, out)
	if ctx.Err() != nil {
		return nil // the deadline ended the download, as intended
	}
	return err
}

// TestRelayEdgePassesToken: the origin requires signed play URLs; a player
// on the edge with a valid token starts a pull that carries the token (the
// origin admits it), one without a token gets "not found" from the edge.
func TestRelayEdgePassesToken(t *testing.T) {
	t.Parallel()
	const (
		key    = "live/tok"
		secret = "origin-play-secret"
	)
	clip := mediaPath(t, "h264_aac_gop1s.mp4")
	src := probeClip(t, clip)
	origin := startWithConfig(t, "origin", "", false, append(originEnv, envPlaySecret+"="+secret)...)
	edge := startWithConfig(t, "edge", edgeYAML("failover", "rtmp://"+origin.RTMPAddr+"/{app}"), false)
	pub := publishForever(t, origin, key, clip)
	origin.waitLive(t, key, pub)

	code, _ := httpStatus(t, edge.flvURL(key), "")
	assert.Equal(t, http.StatusNotFound, code, "no token: the origin refuses the pull")

	out := tempFile(t, "edge.flv")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	require.NoError(t, fetchFLVFor(ctx, flvSigned(edge, key, secret, time.Minute), out, 4*time.Second))
	got, err := runProbe(t.Context(), out)
	require.NoError(t, err)
	checkStreams(t, got, src)
	require.Greater(t, len(got.packets("video")), 25, "frames through the token-carrying pull")
	edge.logLine(t, time.Second, 0, `msg="relay state"`, "relay=pull", "stream="+key, "state=live")
}
