// Package metrics exposes Ripple's state to Prometheus. A custom Collector
// reads hub snapshots at scrape time, so nothing on the packet path updates
// a metric: the hub's own counters (which it keeps anyway) are the source.
//
// Labels are only app, stream and protocol (reader protocol, listener or
// relay kind), never a client: cardinality grows with streams, not viewers.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// Namespace prefixes every Ripple metric.
const Namespace = "ripple"

// Relay is one relay's state, as the collector needs it (the server maps
// the relay package's snapshots to it).
type Relay struct {
	Stream     string // local stream key
	Kind       string // "forward", "pull", "push": the protocol label
	Live       bool   // media flowing
	Bytes      uint64 // media bytes relayed
	Reconnects uint64 // connection attempts after the first
}

// Config says where the collector reads what the hub does not know.
// Every function may be nil.
type Config struct {
	// Rate returns a stream's ingest bitrate (bits/s) and frame rate,
	// measured by the API's sampler.
	Rate func(key string) (bitrate, fps float64, ok bool)
	// Connections returns open connections per listener ("rtmp", "http").
	Connections func() map[string]int
	// Relays returns the running relays.
	Relays func() []Relay
	// Panics returns the panics recovered so far, per component (rtmp,
	// http-flv, ws-flv, hls, relay, hook).
	Panics func() []Count
	// Refused returns the connections refused by the connection caps, per
	// listener protocol and reason ("max_connections",
	// "max_connections_per_ip").
	Refused func() []Refusal
	// Recording returns the recorder's counters.
	Recording func() Recording
	// Thumbnails returns the thumbnailer's counters.
	Thumbnails func() Thumbnails
	// Players returns a stream's players, in total and per protocol (the
	// API's count: HLS viewers from their requests, no HLS muxer, recorder
	// or thumbnailer reader). nil counts every hub reader as a player.
	Players func(st *hub.StreamInfo) (total int, byProtocol map[string]int)
	// Cluster returns the origin cluster node's state; nil: not in one.
	Cluster func() Cluster
	// Transcode returns the running transcode ladders; nil: none.
	Transcode func() []Transcode
}

// Count is a counter of one named component.
type Count struct {
	Name  string
	Value uint64
}

// Recording is the recorder's state: files being written, bytes written
// ever, and failures (opens, writes, a recording that fell behind).
type Recording struct {
	Active        int
	Bytes, Errors uint64
}

// Thumbnails counts thumbnail decodes (ffmpeg runs), the failed ones, and
// requests answered from the cache.
type Thumbnails struct {
	Decodes, Failures, CacheHits uint64
}

// Refusal is a counter of refused connections.
type Refusal struct {
	Protocol, Reason string
	Count            uint64
}

// Handler returns the /metrics handler: the collector plus the Go runtime
// and process collectors, in a registry of its own (no global state).
func Handler(c *Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		c,
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// Guard: the collector is a prometheus.Collector.
var _ prometheus.Collector = (*Collector)(nil)
