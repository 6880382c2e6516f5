//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/internal/redistest"
)

// clusterLease is short so that the pause test passes a lease in seconds.
const clusterLease = 3 * time.Second

// clusterYAML is one node's config: the shared Redis, its name, a grace
// long enough for a publisher to come back through "the load balancer" (a
// new ffmpeg to another node), and a takeover app.
func clusterYAML(redisURL, id string) string {
	return fmt.Sprintf(`cluster:
  redis_url: %s
  node_id: %s
  lease: %s
hub:
  reconnect_grace: 20s
relay:
  timeout: 3s
apps:
  tk:
    publish_policy: takeover
`, redisURL, id, clusterLease)
}

func startClusterNode(t *testing.T, redisURL, id string, mayDie bool) *server {
	t.Helper()
	s := startWithConfig(t, id, clusterYAML(redisURL, id), mayDie, "RIPPLE_RTMP_PLAY_WAIT=5s")
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for readyz(s) != 200 {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s not ready (registry) within 20s", id)
		}
	}
	return s
}

// clusterView is GET /api/v1/cluster.
type clusterView struct {
	Enabled bool   `json:"enabled"`
	Error   string `json:"error"`
	Cluster struct {
		Node  string `json:"node"`
		Up    bool   `json:"registry_up"`
		Nodes []struct {
			ID    string   `json:"id"`
			Pulls []string `json:"pulls"`
		} `json:"nodes"`
		Streams []struct {
			Key      string   `json:"key"`
			Node     string   `json:"node"`
			Epoch    int64    `json:"epoch"`
			Idle     bool     `json:"idle"`
			PulledBy []string `json:"pulled_by"`
		} `json:"streams"`
	} `json:"cluster"`
}

func (v clusterView) owner(key string) (node string, epoch int64, pulledBy []string) {
	for _, s := range v.Cluster.Streams {
		if s.Key == key {
			return s.Node, s.Epoch, s.PulledBy
		}
	}
	return "", 0, nil
}

// waitOwner polls a node's cluster view until key is owned by want.
func waitOwner(t *testing.T, s *server, key, want string, timeout time.Duration) clusterView {
	t.Helper()
	return pollAPI(t, s, "/api/v1/cluster", timeout, func(v clusterView) bool {
		o, _, _ := v.owner(key)
		return o == want
	})
}

// grab plays url with ffmpeg for d and probes what it wrote (mpegts keeps
// HLS's ADTS audio as it is). Safe on any goroutine: it only returns errors.
func grab(ctx context.Context, dir, name, url string, d time.Duration) (probe, error) {
	out := filepath.Join(dir, name+".ts")
	args := append(append([]string{}, ffmpegBase...), "-i", url, "-t", fmt.Sprint(d.Seconds()), "-c", "copy",
		"-f", "mpegts", "-y", out)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if b, err := exec.CommandContext(ctx, ffmpegBin, args...).CombinedOutput(); err != nil {
		return probe{}, fmt.Errorf("%s: ffmpeg: %w: %s", name, err, b)
	}
	return runProbe(ctx, out)
}

// publishEncoder publishes a live encode of a test pattern (tinted by hue
// degrees): unlike a looping clip, an encoder that reconnects never sends
// frames a player already got, so the splice cannot take its first frames
// for a copy of recent ones.
func publishEncoder(t *testing.T, s *server, key string, hue int) *proc {
	t.Helper()
	args := append(append([]string{}, ffmpegBase...), "-re",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=320x240:rate=25,hue=h=%d", hue),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "64k", "-f", "flv", s.rtmpURL(key))
	return startProc(t, "encoder "+key+" to "+s.name, ffmpegBin, args, nil)
}

func requireAV(t *testing.T, what string, got probe, minVideo int) {
	t.Helper()
	v, okV := got.stream("video")
	_, okA := got.stream("audio")
	require.True(t, okV && okA, "%s: video and audio (%+v)", what, got.Streams)
	require.Equal(t, "h264", v.CodecName, what)
	require.GreaterOrEqual(t, len(got.packets("video")), minVideo, "%s: video frames", what)
}

// TestCluster runs three Ripple nodes on one real redis-server, as behind a
// TCP load balancer: a stream published on one plays on every node over
// RTMP, HTTP-FLV and HLS (one upstream pull per node, however many
// players); a second publisher elsewhere is refused, or takes over under
// that policy; Redis dies and comes back; the owner is paused past its
// lease and killed, the publisher reconnecting to another node each time,
// while a player on a third node keeps receiving frames on one connection.
func TestCluster(t *testing.T) {
	t.Parallel()
	const key = "live/cl"
	clip := mediaPath(t, "h264_aac_gop1s.mp4")
	rs := redistest.Start(t)
	a := startClusterNode(t, rs.URL, "node-a", true)
	b := startClusterNode(t, rs.URL, "node-b", true)
	c := startClusterNode(t, rs.URL, "node-c", false)

	pubA := publishForever(t, a, key, clip)
	a.waitLive(t, key, pubA)
	waitOwner(t, c, key, "node-a", 10*time.Second)

	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	// The Go players measure: one on the origin, one on node C through
	// the pull. The ffmpeg player on C must never reconnect.
	onA := playGo(ctx, a.rtmpURL(key))
	onC := playGo(ctx, c.rtmpURL(key))
	require.NoError(t, onC.waitFrames(30*time.Second, 50), "frames on node C")
	require.NoError(t, onA.waitFrames(30*time.Second, 50), "frames on node A")
	ffOnC := playToFile(t, "ffmpeg player on C", c.rtmpURL(key), tempFile(t, "c.flv"))

	t.Run("play_anywhere", func(t *testing.T) {
		var wg sync.WaitGroup
		type grabbed struct {
			p   probe
			err error
		}
		got := map[string]grabbed{}
		var mu sync.Mutex
		dir := t.TempDir()
		for name, url := range map[string]string{
			"b_rtmp": b.rtmpURL(key), "b_httpflv": b.flvURL(key), "b_hls": "http://" + b.HTTPAddr + "/" + key + ".m3u8",
			"c_httpflv": c.flvURL(key), "c_hls": "http://" + c.HTTPAddr + "/" + key + ".m3u8",
		} {
			wg.Go(func() {
				p, err := grab(ctx, dir, name, url, 4*time.Second)
				mu.Lock()
				got[name] = grabbed{p, err}
				mu.Unlock()
			})
		}
		// 50 more HTTP-FLV players on C share its one pull.
		errs := make(chan error, 50)
		for range 50 {
			wg.Go(func() { errs <- readFLVBytes(ctx, c.flvURL(key), 256<<10) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err, "one of 50 players on C")
		}
		for name, g := range got {
			require.NoError(t, g.err, name)
			requireAV(t, name, g.p, 60)
		}
		// One upstream connection per node: A's only HTTP-FLV players are
		// the pulls of B and C.
		var st struct {
			ByProtocol map[string]int `json:"players_by_protocol"`
		}
		a.apiGet(t, "/api/v1/streams/"+key, &st) //nolint:contextcheck // bounded by its own timeout
		assert.Equal(t, 2, st.ByProtocol["http-flv"], "HTTP-FLV players on the origin: %v", st.ByProtocol)
		// One upstream pull per node: A serves exactly two node pulls.
		v := waitOwner(t, a, key, "node-a", 5*time.Second) //nolint:contextcheck // bounded by its own timeout
		_, _, pulled := v.owner(key)
		assert.ElementsMatch(t, []string{"node-b", "node-c"}, pulled, "nodes pulling the stream")
		// A key no node has: a clean "not found", at once over HTTP.
		began := time.Now()
		code, _ := httpStatus(t, c.flvURL("live/nowhere"), "") //nolint:contextcheck // bounded by its own timeout
		assert.Equal(t, 404, code)
		assert.Less(t, time.Since(began), 2*time.Second, "not found without waiting for a pull")
		lat := hopLatency(onA.snapshot(), onC.snapshot())
		require.NotEmpty(t, lat)
		t.Logf("CLUSTER HOP: origin A → node C (HTTP-FLV pull) → RTMP player: p50 %s, p95 %s over %d frames",
			percentile(lat, 50).Round(time.Millisecond), percentile(lat, 95).Round(time.Millisecond), len(lat))
	})

	t.Run("second_publisher", func(t *testing.T) {
		// Reject (the default): a live owner keeps its stream.
		from := b.out.len()
		dup := publishForever(t, b, key, clip)
		require.Error(t, dup.wait(30*time.Second), "the second publisher on B must be refused")
		b.logLine(t, 5*time.Second, from, `stream claimed by another node`)
		waitOwner(t, c, key, "node-a", time.Second)

		// Takeover: the new publisher wins and the old owner ends its own.
		const tk = "tk/cl"
		old := publishForever(t, a, tk, clip)
		a.waitLive(t, tk, old)
		waitOwner(t, c, tk, "node-a", 10*time.Second)
		taker := publishForever(t, b, tk, clip)
		waitOwner(t, c, tk, "node-b", 20*time.Second)
		require.Error(t, old.wait(20*time.Second), "node A ends the publisher it no longer owns")
		require.False(t, taker.exited(), "the publisher that took over goes on: %v", taker.result())
		taker.kill()
	})

	t.Run("redis_restart", func(t *testing.T) {
		before := onC.count()
		rs.Kill()
		pollAPI(t, c, "/api/v1/cluster", 10*time.Second, func(v clusterView) bool { return !v.Cluster.Up })
		// A node keeps serving what it has: C's pull from A needs no
		// registry, nor does A's own player.
		require.NoError(t, onC.waitFrames(15*time.Second, before+50), "C's player while Redis is down")
		require.NoError(t, onA.waitFrames(15*time.Second, onA.count()+25), "A's player while Redis is down")
		code, _ := httpStatus(t, b.flvURL("live/elsewhere"), "")
		assert.Equal(t, 503, code, "a lookup while the registry is down is refused with a reason")
		rs.Restart(t) // empty: no persistence
		waitOwner(t, c, key, "node-a", 15*time.Second)
	})

	// The player on C watches the owner change twice; each gap is measured
	// between the last frame before the failure and the first after.
	measure := func(t *testing.T, what string, failed time.Time) {
		require.NoError(t, onC.waitFrames(45*time.Second, onC.count()+100), "C's player after the %s", what)
		gap, at := longestGap(onC.snapshot(), failed.Add(-time.Second), time.Now())
		t.Logf("CLUSTER FAILOVER (%s): longest gap between frames at the player on node C: %s (starting %s after the failure)",
			what, gap.Round(time.Millisecond), at.Sub(failed).Round(time.Millisecond))
		assert.Less(t, gap, 15*time.Second)
		require.False(t, ffOnC.exited(), "the ffmpeg player on C must not notice: %v", ffOnC.result())
	}

	var pubB *proc
	tt := t
	t.Run("sigkill_owner", func(t *testing.T) {
		a.sigkill()
		failed := time.Now()
		pubA.kill()
		// The encoder reconnects through the load balancer, to B.
		// Started on the parent test: it outlives this subtest (the next
		// one pauses B under it).
		pubB = publishEncoder(tt, b, key, 0)
		v := waitOwner(t, c, key, "node-b", 20*time.Second)
		_, epoch, _ := v.owner(key)
		t.Logf("node B owns %s at epoch %d, %s after the kill", key, epoch, time.Since(failed).Round(time.Millisecond))
		measure(t, "kill -9 of the owner", failed)
	})

	t.Run("sigstop_owner", func(t *testing.T) {
		require.NotNil(t, pubB)
		d := startClusterNode(t, rs.URL, "node-d", false)
		require.NoError(t, b.cmd.Process.Signal(syscall.SIGSTOP))
		t.Cleanup(b.sigkill) // SIGKILL ends a stopped process too
		failed := time.Now()
		// B's encoder is stuck; it reconnects to D, which takes the key
		// from an owner that does not answer.
		pubD := publishEncoder(t, d, key, 120)
		waitOwner(t, c, key, "node-d", 20*time.Second)
		measure(t, "SIGSTOP of the owner", failed)
		// Past the lease, B resumes: it must not act as the key's origin.
		time.Sleep(time.Until(failed.Add(clusterLease + time.Second))) // the pause itself is the test
		from := b.out.len()
		require.NoError(t, b.cmd.Process.Signal(syscall.SIGCONT))
		b.logLine(t, 10*time.Second, from, `msg="stream owner changed: claim lost, no longer its origin"`, "stream="+key)
		waitOwner(t, b, key, "node-d", 5*time.Second)
		require.Error(t, pubB.wait(20*time.Second), "B ends the stale publisher it no longer owns")
		require.False(t, pubD.exited(), "D's publisher goes on: %v", pubD.result())
		pubD.kill()
	})
	cancel()
}
