//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vlcPlayFor is how long each VLC player runs (--run-time): the frame count
// it must deliver is measured against it.
const vlcPlayFor = 5 * time.Second

// TestVLCPlayback plays one live stream with VLC 3 (cvlc, Debian's vlc-bin)
// over RTMP, HTTP-FLV and HLS (mpegts variant) at the same time. Each VLC
// remuxes what it receives into an MPEG-TS file for vlcPlayFor; ffprobe must
// find H.264 and AAC in it and at least 80 % of the video frames the stream
// has in that time (for HLS: in the segments listed when VLC starts). VLC
// has demuxers of its own: libavformat-based players are covered by
// TestPlayback.
func TestVLCPlayback(t *testing.T) {
	t.Parallel()
	cvlc, err := exec.LookPath("cvlc")
	require.NoError(t, err, "cvlc not found on PATH: apt-get install vlc-bin vlc-plugin-base")

	const key = "live/vlc"
	clip := mediaPath(t, "h264_aac_gop1s.mp4")
	fps := videoFrameRate(t, clip)
	srv := startServer(t)
	pub := publishLoop(t, srv, key, clip)
	srv.waitLive(t, key, pub)

	for _, tc := range []struct{ name, url string }{
		{"rtmp", srv.rtmpURL(key)},
		{"httpflv", srv.flvURL(key)},
		{"hls", "http://" + srv.HTTPAddr + "/" + key + ".m3u8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// What VLC must have played: vlcPlayFor of the live stream;
			// for HLS at least one whole segment. VLC 3 remuxing HLS to a
			// file is not paced (it reads segments as fast as it can and
			// may reach EOF well before --run-time), and it may start near
			// the live edge rather than at the first listed segment, so one
			// segment is all it is bound to play.
			seconds := vlcPlayFor.Seconds()
			if tc.name == "hls" {
				// VLC gives up on a playlist with no segment yet.
				pl := waitPlaylist(t, tc.url, 2)
				seconds = 0
				for _, m := range reExtinf.FindAllStringSubmatch(pl, -1) {
					d, err := strconv.ParseFloat(m[1], 64)
					require.NoError(t, err, "EXTINF in\n%s", pl)
					if seconds == 0 || d < seconds {
						seconds = d
					}
				}
			}
			out := playVLC(t, cvlc, tc.url)
			got, err := runProbe(t.Context(), out)
			require.NoError(t, err)
			v, ok := got.stream("video")
			require.True(t, ok, "no video stream in VLC's output (streams: %v)", got.Streams)
			a, ok := got.stream("audio")
			require.True(t, ok, "no audio stream in VLC's output (streams: %v)", got.Streams)
			assert.Equal(t, "h264", v.CodecName)
			assert.Equal(t, "aac", a.CodecName)
			frames := len(got.packets("video"))
			want := int(0.8 * seconds * fps)
			t.Logf("VLC %s: %d video, %d audio packets; want ≥ %d video (80%% of %.1f s at %.3g fps)",
				tc.name, frames, len(got.packets("audio")), want, seconds, fps)
			assert.GreaterOrEqual(t, frames, want, "video frames for %.1f s of playback", seconds)
		})
	}
}

// playVLC runs cvlc on url for vlcPlayFor, remuxing into MPEG-TS without
// decoding, and returns the file. VLC refuses to run as root ("VLC is not
// supposed to be run as root"): as root it runs as nobody in a directory
// nobody can write.
func playVLC(t *testing.T, cvlc, url string) string {
	t.Helper()
	// Not under t.TempDir(): its parents are 0700, closed to nobody.
	dir, err := os.MkdirTemp("", "ripple-e2e-vlc-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	out := filepath.Join(dir, "out.ts")
	args := []string{cvlc}
	if os.Geteuid() == 0 {
		args = []string{"runuser", "-u", "nobody", "--", cvlc}
	}
	args = append(args, "--no-one-instance", "--run-time", strconv.Itoa(int(vlcPlayFor.Seconds())),
		url, "--sout", "#std{access=file,mux=ts,dst="+out+"}", "vlc://quit")
	ctx, cancel := context.WithTimeout(t.Context(), vlcPlayFor+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	start := time.Now()
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", strings.Join(args, " "), b)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("---- cvlc output (%s) ----\n%s", strings.Join(args, " "), tail(strings.Split(string(b), "\n"), 60))
		}
	})
	t.Logf("cvlc %s ran %s", url, time.Since(start).Round(time.Millisecond))
	st, err := os.Stat(out)
	require.NoError(t, err, "VLC wrote nothing; its output:\n%s", b)
	require.Positive(t, st.Size(), "VLC wrote an empty file; its output:\n%s", b)
	return out
}

// videoFrameRate returns the clip's video frame rate (ffprobe r_frame_rate).
func videoFrameRate(t *testing.T, path string) float64 {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), ffprobe, "-v", "error", "-select_streams", "v:0",
		"-show_entries", "stream=r_frame_rate", "-of", "csv=p=0", path).Output()
	require.NoError(t, err, "ffprobe %s", path)
	num, den, ok := strings.Cut(strings.TrimSpace(string(out)), "/")
	require.True(t, ok, "r_frame_rate %q", out)
	n, err1 := strconv.ParseFloat(num, 64)
	d, err2 := strconv.ParseFloat(den, 64)
	require.True(t, err1 == nil && err2 == nil && n > 0 && d > 0, "r_frame_rate %q", out)
	return n / d
}
