// Package hls serves live streams as HTTP Live Streaming (RFC 8216, and the
// low-latency extensions of draft-pantos-hls-rfc8216bis §4.4.3.7–§6.2.6).
//
// One muxer per live stream reads the hub through a single hub.Reader and
// cuts segments in memory; viewers are plain HTTP requests that never touch
// the hub. Segments start on a video keyframe once the target duration is
// reached (audio-only streams are cut on time), are kept for SegmentCount +
// SegmentKeep segments, and are named after the muxer's start time and their
// media sequence number, so a name always means the same bytes and CDNs can
// cache them as immutable.
//
// URLs, for a stream key "app/stream" (app may hold several segments):
//
//	/app/stream.m3u8                 media playlist (mpegts) or multivariant playlist (fmp4, low_latency)
//	/app/stream/media.m3u8           media playlist (every variant)
//	/app/stream/EPOCH-MSN.ts         MPEG-TS segment
//	/app/stream/EPOCH-initN.mp4      fMP4 initialization section (EXT-X-MAP)
//	/app/stream/EPOCH-MSN.m4s        fMP4 segment
//	/app/stream/EPOCH-MSN.PART.m4s   LL-HLS partial segment
//
// Containers come from github.com/bluenviron/mediacommon/v2 (MPEG-TS and fMP4
// writers); the segmenting, playlists and HTTP layer are Ripple's own, so that
// discontinuities, Cache-Control, bounded blocking reloads and names are under
// our control.
package hls

import (
	"log/slog"
	"time"
)

// Variant selects the segment container and playlist flavour.
type Variant uint8

// Variants.
const (
	// VariantMPEGTS writes MPEG-TS segments: plays everywhere (VLC, old TVs).
	VariantMPEGTS Variant = iota
	// VariantFMP4 writes fragmented MP4 segments (needed for HEVC).
	VariantFMP4
	// VariantLowLatency writes fMP4 segments made of parts, announced with
	// EXT-X-PART and EXT-X-PRELOAD-HINT, with blocking playlist reload.
	VariantLowLatency
)

func (v Variant) String() string {
	switch v {
	case VariantFMP4:
		return "fmp4"
	case VariantLowLatency:
		return "low_latency"
	}
	return "mpegts"
}

// ParseVariant maps a config spelling ("mpegts", "fmp4", "low_latency" or
// "lowLatency") to a Variant.
func ParseVariant(s string) (Variant, bool) {
	switch s {
	case "mpegts":
		return VariantMPEGTS, true
	case "fmp4":
		return VariantFMP4, true
	case "low_latency", "lowLatency":
		return VariantLowLatency, true
	}
	return 0, false
}

// Config configures a Manager. Zero values mean the documented defaults.
type Config struct {
	Logger *slog.Logger // nil: discard

	Variant         Variant
	SegmentDuration time.Duration // default 2s
	PartDuration    time.Duration // low_latency only; default 200ms
	SegmentCount    int           // segments in the playlist; default 6
	SegmentKeep     int           // segments still served after leaving it; default 0

	// OnDemand starts a stream's muxer on its first request (calling
	// hub.Demand when the stream is not live) instead of on publish, and
	// stops it after IdleTimeout without requests.
	OnDemand    bool
	IdleTimeout time.Duration // default 60s

	// Directory, when not empty, also receives every segment and playlist
	// under Directory/app/stream/ (for an external web server or CDN push).
	Directory string

	// AllowOrigin is the CORS Access-Control-Allow-Origin: "*" (default)
	// or a comma/space separated list of exact origins.
	AllowOrigin string

	// WriteTimeout bounds each 64 KiB written to a viewer (default 10s):
	// a stalled client cannot hold a response open for ever, while a slow
	// one can still fetch a large segment.
	WriteTimeout time.Duration

	// onUpdate, when set (tests and the delay benchmark), is called by the
	// muxer goroutine after each playlist update with the stream key and the
	// highest DTS (ms) the playlist now lists.
	onUpdate func(key string, dts int64)
}

// Defaults applied by New to zero fields.
const (
	DefaultSegmentDuration = 2 * time.Second
	DefaultPartDuration    = 200 * time.Millisecond
	DefaultSegmentCount    = 6
	DefaultIdleTimeout     = 60 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
)

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.SegmentDuration <= 0 {
		c.SegmentDuration = DefaultSegmentDuration
	}
	if c.PartDuration <= 0 {
		c.PartDuration = DefaultPartDuration
	}
	if c.PartDuration > c.SegmentDuration {
		c.PartDuration = c.SegmentDuration
	}
	if c.SegmentCount <= 0 {
		c.SegmentCount = DefaultSegmentCount
	}
	if c.SegmentKeep < 0 {
		c.SegmentKeep = 0
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.AllowOrigin == "" {
		c.AllowOrigin = "*"
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
}
