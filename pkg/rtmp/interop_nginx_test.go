package rtmp

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// Interop with nginx-rtmp (libnginx-mod-rtmp) and rtmpdump (librtmp 2.4),
// run only with RIPPLE_INTEROP=1 and when they are installed.

const nginxRTMPModule = "/usr/lib/nginx/modules/ngx_rtmp_module.so"

// startNginx runs nginx-rtmp on a free port with app "live" (plain live),
// "push" (relays every publish to pushTo) and "pull" (pulls from pullFrom
// on the first player). It returns nginx's rtmp://host:port.
func startNginx(t *testing.T, ctx context.Context, pushTo, pullFrom string) string {
	t.Helper()
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Skip("nginx not installed")
	}
	if _, err := os.Stat(nginxRTMPModule); err != nil {
		t.Skip("libnginx-mod-rtmp not installed")
	}
	dir := t.TempDir()
	port := freeTCPPort(t)
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
    application push { live on; push %[4]s; }
    application pull { live on; pull %[5]s; }
  }
}
`, dir, nginxRTMPModule, port, pushTo, pullFrom)
	path := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o644))
	run(t, ctx, "nginx", "-p", dir, "-c", path)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error.log:\n%s", b)
		}
	})
	return fmt.Sprintf("rtmp://127.0.0.1:%d", port)
}

// pipeThrough publishes packets with one client and checks that a player
// on playURL receives (nearly) all of them. ready, if set, blocks until the
// path between them is established (nginx pulls only on the first player).
func pipeThrough(t *testing.T, ctx context.Context, pubURL, playURL, name string, ready func()) {
	t.Helper()
	gen := newGen()
	sent := append(gen.Headers(), gen.Packets(150)...)
	pub := dialRetryRTMP(t, ctx, pubURL)
	defer pub.Close()
	require.NoError(t, pub.Publish(ctx, name))
	play := dialRetryRTMP(t, ctx, playURL)
	defer play.Close()
	require.NoError(t, play.Play(ctx, name))
	if ready != nil {
		ready()
	}
	for _, p := range sent {
		require.NoError(t, pub.WritePacket(p))
	}
	// nginx forwards what arrives after the player joined, but always
	// starts it with the metadata and sequence headers it cached.
	var got []*av.Packet
	for len(got) < len(sent) {
		p, err := play.ReadPacket()
		require.NoError(t, err, "after %d packets", len(got))
		got = append(got, p)
		if p.Kind == av.KindVideo && !p.Header && p.DTS == sent[len(sent)-1].DTS {
			break
		}
	}
	var media int
	for _, p := range got {
		if p.IsMedia() && !p.Header {
			media++
		}
	}
	t.Logf("%s → %s: %d packets, %d media of %d sent", pubURL, playURL, len(got), media, len(sent)-3)
	require.Greater(t, media, (len(sent)-3)*9/10)
}

func TestInteropNginx(t *testing.T) {
	requireInterop(t)
	env := startServer(t, ServerConfig{}, hub.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ngx := startNginx(t, ctx, "rtmp://"+env.addr+"/live", "rtmp://"+env.addr+"/live")

	t.Run("our client publishes to and plays from nginx", func(t *testing.T) {
		pipeThrough(t, ctx, ngx+"/live", ngx+"/live", "a", nil)
	})
	t.Run("second publisher gets BadName from nginx", func(t *testing.T) {
		first := dialRetryRTMP(t, ctx, ngx+"/live")
		defer first.Close()
		require.NoError(t, first.Publish(ctx, "busy"))
		second := dialRetryRTMP(t, ctx, ngx+"/live")
		defer second.Close()
		err := second.Publish(ctx, "busy")
		var se *StatusError
		require.ErrorAs(t, err, &se)
		t.Logf("nginx said: %v", err)
		require.Equal(t, codePublishBadName, se.Code)
	})
	t.Run("nginx push relays into ripple", func(t *testing.T) {
		pipeThrough(t, ctx, ngx+"/push", "rtmp://"+env.addr+"/live", "b", nil)
	})
	t.Run("nginx pull plays from ripple", func(t *testing.T) {
		pipeThrough(t, ctx, "rtmp://"+env.addr+"/live", ngx+"/pull", "c", func() {
			require.Eventually(t, func() bool {
				info, ok := env.hub.Stream("live/c")
				return ok && info.Readers == 1
			}, 10*time.Second, 10*time.Millisecond, "nginx never pulled")
		})
	})
}

// TestInteropRtmpdump plays from our server with librtmp (plain handshake,
// SetBufferLength after play, Play.Start before any media).
func TestInteropRtmpdump(t *testing.T) {
	requireInterop(t)
	if _, err := exec.LookPath("rtmpdump"); err != nil {
		t.Skip("rtmpdump not installed")
	}
	env := startServer(t, ServerConfig{}, hub.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const fixture = "../../media/h264_aac_gop2s.flv"
	pkts := mediatest.LoadFLV(t, fixture)
	pub := env.publisher(t, "cam1")
	// Headers and the first GOP before the player arrives (late joiner),
	// the rest after.
	split := 0
	for i, p := range pkts {
		if i > 3 && p.Keyframe {
			split = i
			break
		}
	}
	for _, p := range pkts[:split] {
		require.NoError(t, pub.WritePacket(p))
	}
	out := filepath.Join(t.TempDir(), "dump.flv")
	wait := run(t, ctx, "rtmpdump", "-v", "-r", env.url+"/cam1", "-o", out)
	require.Eventually(t, func() bool {
		info, ok := env.hub.Stream("live/cam1")
		return ok && info.Readers == 1
	}, 10*time.Second, 10*time.Millisecond)
	for _, p := range pkts[split:] {
		require.NoError(t, pub.WritePacket(p))
	}
	require.NoError(t, pub.Close())
	dumpOut, err := wait()
	// Exit status 2 is rtmpdump's "download may be incomplete": normal
	// for a live stream.
	t.Logf("rtmpdump (%v): %s", err, dumpOut)
	require.NotContains(t, dumpOut, "ERROR")
	require.NotContains(t, dumpOut, "before play()")
	require.Contains(t, dumpOut, "Starting Live Stream")
	probe, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-count_packets",
		"-show_entries", "stream=codec_type,codec_name,nb_read_packets", "-of", "compact", out).CombinedOutput()
	t.Logf("ffprobe dump.flv: %s", probe)
	require.NoError(t, err)
	require.Contains(t, string(probe), "codec_name=h264|codec_type=video")
	require.Contains(t, string(probe), "codec_name=aac|codec_type=audio")
}
