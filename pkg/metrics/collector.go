package metrics

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// Collector turns hub snapshots into Prometheus metrics at scrape time.
type Collector struct {
	hub *hub.Hub
	cfg Config
	now func() time.Time

	streams, players, bytesIn, bytesOut, conns *prometheus.Desc

	publishing, uptime, ingestBytes, bitrate, fps, gopSeconds, gopFrames,
	dropped, evictions, tsFixes, invalid *prometheus.Desc

	streamPlayers, streamBytesOut *prometheus.Desc

	relays, relayLive, relayBytes, relayReconnects *prometheus.Desc

	panics, refused *prometheus.Desc

	recActive, recBytes, recErrors, thumbDecodes, thumbFailures, thumbHits *prometheus.Desc

	cluster   clusterDescs
	transcode transcodeDescs
}

// NewCollector returns a collector over h.
func NewCollector(cfg Config, h *hub.Hub) *Collector {
	stream := []string{"app", "stream"}
	proto := []string{"app", "stream", "protocol"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(Namespace+"_"+name, help, labels, nil)
	}
	return &Collector{
		hub: h, cfg: cfg, now: time.Now,

		streams:  d("streams", "Live streams, including those inside their reconnect grace.", nil),
		players:  d("players", "Players of all streams (HLS viewers counted from their requests).", nil),
		bytesIn:  d("received_bytes_total", "Media bytes received from publishers since start.", nil),
		bytesOut: d("sent_bytes_total", "Bytes written to players since start.", nil),
		conns:    d("connections", "Open connections per listener.", []string{"protocol"}),

		publishing:  d("stream_publishing", "1 while a publisher is attached, 0 inside the reconnect grace.", stream),
		uptime:      d("stream_uptime_seconds", "Time since the stream was first published.", stream),
		ingestBytes: d("stream_received_bytes_total", "Media bytes received from the stream's publishers.", stream),
		bitrate:     d("stream_ingest_bitrate_bits_per_second", "Ingest bitrate over the last sampling interval.", stream),
		fps:         d("stream_ingest_fps", "Video frames received per second over the last sampling interval.", stream),
		gopSeconds:  d("stream_gop_seconds", "Duration of the last complete GOP (keyframe to keyframe).", stream),
		gopFrames:   d("stream_gop_frames", "Video frames in the last complete GOP.", stream),
		dropped:     d("stream_dropped_packets_total", "Packets dropped across the stream's readers (overflow, keyframe wait).", stream),
		evictions:   d("stream_evictions_total", "Slow readers evicted from the stream.", stream),
		tsFixes:     d("stream_timestamp_corrections_total", "Ingest timestamps the hub corrected.", stream),
		invalid: d("stream_invalid_packets_total", "Packets dropped at ingest because their media was malformed "+
			"(decoder configuration records, NALU framing).", stream),

		streamPlayers: d("stream_players", "Players of the stream, per protocol: attached readers, except for hls "+
			"(viewers with a request within three target durations; the muxer's reader is none); "+
			"record and thumbnail readers are no players (0).", proto),
		streamBytesOut: d("stream_sent_bytes_total", "Bytes written to the stream's readers, per protocol.", proto),

		relays:          d("relays", "Relays of the stream, per kind (forward, pull, push).", proto),
		relayLive:       d("relays_live", "Relays of the stream with media flowing, per kind.", proto),
		relayBytes:      d("relay_bytes_total", "Media bytes relayed, per kind.", proto),
		relayReconnects: d("relay_reconnects_total", "Relay connection attempts after the first, per kind.", proto),

		panics: d("panics_total", "Panics recovered at a goroutine boundary, per component: "+
			"the component (one connection, player, muxer, relay) ended; the server went on.", []string{"component"}),
		refused: d("connections_refused_total", "Connections refused by max_connections or max_connections_per_ip.",
			[]string{"protocol", "reason"}),

		recActive: d("recordings_active", "Recording files being written.", nil),
		recBytes:  d("recording_bytes_total", "Bytes written to recording files.", nil),
		recErrors: d("recording_errors_total", "Recording failures: a file that could not be opened or written "+
			"(disk full, permission denied), or a recording that fell behind its stream.", nil),
		thumbDecodes:  d("thumbnail_decodes_total", "Thumbnail decodes run (ffmpeg processes).", nil),
		thumbFailures: d("thumbnail_failures_total", "Thumbnail decodes that failed.", nil),
		thumbHits:     d("thumbnail_cache_hits_total", "Thumbnail requests answered from the cache.", nil),

		cluster:   newClusterDescs(d),
		transcode: newTranscodeDescs(d),
	}
}

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.streams, c.players, c.bytesIn, c.bytesOut, c.conns,
		c.publishing, c.uptime, c.ingestBytes, c.bitrate, c.fps, c.gopSeconds, c.gopFrames,
		c.dropped, c.evictions, c.tsFixes, c.invalid, c.streamPlayers, c.streamBytesOut,
		c.relays, c.relayLive, c.relayBytes, c.relayReconnects, c.panics, c.refused,
		c.recActive, c.recBytes, c.recErrors, c.thumbDecodes, c.thumbFailures, c.thumbHits,
	} {
		ch <- d
	}
	for _, d := range append(c.cluster.all(), c.transcode.all()...) {
		ch <- d
	}
}

// Collect reads one hub snapshot and emits it.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}

	now := c.now()
	streams := c.hub.Streams()
	players := 0
	for _, st := range streams {
		app, name := splitKey(st.Key)
		total, byProto := c.playersOf(&st)
		players += total
		pub := 0.0
		if st.Publishing {
			pub = 1
		}
		gauge(c.publishing, pub, app, name)
		gauge(c.uptime, now.Sub(st.Since).Seconds(), app, name)
		counter(c.ingestBytes, st.BytesIn, app, name)
		if c.cfg.Rate != nil {
			if br, fps, ok := c.cfg.Rate(st.Key); ok {
				gauge(c.bitrate, br, app, name)
				gauge(c.fps, fps, app, name)
			}
		}
		if st.GOPFrames > 0 {
			gauge(c.gopSeconds, st.GOPDuration.Seconds(), app, name)
			gauge(c.gopFrames, float64(st.GOPFrames), app, name)
		}
		counter(c.dropped, st.Dropped, app, name)
		counter(c.evictions, st.Evicted, app, name)
		counter(c.tsFixes, st.TimestampFixes, app, name)
		counter(c.invalid, st.InvalidPackets, app, name)
		for _, p := range st.Protocols {
			gauge(c.streamPlayers, float64(byProto[p.Protocol]), app, name, p.Protocol)
			counter(c.streamBytesOut, p.BytesOut, app, name, p.Protocol)
			delete(byProto, p.Protocol)
		}
		for proto, n := range byProto { // players without a reader: HLS viewers
			gauge(c.streamPlayers, float64(n), app, name, proto)
		}
	}
	gauge(c.streams, float64(len(streams)))
	gauge(c.players, float64(players))
	in, out := c.hub.Traffic()
	counter(c.bytesIn, in)
	counter(c.bytesOut, out)
	if c.cfg.Connections != nil {
		for proto, n := range c.cfg.Connections() {
			gauge(c.conns, float64(n), proto)
		}
	}
	if c.cfg.Relays != nil {
		c.collectRelays(c.cfg.Relays(), gauge, counter)
	}
	if c.cfg.Panics != nil {
		for _, p := range c.cfg.Panics() {
			counter(c.panics, p.Value, p.Name)
		}
	}
	if c.cfg.Refused != nil {
		for _, r := range c.cfg.Refused() {
			counter(c.refused, r.Count, r.Protocol, r.Reason)
		}
	}
	if c.cfg.Recording != nil {
		r := c.cfg.Recording()
		gauge(c.recActive, float64(r.Active))
		counter(c.recBytes, r.Bytes)
		counter(c.recErrors, r.Errors)
	}
	if c.cfg.Thumbnails != nil {
		th := c.cfg.Thumbnails()
		counter(c.thumbDecodes, th.Decodes)
		counter(c.thumbFailures, th.Failures)
		counter(c.thumbHits, th.CacheHits)
	}
	if c.cfg.Cluster != nil {
		c.cluster.collect(c.cfg.Cluster(), ch)
	}
	if c.cfg.Transcode != nil {
		c.transcode.collect(c.cfg.Transcode(), ch)
	}
}

// playersOf is Config.Players, or every reader when it is nil. byProto
// is the caller's to modify.
func (c *Collector) playersOf(st *hub.StreamInfo) (int, map[string]int) {
	if c.cfg.Players != nil {
		return c.cfg.Players(st)
	}
	by := make(map[string]int, len(st.Protocols))
	for _, p := range st.Protocols {
		by[p.Protocol] = p.Readers
	}
	return st.Readers, by
}

// collectRelays sums relays per (stream, kind): a stream may forward to
// several destinations, and targets are not labels.
func (c *Collector) collectRelays(rs []Relay, gauge func(*prometheus.Desc, float64, ...string),
	counter func(*prometheus.Desc, uint64, ...string)) {
	type key struct{ stream, kind string }
	type agg struct {
		n, live           int
		bytes, reconnects uint64
	}
	sums := map[key]*agg{}
	var order []key
	for _, r := range rs {
		k := key{r.Stream, r.Kind}
		a := sums[k]
		if a == nil {
			a = &agg{}
			sums[k] = a
			order = append(order, k)
		}
		a.n++
		if r.Live {
			a.live++
		}
		a.bytes += r.Bytes
		a.reconnects += r.Reconnects
	}
	for _, k := range order {
		a := sums[k]
		app, name := splitKey(k.stream)
		gauge(c.relays, float64(a.n), app, name, k.kind)
		gauge(c.relayLive, float64(a.live), app, name, k.kind)
		counter(c.relayBytes, a.bytes, app, name, k.kind)
		counter(c.relayReconnects, a.reconnects, app, name, k.kind)
	}
}

// splitKey splits "a/b/c" into app "a/b" and stream "c".
func splitKey(key string) (app, name string) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return "", key
	}
	return key[:i], key[i+1:]
}
