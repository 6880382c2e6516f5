// Package hls serves live streams as HTTP Live Streaming (RFC 8216, and the
// low-latency extensions of draft-pantos-hls-rfc8216bis §4.4.3.7–§6.2.6).
//
// One muxer per live stream reads the hub through a single hub.Reader and
// cuts segments in memory; viewers are plain HTTP requests that never touch
// the hub. Segments start on a video keyframe once the target duration is
// reached (audio-only streams are cut on time), are kept for SegmentCount +
// SegmentKeep segments, and are named after the muxer's start time (the
// media epoch) and their media sequence number, so a name always means the
// same bytes and CDNs can cache them as immutable.
//
// URLs, for a stream key "app/stream" (app may hold several segments):
//
//	/app/stream.m3u8                 media playlist (mpegts) or multivariant playlist (fmp4, low_latency,
//	                                 and every variant when the stream has renditions)
//	/app/stream/media.m3u8           media playlist (every variant)
//	/app/stream/EPOCH-MSN.ts         MPEG-TS segment
//	/app/stream/EPOCH-initN.mp4      fMP4 initialization section (EXT-X-MAP)
//	/app/stream/EPOCH-MSN.m4s        fMP4 segment
//	/app/stream/EPOCH-MSN.PART.m4s   LL-HLS partial segment
//
// With Config.Directory set, each stream's files are also written to
// Directory/app/stream@hls/: index.m3u8 (what /app/stream.m3u8 serves, with
// URIs relative to that directory), media.m3u8 and the segments, parts and
// init sections under their HTTP names. '@' is outside the stream name
// alphabet (hub.ValidName), so no two keys share a file: live/cam1 owns
// live/cam1@hls/, live/cam1/media owns live/cam1/media@hls/.
//
// Renditions. A stream whose publisher names a Source
// (hub.PublisherInfo.Source: a transcoder's output, a track of a
// multitrack publish) is a rendition of that source, muxed like any
// stream. While a source has renditions, /app/stream.m3u8 is a
// multivariant playlist for every Variant: the source (stream/media.m3u8)
// and each rendition with a segment (stream_720p/media.m3u8, the
// rendition's own key beside the source's), highest BANDWIDTH first, with
// measured BANDWIDTH and AVERAGE-BANDWIDTH, CODECS, RESOLUTION from the SPS
// and FRAME-RATE declared by the SPS (HEVC: the decoder configuration
// record) or else measured from the segments. The Manager learns the
// renditions from hub events (renditions.go), never by scanning streams.
// Each rendition's URIs are requests for its own key: admitted, demanded
// (OnDemand) and counted like those of any stream. In low_latency, every
// media playlist of the group carries an EXT-X-RENDITION-REPORT for each
// other variant. For mpegts this changes what /app/stream.m3u8 is while
// renditions exist: a player that loaded it as a media playlist before the
// first rendition appeared fails its next reload, so renditions should
// start with their source.
//
// Hostile publishers. Nothing a publisher sends may stop the process or
// grow memory without bound: a muxer's goroutine runs through
// Config.Panics, and a panic stops that stream's HLS until its next
// sequence header (the same hub reader is kept, packets are discarded
// meanwhile, the restart uses a new epoch and a discontinuity). A header
// that cannot be parsed, or whose init section cannot be built, stops the
// stream's HLS the same way without a panic: the segment in progress ends,
// samples are dropped, one line says why. A segment is cut at
// SegmentMaxDuration or SegmentMaxBytes even without a keyframe (such a
// segment is not independent, so the playlist stops claiming
// EXT-X-INDEPENDENT-SEGMENTS while it is listed), and EXT-X-TARGETDURATION
// never exceeds SegmentMaxDuration.
//
// Admission. Config.Authorize decides every GET and HEAD (never a CORS
// preflight) before anything else happens for it. AuthScopeAll (the
// default) checks every object, and then the viewer's query (its token,
// without the _HLS_ delivery directives) is appended to every URI the
// playlists list, so a player that fetches them as listed is admitted; such
// URIs are per viewer, so responses are marked private and a shared cache
// cannot serve one viewer's objects to another after the token expired.
// AuthScopeEntry checks only the entry playlist (and any request that would
// start an on-demand muxer or an edge pull): URIs stay untouched and
// segments cacheable by a CDN, which must then enforce tokens itself, since
// anyone holding a segment or media playlist URL can fetch it.
//
// Viewers. The muxer's hub reader is not a viewer: Manager.Viewers counts
// the distinct clients (address and User-Agent) whose requests it admitted
// within three target durations (viewers.go), for the API and metrics.
//
// Containers come from github.com/bluenviron/mediacommon/v2 (MPEG-TS and fMP4
// writers); the segmenting, playlists and HTTP layer are Ripple's own, so that
// discontinuities, Cache-Control, bounded blocking reloads and names are under
// our control.
package hls

import (
	"log/slog"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
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

// AuthScope says which HLS requests Config.Authorize decides.
type AuthScope uint8

// Auth scopes.
const (
	// AuthScopeAll checks every playlist, segment, part and init section,
	// and propagates the viewer's query to every URI a playlist lists.
	AuthScopeAll AuthScope = iota
	// AuthScopeEntry checks the entry playlist /app/stream.m3u8 only (and
	// every request that would start an on-demand muxer or edge pull);
	// URIs stay untouched, so a CDN can cache them for every viewer.
	AuthScopeEntry
)

func (s AuthScope) String() string {
	if s == AuthScopeEntry {
		return "entry"
	}
	return "all"
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

	// SegmentMaxDuration cuts a segment that reached it even without a
	// keyframe (an intra-refresh or hostile encoder sends none); 0 means
	// 3 × SegmentDuration. EXT-X-TARGETDURATION never exceeds it (rounded
	// up to whole seconds), which bounds blocking reloads too.
	SegmentMaxDuration time.Duration
	// SegmentMaxBytes cuts a segment before it would exceed this size,
	// keyframe or not, and bounds the packets buffered before the tracks
	// are known; a single sample larger than it is dropped. 0 means
	// DefaultSegmentMaxBytes.
	SegmentMaxBytes int64

	// Directory, when not empty, also receives every segment and playlist
	// under Directory/app/stream@hls/ (for an external web server or CDN
	// push; see the package comment).
	Directory string

	// Authorize, when set, admits every GET and HEAD before anything else
	// happens for it (see the package comment); nil admits all.
	Authorize access.Func
	// AuthScope says which requests Authorize decides (AuthScopeAll by
	// default).
	AuthScope AuthScope
	// Restricted, when set, reports whether plays of a key are checked at
	// all (a secret, IP lists or a hook apply to it). Only then do
	// playlists carry each viewer's query and responses turn private
	// under AuthScopeAll; an open stream keeps shared, CDN-cacheable
	// URIs. nil: every key is, when Authorize is set.
	Restricted func(key string) bool

	// Panics recovers and counts (component "hls") panics of the muxer
	// goroutines; nil recovers without counting.
	Panics *guard.Recorder

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
	// wrap, when set (tests), wraps every container a segmenter builds,
	// e.g. to inject a panic.
	wrap func(key string, c container) container
}

// Defaults applied by New to zero fields, for use without pkg/config. Each
// equals the config default of its hls.* key (DefaultWriteTimeout that of
// http.write_timeout; pkg/server checks this).
const (
	DefaultSegmentDuration = 2 * time.Second
	DefaultPartDuration    = 200 * time.Millisecond
	DefaultSegmentCount    = 6
	DefaultIdleTimeout     = 60 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
	DefaultSegmentMaxBytes = 32 << 20
)

func (c Config) withDefaults() Config {
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
	if c.SegmentMaxDuration <= 0 {
		c.SegmentMaxDuration = 3 * c.SegmentDuration
	}
	if c.SegmentMaxDuration < c.SegmentDuration {
		c.SegmentMaxDuration = c.SegmentDuration
	}
	if c.SegmentMaxBytes <= 0 {
		c.SegmentMaxBytes = DefaultSegmentMaxBytes
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
	return c
}
