//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The JSON the API returns, as far as these tests look (pkg/api/openapi.yaml).
type apiStream struct {
	Key       string `json:"key"`
	App       string `json:"app"`
	Name      string `json:"name"`
	Publisher *struct {
		Protocol   string `json:"protocol"`
		RemoteAddr string `json:"remote_addr"`
	} `json:"publisher"`
	Video *struct {
		Codec  string  `json:"codec"`
		Width  int     `json:"width"`
		Height int     `json:"height"`
		FPS    float64 `json:"fps"`
	} `json:"video"`
	Audio *struct {
		Codec string `json:"codec"`
	} `json:"audio"`
	IngestBitrate     float64        `json:"ingest_bitrate"`
	UptimeSeconds     float64        `json:"uptime_seconds"`
	PlayersByProtocol map[string]int `json:"players_by_protocol"`
}

type apiClient struct {
	ID         uint64 `json:"id"`
	Protocol   string `json:"protocol"`
	RemoteAddr string `json:"remote_addr"`
	Stream     string `json:"stream"`
	Bytes      uint64 `json:"bytes"`
}

// apiCall does method on the API path and returns status and body.
func (s *server) apiCall(t *testing.T, method, path string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.HTTPAddr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

func (s *server) apiGet(t *testing.T, path string, v any) {
	t.Helper()
	status, b := s.apiCall(t, http.MethodGet, path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

// pollAPI GETs path every 100 ms into v until ok(v) or timeout; the server's
// rates are sampled every api.events_stats_interval, so there is nothing to
// wait on but the API itself.
func pollAPI[T any](t *testing.T, s *server, path string, timeout time.Duration, ok func(T) bool) T {
	t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		// Not found yet (a stream still starting) is not an error here.
		var v T
		status, b := s.apiCall(t, http.MethodGet, path)
		if status == http.StatusOK {
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("GET %s: %v: %s", path, err, b)
			}
			if ok(v) {
				return v
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("GET %s: condition not met within %s; last: %d %s", path, timeout, status, b)
		}
	}
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct{ id, name, data string }

// sseStream reads /api/v1/events in a goroutine and hands the lifecycle
// events (not stats) to the test.
type sseStream struct {
	events chan sseEvent
	stats  chan struct{} // a stats event arrived (non-blocking send)
	seen   []sseEvent    // what next returned, in order
}

func (s *server) openEvents(t *testing.T, lastID string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.HTTPAddr+"/api/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /api/v1/events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	st := &sseStream{events: make(chan sseEvent, 256), stats: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "" && ev.name == "stats":
				select {
				case st.stats <- struct{}{}:
				default:
				}
				ev = sseEvent{}
			case line == "" && ev.name != "":
				st.events <- ev
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return st
}

// next returns the next lifecycle event.
func (st *sseStream) next(t *testing.T) sseEvent {
	t.Helper()
	ev := await(t, "SSE event", st.events, 30*time.Second)
	st.seen = append(st.seen, ev)
	return ev
}

// nextOf returns the next lifecycle event that is not about the HLS
// segmenter (a hub reader of its own that joins and leaves with the stream).
func (st *sseStream) nextOf(t *testing.T) sseEvent {
	t.Helper()
	for {
		ev := st.next(t)
		if !strings.Contains(ev.data, `"protocol":"hls"`) {
			return ev
		}
	}
}

// TestAPI drives the real binary with ffmpeg: the stream list shows what
// ffmpeg publishes, ffmpeg players show up as clients and end when kicked,
// the publisher ends when kicked, /metrics has the stream's series, and the
// SSE stream reports it all in order and resumes from Last-Event-ID.
func TestAPI(t *testing.T) {
	const key = "live/apitest"
	clip := mediaPath(t, "h264_aac_gop2s.mp4")
	src := probeClip(t, clip)
	srcVideo, ok := src.stream("video")
	if !ok {
		t.Fatal("clip has no video")
	}
	s := startServer(t, envGrace+"=0s", "RIPPLE_API_EVENTS_STATS_INTERVAL=500ms")
	events := s.openEvents(t, "")
	await(t, "first stats event", events.stats, 30*time.Second)

	pub := publishLoop(t, s, key, clip)
	s.waitLive(t, key, pub)
	published := events.nextOf(t)
	if published.name != "stream_published" || !strings.Contains(published.data, `"key":"`+key+`"`) {
		t.Fatalf("first event: %+v", published)
	}

	// Rates need a couple of sampling intervals of media.
	streams := pollAPI(t, s, "/api/v1/streams", 30*time.Second, func(v []apiStream) bool {
		return len(v) == 1 && v[0].Video != nil && v[0].Video.FPS > 0 && v[0].IngestBitrate > 0
	})
	st := streams[0]
	if st.Key != key || st.App != "live" || st.Name != "apitest" {
		t.Errorf("stream names: %+v", st)
	}
	if st.Video.Codec != "h264" || st.Audio == nil || st.Audio.Codec != "aac" {
		t.Errorf("codecs: video %+v audio %+v", st.Video, st.Audio)
	}
	if st.Video.Width != srcVideo.Width || st.Video.Height != srcVideo.Height {
		t.Errorf("resolution %dx%d, clip %dx%d", st.Video.Width, st.Video.Height, srcVideo.Width, srcVideo.Height)
	}
	if st.Video.FPS < 10 || st.Video.FPS > 120 {
		t.Errorf("fps %v", st.Video.FPS)
	}
	if st.Publisher == nil || st.Publisher.Protocol != "rtmp" || !strings.HasPrefix(st.Publisher.RemoteAddr, "127.0.0.1:") {
		t.Errorf("publisher %+v", st.Publisher)
	}
	// ffmpeg -re sends the clip at about its own bitrate.
	t.Logf("stream: %dx%d %.2f fps, %.0f kbit/s", st.Video.Width, st.Video.Height, st.Video.FPS, st.IngestBitrate/1000)

	// Two ffmpeg players, RTMP and HTTP-FLV, discarding what they get.
	rtmpPlayer := startProc(t, "rtmp player", ffmpegBin,
		append(append([]string{}, ffmpegBase...), "-i", s.rtmpURL(key), "-c", "copy", "-f", "null", "-"), nil)
	flvPlayer := startProc(t, "http-flv player", ffmpegBin,
		append(append([]string{}, ffmpegBase...), "-i", s.flvURL(key), "-c", "copy", "-f", "null", "-"), nil)
	joined := map[string]bool{}
	for len(joined) < 2 {
		ev := events.nextOf(t)
		if ev.name != "player_joined" {
			t.Fatalf("want player_joined, got %+v", ev)
		}
		var pe struct{ Protocol string }
		_ = json.Unmarshal([]byte(ev.data), &pe)
		joined[pe.Protocol] = true
	}
	if !joined["rtmp"] || !joined["http-flv"] {
		t.Fatalf("joined: %v", joined)
	}
	// Players report their bytes after each write.
	byProto := map[string]apiClient{}
	pollAPI(t, s, "/api/v1/clients", 30*time.Second, func(v []apiClient) bool {
		clear(byProto)
		for _, c := range v {
			byProto[c.Protocol] = c
		}
		return byProto["rtmp"].Bytes > 0 && byProto["http-flv"].Bytes > 0
	})
	for _, proto := range []string{"rtmp", "http-flv"} {
		if c := byProto[proto]; c.Stream != key || !strings.HasPrefix(c.RemoteAddr, "127.0.0.1:") {
			t.Errorf("client %+v", c)
		}
	}

	t.Run("metrics", func(t *testing.T) {
		status, body := s.apiCall(t, http.MethodGet, "/metrics")
		if status != http.StatusOK {
			t.Fatalf("GET /metrics: %d", status)
		}
		text := string(body)
		for _, want := range []string{
			`ripple_stream_players{app="live",protocol="rtmp",stream="apitest"} 1`,
			`ripple_stream_players{app="live",protocol="http-flv",stream="apitest"} 1`,
			`ripple_stream_publishing{app="live",stream="apitest"} 1`,
			`ripple_stream_ingest_bitrate_bits_per_second{app="live",stream="apitest"}`,
			`ripple_stream_received_bytes_total{app="live",stream="apitest"}`,
			`ripple_stream_sent_bytes_total{app="live",protocol="rtmp",stream="apitest"}`,
			"go_goroutines", "process_resident_memory_bytes",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})

	// Kick both players: each ffmpeg ends, and leaves in the event stream.
	for _, c := range []struct {
		proto string
		p     *proc
	}{{"rtmp", rtmpPlayer}, {"http-flv", flvPlayer}} {
		id := byProto[c.proto].ID
		status, body := s.apiCall(t, http.MethodDelete, fmt.Sprintf("/api/v1/clients/%d", id))
		if status != http.StatusNoContent {
			t.Fatalf("kick %s client %d: %d %s", c.proto, id, status, body)
		}
		if err := c.p.wait(30 * time.Second); err != nil && strings.Contains(err.Error(), "still running") {
			t.Fatalf("%s player still running after the kick", c.proto)
		}
		ev := events.nextOf(t)
		if ev.name != "player_left" || !strings.Contains(ev.data, fmt.Sprintf(`"client_id":%d`, id)) {
			t.Fatalf("want player_left of %d, got %+v", id, ev)
		}
	}
	if status, _ := s.apiCall(t, http.MethodDelete, fmt.Sprintf("/api/v1/clients/%d", byProto["rtmp"].ID)); status != http.StatusNotFound {
		t.Errorf("second kick: %d, want 404", status)
	}

	// Kick the publisher: ffmpeg ends, the stream ends (no grace here).
	status, body := s.apiCall(t, http.MethodDelete, "/api/v1/streams/"+key)
	if status != http.StatusNoContent {
		t.Fatalf("kick publisher: %d %s", status, body)
	}
	if err := pub.wait(30 * time.Second); err != nil && strings.Contains(err.Error(), "still running") {
		t.Fatal("publisher still running after the kick")
	}
	for _, want := range []string{"stream_unpublished", "stream_ended"} {
		if ev := events.nextOf(t); ev.name != want {
			t.Fatalf("want %s, got %+v", want, ev)
		}
	}
	if status, _ := s.apiCall(t, http.MethodGet, "/api/v1/streams/"+key); status != http.StatusNotFound {
		t.Errorf("GET kicked stream: %d, want 404", status)
	}

	// A client resuming after stream_published gets the rest: the same
	// events, in the same order, with the same ids.
	resumed := s.openEvents(t, published.id)
	after := events.seen
	for i, ev := range events.seen {
		if ev == published {
			after = events.seen[i+1:]
		}
	}
	for _, want := range after {
		if ev := resumed.next(t); ev != want {
			t.Fatalf("resumed: want %+v, got %+v", want, ev)
		}
	}

	var sum struct {
		Streams  int     `json:"streams"`
		BytesIn  uint64  `json:"bytes_in"`
		BytesOut uint64  `json:"bytes_out"`
		Uptime   float64 `json:"uptime_seconds"`
	}
	s.apiGet(t, "/api/v1/summary", &sum)
	if sum.Streams != 0 || sum.BytesIn == 0 || sum.BytesOut == 0 || math.IsNaN(sum.Uptime) {
		t.Errorf("summary %+v", sum)
	}
}

type apiRelay struct {
	Kind       string `json:"kind"`
	Stream     string `json:"stream"`
	Target     string `json:"target"`
	State      string `json:"state"`
	Bytes      uint64 `json:"bytes"`
	Reconnects uint64 `json:"reconnects"`
}

// TestAPIRelay: an edge's API and metrics show its pull from the origin.
func TestAPIRelay(t *testing.T) {
	const key = "live/relaycam"
	clip := mediaPath(t, "h264_aac_gop1s.mp4")
	origin := startWithConfig(t, "origin", "", false, originEnv...)
	edge := startWithConfig(t, "edge", edgeYAML("failover", "rtmp://"+origin.RTMPAddr+"/{app}"), false)
	pub := publishLoop(t, origin, key, clip)
	origin.waitLive(t, key, pub)

	player := startProc(t, "edge player", ffmpegBin,
		append(append([]string{}, ffmpegBase...), "-i", edge.rtmpURL(key), "-c", "copy", "-f", "null", "-"), nil)
	defer player.kill()

	type withRelays struct {
		Key    string     `json:"key"`
		Relays []apiRelay `json:"relays"`
	}
	st := pollAPI(t, edge, "/api/v1/streams/"+key, 30*time.Second, func(v withRelays) bool {
		return len(v.Relays) == 1 && v.Relays[0].State == "live" && v.Relays[0].Bytes > 0
	})
	r := st.Relays[0]
	if r.Kind != "pull" || r.Stream != key || !strings.Contains(r.Target, origin.RTMPAddr) {
		t.Errorf("relay %+v", r)
	}
	var all []apiRelay
	edge.apiGet(t, "/api/v1/relays", &all)
	if len(all) != 1 || all[0].Kind != "pull" {
		t.Errorf("GET /api/v1/relays: %+v", all)
	}

	status, body := edge.apiCall(t, http.MethodGet, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d", status)
	}
	for _, want := range []string{
		`ripple_relays{app="live",protocol="pull",stream="relaycam"} 1`,
		`ripple_relays_live{app="live",protocol="pull",stream="relaycam"} 1`,
		`ripple_relay_bytes_total{app="live",protocol="pull",stream="relaycam"}`,
		`ripple_relay_reconnects_total{app="live",protocol="pull",stream="relaycam"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("edge /metrics lacks %s", want)
		}
	}

	// On the origin, the edge's pull is one RTMP client of the stream.
	var clients []apiClient
	origin.apiGet(t, "/api/v1/clients", &clients)
	rtmpClients := 0
	for _, c := range clients {
		if c.Stream == key && c.Protocol == "rtmp" {
			rtmpClients++
		}
	}
	if rtmpClients != 1 {
		t.Errorf("origin clients: %+v", clients)
	}
}
