package metrics

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	dto "github.com/prometheus/client_model/go"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// scrape GETs /metrics from a real HTTP server and parses the text format.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// value finds the sample of family name whose labels are exactly labels.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	require.True(t, ok, "no family %s", name)
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if len(got) != len(labels) {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && got[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

func TestScrape(t *testing.T) {
	h := hub.New(hub.Config{Validator: func() hub.PacketValidator { return rejectTagged{} }})
	defer h.Close()
	p, err := h.Publish("live/a/cam", hub.PublisherInfo{Protocol: "rtmp", RemoteAddr: "10.0.0.1:1"})
	require.NoError(t, err)
	r1, err := h.Subscribe("live/a/cam", hub.ReaderInfo{Protocol: "rtmp", RemoteAddr: "10.0.0.2:2"})
	require.NoError(t, err)
	defer r1.Close()
	r2, err := h.Subscribe("live/a/cam", hub.ReaderInfo{Protocol: "http-flv", RemoteAddr: "10.0.0.3:3"})
	require.NoError(t, err)
	defer r2.Close()
	r3, err := h.Subscribe("live/a/cam", hub.ReaderInfo{Protocol: "http-flv", RemoteAddr: "10.0.0.4:4"})
	require.NoError(t, err)
	defer r3.Close()

	g := mediatest.New(mediatest.Config{FPS: 30, GOP: 60})
	for _, pk := range append(g.Headers(), g.Packets(300)...) {
		require.NoError(t, p.WritePacket(pk))
	}
	for range 2 {
		require.NoError(t, p.WritePacket(&av.Packet{Kind: av.KindData, Data: []byte("invalid")}))
	}
	r1.AddBytes(100)
	r2.AddBytes(20)
	r3.AddBytes(3)
	st, _ := h.Stream("live/a/cam")

	c := NewCollector(Config{
		Rate: func(key string) (float64, float64, bool) {
			return 2_500_000, 30, key == "live/a/cam"
		},
		Connections: func() map[string]int { return map[string]int{"rtmp": 4, "http": 2} },
		Relays: func() []Relay {
			return []Relay{
				{Stream: "live/a/cam", Kind: "forward", Live: true, Bytes: 10, Reconnects: 1},
				{Stream: "live/a/cam", Kind: "forward", Live: false, Bytes: 5, Reconnects: 2},
			}
		},
		Panics:     func() []Count { return []Count{{Name: "hls", Value: 2}} },
		Refused:    func() []Refusal { return []Refusal{{Protocol: "http", Reason: "max_connections_per_ip", Count: 7}} },
		Recording:  func() Recording { return Recording{Active: 2, Bytes: 4096, Errors: 1} },
		Thumbnails: func() Thumbnails { return Thumbnails{Decodes: 5, Failures: 1, CacheHits: 9} },
		Transcode: func() []Transcode {
			return []Transcode{{Stream: "live/a/cam", Running: true, Restarts: 2, Speed: 1.25}}
		},
		Cluster: func() Cluster {
			return Cluster{Up: true, RemotePulls: 3, Claims: []Count{{Name: "claimed", Value: 4}},
				Ops: []ClusterOp{{Op: "claim", Count: 6, Sum: 0.012, Buckets: map[float64]uint64{0.001: 2, 0.005: 6}, Errors: 1}}}
		},
	}, h)
	fams := scrape(t, Handler(c))

	stream := map[string]string{"app": "live/a", "stream": "cam"}
	proto := func(p string) map[string]string {
		return map[string]string{"app": "live/a", "stream": "cam", "protocol": p}
	}
	cases := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ripple_streams", nil, 1},
		{"ripple_players", nil, 3},
		{"ripple_received_bytes_total", nil, float64(st.BytesIn)},
		{"ripple_sent_bytes_total", nil, 123},
		{"ripple_connections", map[string]string{"protocol": "rtmp"}, 4},
		{"ripple_connections", map[string]string{"protocol": "http"}, 2},
		{"ripple_stream_publishing", stream, 1},
		{"ripple_stream_received_bytes_total", stream, float64(st.BytesIn)},
		{"ripple_stream_ingest_bitrate_bits_per_second", stream, 2_500_000},
		{"ripple_stream_ingest_fps", stream, 30},
		{"ripple_stream_gop_frames", stream, 60},
		{"ripple_stream_gop_seconds", stream, 2},
		{"ripple_stream_dropped_packets_total", stream, float64(st.Dropped)},
		{"ripple_stream_evictions_total", stream, 0},
		{"ripple_stream_timestamp_corrections_total", stream, float64(st.TimestampFixes)},
		{"ripple_stream_players", proto("rtmp"), 1},
		{"ripple_stream_players", proto("http-flv"), 2},
		{"ripple_stream_sent_bytes_total", proto("rtmp"), 100},
		{"ripple_stream_sent_bytes_total", proto("http-flv"), 23},
		{"ripple_relays", proto("forward"), 2},
		{"ripple_relays_live", proto("forward"), 1},
		{"ripple_relay_bytes_total", proto("forward"), 15},
		{"ripple_relay_reconnects_total", proto("forward"), 3},
		{"ripple_stream_invalid_packets_total", stream, 2},
		{"ripple_panics_total", map[string]string{"component": "hls"}, 2},
		{"ripple_connections_refused_total", map[string]string{"protocol": "http", "reason": "max_connections_per_ip"}, 7},
		{"ripple_recordings_active", nil, 2},
		{"ripple_recording_bytes_total", nil, 4096},
		{"ripple_recording_errors_total", nil, 1},
		{"ripple_thumbnail_decodes_total", nil, 5},
		{"ripple_thumbnail_failures_total", nil, 1},
		{"ripple_thumbnail_cache_hits_total", nil, 9},
		{"ripple_transcode_running", stream, 1},
		{"ripple_transcode_restarts_total", stream, 2},
		{"ripple_transcode_speed", stream, 1.25},
		{"ripple_cluster_registry_up", nil, 1},
		{"ripple_cluster_remote_pulls", nil, 3},
		{"ripple_cluster_claims_total", map[string]string{"result": "claimed"}, 4},
		{"ripple_cluster_registry_errors_total", map[string]string{"op": "claim"}, 1},
		{"ripple_cluster_registry_seconds", map[string]string{"op": "claim"}, 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, value(t, fams, tc.name, tc.labels))
		})
	}
	require.Positive(t, value(t, fams, "ripple_stream_uptime_seconds", stream))
	require.Contains(t, fams, "go_goroutines", "Go collector")
	require.Contains(t, fams, "process_cpu_seconds_total", "process collector")
	require.Equal(t, dto.MetricType_COUNTER, fams["ripple_stream_sent_bytes_total"].GetType())
	require.Equal(t, dto.MetricType_GAUGE, fams["ripple_stream_players"].GetType())
}

// rejectTagged is a hub.PacketValidator that rejects the script packets
// reading "invalid".
type rejectTagged struct{}

func (rejectTagged) Check(p *av.Packet) error {
	if string(p.Data) == "invalid" {
		return errors.New("invalid")
	}
	return nil
}

func TestScrapeEmptyHub(t *testing.T) {
	h := hub.New(hub.Config{})
	defer h.Close()
	fams := scrape(t, Handler(NewCollector(Config{}, h)))
	require.Equal(t, 0.0, value(t, fams, "ripple_streams", nil))
	require.NotContains(t, fams, "ripple_stream_players", "no per-stream series without streams")
}

// TestScrapePlayers: with Config.Players, the player gauges are its counts
// (HLS viewers from requests), not the hub's readers; a reader protocol with
// no players reports 0.
func TestScrapePlayers(t *testing.T) {
	h := hub.New(hub.Config{})
	defer h.Close()
	p, err := h.Publish("live/cam", hub.PublisherInfo{Protocol: "rtmp"})
	require.NoError(t, err)
	defer p.Close()
	for _, proto := range []string{"rtmp", "hls", "record"} {
		r, err := h.Subscribe("live/cam", hub.ReaderInfo{Protocol: proto})
		require.NoError(t, err)
		defer r.Close()
	}
	c := NewCollector(Config{Players: func(*hub.StreamInfo) (int, map[string]int) {
		return 6, map[string]int{"rtmp": 1, "hls": 5}
	}}, h)
	fams := scrape(t, Handler(c))
	proto := func(p string) map[string]string {
		return map[string]string{"app": "live", "stream": "cam", "protocol": p}
	}
	require.Equal(t, 6.0, value(t, fams, "ripple_players", nil))
	require.Equal(t, 1.0, value(t, fams, "ripple_stream_players", proto("rtmp")))
	require.Equal(t, 5.0, value(t, fams, "ripple_stream_players", proto("hls")))
	require.Equal(t, 0.0, value(t, fams, "ripple_stream_players", proto("record")))

	// Players of a protocol the stream has no reader of (HLS viewers
	// inside their window after an on-demand muxer idled out) are reported
	// too.
	c = NewCollector(Config{Players: func(*hub.StreamInfo) (int, map[string]int) {
		return 2, map[string]int{"ws-flv": 2}
	}}, h)
	fams = scrape(t, Handler(c))
	require.Equal(t, 2.0, value(t, fams, "ripple_stream_players", proto("ws-flv")))
}
