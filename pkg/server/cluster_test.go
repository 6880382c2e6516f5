package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/internal/redistest"
)

func clusterConfig(t *testing.T, redisURL, id string) config.Config {
	cfg := testConfig(t)
	cfg.Cluster.RedisURL = redisURL
	cfg.Cluster.NodeID = id
	cfg.Cluster.Lease = 3 * time.Second
	return cfg
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestClusterPlayAnywhere runs two nodes on one real Redis: a stream
// published on a plays from b (one pull), b cannot publish it too, and
// both show the cluster in the API and the metrics.
func TestClusterPlayAnywhere(t *testing.T) {
	rs := redistest.Start(t)
	a := start(t, clusterConfig(t, rs.URL, "node-a"))
	b := start(t, clusterConfig(t, rs.URL, "node-b"))
	for _, n := range []*running{a, b} {
		require.Eventually(t, func() bool { code, _ := getBody(t, n.url("/readyz")); return code == http.StatusOK },
			waitTimeout, 10*time.Millisecond, "ready once the registry answered")
	}
	pub, _, err := publish(t, a, "live", "cam1")
	require.NoError(t, err)
	defer pub.Close()

	// Played on b: pulled from a over HTTP-FLV.
	resp, err := http.Get(b.url("/live/cam1.flv"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	head := make([]byte, 13)
	_, err = io.ReadFull(resp.Body, head)
	require.NoError(t, err)
	require.Equal(t, "FLV", string(head[:3]))
	require.Contains(t, b.logs.String(), "stream="+"live/cam1")

	// A second publisher of the key on b is refused: a is alive.
	_, _, err = publish(t, b, "live", "cam1")
	require.Error(t, err)
	require.Contains(t, err.Error(), `node "node-a"`)

	var view struct {
		Enabled bool `json:"enabled"`
		Cluster struct {
			Node    string                `json:"node"`
			Up      bool                  `json:"registry_up"`
			Nodes   []struct{ ID string } `json:"nodes"`
			Streams []struct {
				Key, Node string
				PulledBy  []string `json:"pulled_by"`
			} `json:"streams"`
		} `json:"cluster"`
	}
	require.Eventually(t, func() bool {
		_, body := getBody(t, b.url("/api/v1/cluster"))
		require.NoError(t, json.Unmarshal([]byte(body), &view))
		return len(view.Cluster.Streams) == 1 && len(view.Cluster.Streams[0].PulledBy) == 1
	}, waitTimeout, 50*time.Millisecond, "the cluster view shows the stream on a, pulled by b")
	require.True(t, view.Enabled)
	require.Equal(t, "node-b", view.Cluster.Node)
	require.True(t, view.Cluster.Up)
	require.Len(t, view.Cluster.Nodes, 2)
	require.Equal(t, "live/cam1", view.Cluster.Streams[0].Key)
	require.Equal(t, "node-a", view.Cluster.Streams[0].Node)
	require.Equal(t, []string{"node-b"}, view.Cluster.Streams[0].PulledBy)

	_, metrics := getBody(t, b.url("/metrics"))
	require.Contains(t, metrics, "ripple_cluster_registry_up 1")
	require.Contains(t, metrics, "ripple_cluster_remote_pulls 1")
	_, metrics = getBody(t, a.url("/metrics"))
	require.Contains(t, metrics, `ripple_cluster_claims_total{result="claimed"} 1`)

	// A key no node has: a clean 404 at once.
	code, _ := getBody(t, b.url("/live/none.flv"))
	require.Equal(t, http.StatusNotFound, code)
}

// TestClusterRegistryDown: a node whose Redis does not answer is not
// ready, takes local publishes, and refuses remote plays with a reason.
func TestClusterRegistryDown(t *testing.T) {
	rs := redistest.Start(t)
	rs.Kill()
	n := start(t, clusterConfig(t, rs.URL, "lonely"))
	code, body := getBody(t, n.url("/readyz"))
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "cluster registry not reached yet\n", body)

	pub, _, err := publish(t, n, "live", "local")
	require.NoError(t, err, "local publishes go on without the registry")
	defer pub.Close()
	resp, err := http.Get(n.url("/live/local.flv"))
	require.NoError(t, err)
	resp.Body.Close() // endless: the status is all this needs
	require.Equal(t, http.StatusOK, resp.StatusCode, "and so does their local play")

	code, body = getBody(t, n.url("/live/elsewhere.flv"))
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.True(t, strings.Contains(body, "cluster registry unavailable"), body)
	code, body = getBody(t, n.url("/live/elsewhere.m3u8"))
	require.Equal(t, http.StatusServiceUnavailable, code, body)

	_, metrics := getBody(t, n.url("/metrics"))
	require.Contains(t, metrics, "ripple_cluster_registry_up 0")
	require.Contains(t, metrics, `ripple_cluster_claims_total{result="unregistered"} 1`)
}

// A ladder without ffmpeg is a start error naming the key, never a crash.
func TestTranscodeNeedsFFmpeg(t *testing.T) {
	cfg := testConfig(t)
	cfg.Transcode.FFmpeg = "/nonexistent/ffmpeg"
	cfg.Apps = map[string]config.App{"live": {Transcode: []config.TranscodeRung{{Name: "360p", Video: "-c:v libx264", Audio: "copy"}}}}
	_, err := New(cfg, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "transcode.ffmpeg")
	require.Contains(t, err.Error(), "[live]")
}
