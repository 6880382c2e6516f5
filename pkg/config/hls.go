package config

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// HLS configures HLS egress (pkg/hls): one in-memory muxer per live stream.
type HLS struct {
	Enabled bool `mapstructure:"enabled"`
	// Variant is mpegts, fmp4 or low_latency ("lowLatency" is accepted as
	// an alias of low_latency).
	Variant         HLSVariant    `mapstructure:"variant"`
	SegmentDuration time.Duration `mapstructure:"segment_duration"`
	PartDuration    time.Duration `mapstructure:"part_duration"` // low_latency only
	SegmentCount    int           `mapstructure:"segment_count"`
	// SegmentKeep segments stay fetchable after leaving the playlist, so
	// players and CDNs that fetch late still succeed.
	SegmentKeep int `mapstructure:"segment_keep"`
	// SegmentMaxDuration cuts a segment even without a keyframe (a stream
	// whose encoder sends none); 0 means 3 × SegmentDuration. The
	// playlist's target duration never exceeds it.
	SegmentMaxDuration time.Duration `mapstructure:"segment_max_duration"`
	// SegmentMaxBytes cuts a segment that grows past it, keyframe or not.
	SegmentMaxBytes ByteSize `mapstructure:"segment_max_bytes"`
	// AuthScope says which HLS requests the play check covers: "all"
	// (every playlist, segment, part and init section) or "entry" (the
	// entry playlist only, for a CDN that checks tokens itself).
	AuthScope HLSAuthScope `mapstructure:"auth_scope"`
	OnDemand  bool         `mapstructure:"on_demand"`
	// IdleTimeout stops an on-demand muxer after this long without requests.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// Directory, when set, also receives every segment and playlist.
	Directory string `mapstructure:"directory"`
	// AllowOrigin is the CORS origin; "" inherits http.allow_origin.
	AllowOrigin string `mapstructure:"allow_origin"`
}

// Limits of the hls keys.
const (
	MinHLSSegmentDuration = 500 * time.Millisecond
	MaxHLSSegmentDuration = 60 * time.Second
	MinHLSPartDuration    = 50 * time.Millisecond
	MaxHLSSegmentCount    = 100
	MaxHLSSegmentKeep     = 100
	// MinHLSSegmentMaxBytes keeps hls.segment_max_bytes above one big
	// keyframe.
	MinHLSSegmentMaxBytes = 1 << 20
)

// MaxSegmentDuration resolves hls.segment_max_duration: 0 is 3 ×
// segment_duration.
func (h HLS) MaxSegmentDuration() time.Duration {
	if h.SegmentMaxDuration == 0 {
		return 3 * h.SegmentDuration
	}
	return h.SegmentMaxDuration
}

// validate checks the hls section, naming the key in every error.
func (h HLS) validate() error {
	errs := []error{
		hlsVariants.check("hls.variant", h.Variant),
		durationRange("hls.segment_duration", h.SegmentDuration, MinHLSSegmentDuration, MaxHLSSegmentDuration),
		durationRange("hls.part_duration", h.PartDuration, MinHLSPartDuration, h.SegmentDuration),
		inRange("hls.segment_count", int64(h.SegmentCount), 1, MaxHLSSegmentCount),
		inRange("hls.segment_keep", int64(h.SegmentKeep), 0, MaxHLSSegmentKeep),
		positive("hls.idle_timeout", h.IdleTimeout),
		hlsAuthScopes.check("hls.auth_scope", h.AuthScope),
		atLeast("hls.segment_max_bytes", int64(h.SegmentMaxBytes), MinHLSSegmentMaxBytes),
	}
	if h.SegmentMaxDuration != 0 {
		errs = append(errs, durationRange("hls.segment_max_duration", h.SegmentMaxDuration,
			h.SegmentDuration, 3*MaxHLSSegmentDuration))
	}
	if h.AllowOrigin != "" {
		errs = append(errs, headerValue("hls.allow_origin", h.AllowOrigin))
	}
	if strings.ContainsFunc(h.Directory, unicode.IsControl) {
		errs = append(errs, fmt.Errorf("config: hls.directory: %q contains a control character", h.Directory))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func durationRange(key string, d, lo, hi time.Duration) error {
	if d < lo || d > hi {
		return fmt.Errorf("config: %s: %s out of range [%s, %s]", key, d, lo, hi)
	}
	return nil
}
