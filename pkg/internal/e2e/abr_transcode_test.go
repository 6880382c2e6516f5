//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// abrYAML configures a two-rung ladder (ultrafast: these machines have two
// cores) in app "live", started at publish, the same ladder on demand in
// app "dem", and no ladder in app "plain".
const abrYAML = `hub:
  reconnect_grace: 0s
transcode:
  idle_timeout: 2s
apps:
  live:
    transcode: &ladder
      - {name: 720p, video: "-c:v libx264 -preset ultrafast -b:v 1500k -maxrate 1500k -bufsize 3000k", audio: "-c:a aac -b:a 96k"}
      - {name: 360p, video: "-c:v libx264 -preset ultrafast -b:v 400k -vf scale=-2:360", audio: copy}
  dem:
    transcode: *ladder
    transcode_on: demand
  plain: {}
`

// abrStream is the part of a stream's API entry the ABR tests read.
type abrStream struct {
	Renditions []string `json:"renditions"`
	Transcode  *struct {
		Running    bool    `json:"running"`
		Restarts   uint64  `json:"restarts"`
		Speed      float64 `json:"speed"`
		Renditions []struct {
			Frames uint64 `json:"frames"`
		} `json:"renditions"`
	} `json:"transcode"`
}

// publishEncoderSize is publishEncoder at a given picture size.
func publishEncoderSize(t *testing.T, s *server, key, size string) *proc {
	t.Helper()
	args := append(append([]string{}, ffmpegBase...), "-re",
		"-f", "lavfi", "-i", "testsrc2=size="+size+":rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p",
		"-b:v", "2500k", "-c:a", "aac", "-b:a", "96k", "-f", "flv", s.rtmpURL(key))
	return startProc(t, "encoder "+key, ffmpegBin, args, nil)
}

// ffmpegChildren lists the PIDs of the ffmpeg processes pid started.
func ffmpegChildren(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i], "(ffmpeg") {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// cpuTicks is a process's user+system CPU time in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ut, err := strconv.ParseInt(f[11], 10, 64)
	require.NoError(t, err)
	st, err := strconv.ParseInt(f[12], 10, 64)
	require.NoError(t, err)
	return ut + st
}

// cpuShare measures the CPU of each pid over d, as a fraction of one core
// (clock ticks are 1/100 s on Linux).
func cpuShare(t *testing.T, d time.Duration, pids ...int) []float64 {
	t.Helper()
	before := make([]int64, len(pids))
	for i, p := range pids {
		before[i] = cpuTicks(t, p)
	}
	start := time.Now()
	<-time.After(d) // the measurement window itself
	el := time.Since(start).Seconds()
	out := make([]float64, len(pids))
	for i, p := range pids {
		out[i] = float64(cpuTicks(t, p)-before[i]) / 100 / el
	}
	return out
}

// TestABRTranscode: an app with a two-rung ffmpeg ladder turns a 720p
// publish into two renditions playable over HTTP-FLV and listed in one
// multivariant HLS playlist whose variants start segments on keyframes at
// the same media times; the supervised ffmpeg restarts when killed, stops
// with the stream and leaves no process; an on-demand ladder starts on a
// rendition's first viewer and stops when idle. The ladder's CPU and
// Ripple's own around it are measured.
func TestABRTranscode(t *testing.T) {
	t.Parallel()
	srv := startWithConfig(t, "ripple-abr", abrYAML, false)
	pid := srv.cmd.Process.Pid
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	// Ripple alone with a 720p stream and no ladder: the baseline.
	plain := publishEncoderSize(t, srv, "plain/abr", "1280x720")
	srv.waitLive(t, "plain/abr", plain)
	base := cpuShare(t, 5*time.Second, pid)[0]
	plain.kill()

	pub := publishEncoderSize(t, srv, "live/abr", "1280x720")
	srv.waitLive(t, "live/abr", pub)
	st := pollAPI(t, srv, "/api/v1/streams/live/abr", 30*time.Second, func(v abrStream) bool {
		return len(v.Renditions) == 2 && v.Transcode != nil && v.Transcode.Running
	})
	require.Equal(t, []string{"live/abr_360p", "live/abr_720p"}, st.Renditions)

	t.Run("renditions", func(t *testing.T) {
		dir := t.TempDir()
		for name, want := range map[string][2]int{"live/abr_720p": {1280, 720}, "live/abr_360p": {640, 360}} {
			p, err := grab(ctx, dir, strings.ReplaceAll(name, "/", "_"), srv.flvURL(name), 3*time.Second)
			require.NoError(t, err)
			v, ok := p.stream("video")
			require.True(t, ok, name)
			assert.Equal(t, want, [2]int{v.Width, v.Height}, name)
			_, okA := p.stream("audio")
			assert.True(t, okA, "%s has audio", name)
		}
	})

	t.Run("multivariant", func(t *testing.T) {
		top := "http://" + srv.HTTPAddr + "/live/abr.m3u8"
		variants := waitVariants(t, top, 3)
		var got []string
		for _, v := range variants {
			got = append(got, v.resolution)
			assert.Positive(t, v.avgBandwidth, "AVERAGE-BANDWIDTH of %s", v.uri)
			assert.NotEmpty(t, v.codecs, "CODECS of %s", v.uri)
			assert.NotEmpty(t, v.frameRate, "FRAME-RATE of %s", v.uri)
		}
		assert.ElementsMatch(t, []string{"1280x720", "1280x720", "640x360"}, got)
		// Every variant's segments start on a keyframe, and a rendition's
		// cuts are where the source's are: the renditions are on the
		// source's timeline and cut on its grid. A rendition's first
		// segments start where its ladder did (and, with its audio after
		// its first video frame, a one-frame segment and a discontinuity
		// shift its sequence numbers by one): they are left out, and media
		// sequence numbers are not compared. Players switch by time.
		checkAlignment(t, top, variants, 2)
		probeHLS(t, top) //nolint:contextcheck // ffmpeg reads the multivariant playlist, bounded by its own timeout
	})

	t.Run("hlsjs", func(t *testing.T) {
		// hls.js in Chromium plays the ladder's multivariant playlist and
		// switches down when the network is throttled below the top
		// variants (source ~2.6 Mb/s, 720p ~1.6 Mb/s, 360p ~0.5 Mb/s).
		br := startBrowser(t)
		tb := br.newTab(t, "abr-transcode")
		tb.do(t, "open the page", pageTimeout, chromedp.Navigate(srv.pageURL()+"#live/abr?hls"))
		requireLocalLibs(t, tb)
		tb.do(t, "press Play", pageTimeout, chromedp.Click(chromedp.CSS(`#stream-form button[type=submit]`)))
		res := eval[playResult](t, tb, "watch playback", browserPlayTimeout+5*time.Second,
			fmt.Sprintf(watchPlayback, 2.0, browserPlayTimeout.Milliseconds()))
		require.True(t, res.OK, "%s (state: %+v)", res.Reason, res)
		require.Equal(t, "hls.js", res.Engine)
		tb.poll(t, "the levels offered", 15*time.Second,
			`window.ripple.rendition.kind === 'hls' && window.ripple.rendition.options.length === 3`)
		mtThrottle(t, tb, 900_000, 100*time.Millisecond)
		start := time.Now()
		tb.poll(t, "hls.js switches down to 360p", 45*time.Second, `(() => {
  const r = window.ripple.rendition, p = window.ripple.player;
  return r.auto && r.playing >= 0 && p.levels[r.playing].height === 360;
})()`)
		t.Logf("throttled to 900 kb/s: hls.js switched down to 360p after %s", time.Since(start).Round(time.Millisecond))
		mtThrottle(t, tb, -1, 0)
	})

	t.Run("cost", func(t *testing.T) {
		kids := ffmpegChildren(t, pid)
		require.Len(t, kids, 1, "one ffmpeg runs the whole ladder")
		shares := cpuShare(t, 5*time.Second, pid, kids[0])
		t.Logf("ABR COST: 720p -> (720p, 360p) ladder, ffmpeg %.0f%% of a core; Ripple %.1f%% with the ladder, "+
			"%.1f%% without: %.1f%% of a core around ffmpeg (%.1f%% of ffmpeg's)", shares[1]*100, shares[0]*100,
			base*100, (shares[0]-base)*100, (shares[0]-base)/shares[1]*100)
	})

	t.Run("restart", func(t *testing.T) {
		kids := ffmpegChildren(t, pid)
		require.Len(t, kids, 1)
		require.NoError(t, syscall.Kill(kids[0], syscall.SIGKILL))
		var frames uint64
		pollAPI(t, srv, "/api/v1/streams/live/abr", 30*time.Second, func(v abrStream) bool {
			if v.Transcode == nil || v.Transcode.Restarts != 1 || !v.Transcode.Running {
				return false
			}
			if frames == 0 {
				frames = v.Transcode.Renditions[0].Frames
			}
			return v.Transcode.Renditions[0].Frames > frames+25
		})
		require.Len(t, ffmpegChildren(t, pid), 1, "one ffmpeg again, not the killed one")
	})

	t.Run("unpublish", func(t *testing.T) {
		pub.kill()
		deadline := time.Now().Add(20 * time.Second)
		for len(ffmpegChildren(t, pid)) > 0 {
			require.False(t, time.Now().After(deadline), "ffmpeg left running after the stream ended")
			<-time.After(100 * time.Millisecond) // polling /proc
		}
		code, _ := httpStatus(t, srv.flvURL("live/abr_360p"), "")
		assert.Equal(t, 404, code, "the renditions ended with their source")
	})

	t.Run("on_demand", func(t *testing.T) {
		dem := publishEncoderSize(t, srv, "dem/abr", "1280x720")
		srv.waitLive(t, "dem/abr", dem) //nolint:contextcheck // bounded by its own timeout
		require.Empty(t, ffmpegChildren(t, pid), "no ladder before a rendition's first viewer")
		require.NoError(t, readFLVBytes(ctx, srv.flvURL("dem/abr_360p"), 128<<10), "the first viewer starts the ladder")
		require.Len(t, ffmpegChildren(t, pid), 1)
		deadline := time.Now().Add(30 * time.Second)
		for len(ffmpegChildren(t, pid)) > 0 {
			require.False(t, time.Now().After(deadline), "the on-demand ladder did not stop when idle")
			<-time.After(100 * time.Millisecond) // polling /proc
		}
		dem.kill()
	})
}
