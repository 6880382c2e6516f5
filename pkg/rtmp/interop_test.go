package rtmp

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/logtest"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// Interop with real ffmpeg/ffprobe as publisher, player and server. These
// encode 10 s of H.264+AAC in real time, so they run only when asked:
//
//	RIPPLE_INTEROP=1 go test -run Interop -v ./pkg/rtmp
//
// The end-to-end suite (pkg/internal/e2e) covers the released binary; these
// pin the session layer against the peers docs/interop.md names.

func requireInterop(t *testing.T) {
	t.Helper()
	if os.Getenv("RIPPLE_INTEROP") == "" {
		t.Skip("set RIPPLE_INTEROP=1 to run the ffmpeg interop tests")
	}
	for _, b := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s not installed", b)
		}
	}
}

// run starts a command whose combined output is returned by wait. The
// process is killed and reaped at the end of the test if still running.
func run(t *testing.T, ctx context.Context, name string, args ...string) (wait func() (string, error)) {
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, name, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	startErr := cmd.Start()
	var once sync.Once
	var waitErr error
	wait = func() (string, error) {
		once.Do(func() {
			if startErr != nil {
				waitErr = startErr
				return
			}
			waitErr = cmd.Wait()
		})
		return out.String(), waitErr
	}
	t.Cleanup(func() {
		cancel()
		_, _ = wait()
	})
	return wait
}

// syncBuffer collects output written from several goroutines.
type syncBuffer = logtest.Buffer

// badLines returns ffmpeg output lines that indicate an interop problem.
func badLines(out string) []string {
	var bad []string
	for _, l := range strings.Split(out, "\n") {
		ll := strings.ToLower(l)
		for _, s := range []string{"signature mismatch", "validating failed", "non-monotonous dts",
			"non monotonically", "invalid dts", "error", "discarding", "missing"} {
			if strings.Contains(ll, s) {
				bad = append(bad, strings.TrimSpace(l))
				break
			}
		}
	}
	return bad
}

func TestInteropFFmpegPublishAndPlay(t *testing.T) {
	requireInterop(t)
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"plain", nil},
		// 20000 s puts every timestamp past 0xFFFFFF ms (4 h 39 m): the
		// extended timestamp on every chunk, both directions.
		{"extended timestamps", []string{"-output_ts_offset", "20000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := startServer(t, ServerConfig{}, hub.Config{})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			url := env.url + "/cam1"
			args := []string{"-hide_banner", "-loglevel", "warning", "-re",
				"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
				"-f", "lavfi", "-i", "sine",
				"-c:v", "libx264", "-g", "60", "-bf", "2", "-c:a", "aac", "-t", "10"}
			args = append(args, tc.extra...)
			args = append(args, "-f", "flv", url)
			pubWait := run(t, ctx, "ffmpeg", args...)
			require.NoError(t, env.hub.WaitStream(ctx, "live/cam1"))
			started := time.Now()

			probeWait := run(t, ctx, "ffprobe", "-hide_banner", "-v", "warning",
				"-show_entries", "stream=codec_type,codec_name,width,height,sample_rate", "-of", "compact", url)
			playWait := run(t, ctx, "ffmpeg", "-hide_banner", "-loglevel", "warning", "-i", url,
				"-map", "0", "-c", "copy", "-f", "null", "-")
			// Our own client plays alongside.
			// A generous read timeout: x264 on a loaded machine can take
			// seconds before its first frame.
			own, err := Dial(ctx, env.url, ClientConfig{Timeout: 30 * time.Second})
			require.NoError(t, err)
			defer own.Close()
			require.NoError(t, own.Play(ctx, "cam1"))
			var kinds [4]int
			var lastDTS [4]int64
			backwards := 0
			for {
				p, err := own.ReadPacket()
				if err != nil {
					t.Logf("own player: read ended: %v", err)
					break
				}
				kinds[p.Kind]++
				if p.IsMedia() && kinds[p.Kind] > 1 && p.DTS < lastDTS[p.Kind] {
					backwards++
				}
				lastDTS[p.Kind] = p.DTS
			}

			pubOut, pubErr := pubWait()
			probeOut, probeErr := probeWait()
			playOut, playErr := playWait()
			t.Logf("publisher (%v): %s", pubErr, pubOut)
			t.Logf("ffprobe (%v): %s", probeErr, probeOut)
			t.Logf("ffmpeg player (%v): %s", playErr, playOut)
			t.Logf("own player: video %d audio %d data %d, DTS steps back %d, %s after live",
				kinds[av.KindVideo], kinds[av.KindAudio], kinds[av.KindData], backwards, time.Since(started).Round(time.Millisecond))
			require.NoError(t, pubErr)
			require.NoError(t, probeErr)
			require.NoError(t, playErr)
			require.Empty(t, badLines(pubOut))
			require.Empty(t, badLines(playOut))
			require.Contains(t, probeOut, "codec_name=h264|codec_type=video")
			require.Contains(t, probeOut, "codec_name=aac|codec_type=audio")
			require.Greater(t, kinds[av.KindVideo], 250)
			require.Greater(t, kinds[av.KindAudio], 350)
			require.Zero(t, backwards)
		})
	}
}

// TestInteropClientToFFmpegListen: our client publishes to and plays from
// `ffmpeg -listen 1` (the relay issue's peers).
func TestInteropClientToFFmpegListen(t *testing.T) {
	requireInterop(t)
	port := freeTCPPort(t)
	url := fmt.Sprintf("rtmp://127.0.0.1:%d/live/x", port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("publish", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.flv")
		wait := run(t, ctx, "ffmpeg", "-hide_banner", "-loglevel", "warning", "-listen", "1", "-i", url, "-c", "copy", "-y", out)
		c := dialRetryRTMP(t, ctx, fmt.Sprintf("rtmp://127.0.0.1:%d/live", port))
		require.NoError(t, c.Publish(ctx, "x"))
		// A real H.264/AAC file, so ffmpeg has nothing to complain about
		// but the transport.
		const fixture = "../../media/h264_aac_gop2s.flv"
		pkts := mediatest.LoadFLV(t, fixture)
		for _, p := range pkts {
			require.NoError(t, c.WritePacket(p))
		}
		require.NoError(t, c.Close())
		ffOut, err := wait()
		t.Logf("ffmpeg -listen (%v): %s", err, ffOut)
		require.NoError(t, err)
		probe, err := exec.CommandContext(ctx, "ffprobe", "-v", "fatal", "-count_packets",
			"-show_entries", "stream=codec_type,codec_name,nb_read_packets", "-of", "compact", out).CombinedOutput()
		t.Logf("ffprobe out.flv: %s", probe)
		require.NoError(t, err)
		// ffmpeg -listen reports any publisher disconnect as EIO (it does
		// the same with an ffmpeg publisher): not a transport problem.
		for _, l := range badLines(ffOut) {
			require.Contains(t, l, "Input/output error")
		}
		// Every packet arrived: the same counts as ffprobe reads from the
		// fixture itself.
		want, err := exec.CommandContext(ctx, "ffprobe", "-v", "fatal", "-count_packets",
			"-show_entries", "stream=codec_type,codec_name,nb_read_packets", "-of", "compact", fixture).CombinedOutput()
		require.NoError(t, err)
		require.Equal(t, string(want), string(probe))
	})

	t.Run("play", func(t *testing.T) {
		wait := run(t, ctx, "ffmpeg", "-hide_banner", "-loglevel", "warning", "-re",
			"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine",
			"-c:v", "libx264", "-g", "50", "-c:a", "aac", "-t", "4", "-f", "flv", "-listen", "1", url)
		c := dialRetryRTMP(t, ctx, fmt.Sprintf("rtmp://127.0.0.1:%d/live", port))
		require.NoError(t, c.Play(ctx, "x"))
		var kinds [4]int
		var headers int
		for {
			p, err := c.ReadPacket()
			if err != nil {
				t.Logf("read ended: %v", err)
				break
			}
			kinds[p.Kind]++
			if p.Header {
				headers++
			}
		}
		c.Close()
		ffOut, err := wait()
		t.Logf("ffmpeg -listen server (%v): %s", err, ffOut)
		t.Logf("own player: video %d audio %d data %d headers %d", kinds[av.KindVideo], kinds[av.KindAudio], kinds[av.KindData], headers)
		require.Greater(t, kinds[av.KindVideo], 50)
		require.Greater(t, kinds[av.KindAudio], 50)
		require.Equal(t, 2, headers)
	})
}

func freeTCPPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// dialRetryRTMP dials until the ffmpeg listener is up.
func dialRetryRTMP(t *testing.T, ctx context.Context, url string) *ClientConn {
	t.Helper()
	for {
		c, err := Dial(ctx, url, ClientConfig{Timeout: 10 * time.Second})
		if err == nil {
			return c
		}
		select {
		case <-ctx.Done():
			t.Fatalf("dial %s: %v", url, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
