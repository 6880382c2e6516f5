package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func wantHLSDefaults() HLS {
	return HLS{
		Enabled:         true,
		Variant:         HLSVariantMPEGTS,
		SegmentDuration: 2 * time.Second,
		PartDuration:    200 * time.Millisecond,
		SegmentCount:    6,
		SegmentKeep:     3,
		IdleTimeout:     60 * time.Second,
		SegmentMaxBytes: 32 * MiB,
		AuthScope:       HLSAuthScopeAll,
	}
}

func TestHLSValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(h *HLS)
		err  string // "" = valid
	}{
		{name: "defaults", edit: func(*HLS) {}},
		{name: "fmp4", edit: func(h *HLS) { h.Variant = HLSVariantFMP4 }},
		{name: "low latency", edit: func(h *HLS) { h.Variant = HLSVariantLowLatency }},
		{name: "auth scope entry", edit: func(h *HLS) { h.AuthScope = HLSAuthScopeEntry }},
		{name: "auth scope unset", edit: func(h *HLS) { h.AuthScope = 0 },
			err: `config: hls.auth_scope: "" is not one of all, entry`},
		{name: "segment max duration below segment", edit: func(h *HLS) { h.SegmentMaxDuration = time.Second },
			err: "config: hls.segment_max_duration: 1s out of range [2s, 3m0s]"},
		{name: "segment max duration", edit: func(h *HLS) { h.SegmentMaxDuration = 4 * time.Second }},
		{name: "segment max bytes", edit: func(h *HLS) { h.SegmentMaxBytes = 1000 },
			err: "config: hls.segment_max_bytes: 1000 must be >= 1048576"},
		{name: "variant", edit: func(h *HLS) { h.Variant = HLSVariantLowLatency + 1 },
			err: `config: hls.variant: "HLSVariant(4)" is not one of mpegts, fmp4, low_latency, lowLatency`},
		{name: "segment duration low", edit: func(h *HLS) { h.SegmentDuration = 100 * time.Millisecond },
			err: "config: hls.segment_duration: 100ms out of range [500ms, 1m0s]"},
		{name: "segment duration high", edit: func(h *HLS) { h.SegmentDuration = 2 * time.Minute },
			err: "config: hls.segment_duration: 2m0s out of range [500ms, 1m0s]"},
		{name: "part duration low", edit: func(h *HLS) { h.PartDuration = 10 * time.Millisecond },
			err: "config: hls.part_duration: 10ms out of range [50ms, 2s]"},
		{name: "part longer than segment", edit: func(h *HLS) { h.PartDuration = 3 * time.Second },
			err: "config: hls.part_duration: 3s out of range [50ms, 2s]"},
		{name: "segment count", edit: func(h *HLS) { h.SegmentCount = 0 },
			err: "config: hls.segment_count: 0 out of range [1, 100]"},
		{name: "segment keep", edit: func(h *HLS) { h.SegmentKeep = -1 },
			err: "config: hls.segment_keep: -1 out of range [0, 100]"},
		{name: "idle timeout", edit: func(h *HLS) { h.IdleTimeout = 0 },
			err: "config: hls.idle_timeout: 0s must be > 0"},
		{name: "allow origin injection", edit: func(h *HLS) { h.AllowOrigin = "*\nX: y" },
			err: `config: hls.allow_origin: "*\nX: y" contains a line break`},
		{name: "allow origin own", edit: func(h *HLS) { h.AllowOrigin = "https://a.example" }},
		{name: "directory nul", edit: func(h *HLS) { h.Directory = "a\x00b" },
			err: `config: hls.directory: "a\x00b" contains a control character`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := wantDefaults()
			tc.edit(&c.HLS)
			err := c.Validate()
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.err)
		})
	}
}

func TestHLSLoad(t *testing.T) {
	t.Setenv("RIPPLE_HLS_VARIANT", "fmp4")
	t.Setenv("RIPPLE_HLS_SEGMENT_DURATION", "1s")
	c, err := Load("", nil)
	require.NoError(t, err)
	require.Equal(t, HLSVariantFMP4, c.HLS.Variant)
	require.Equal(t, time.Second, c.HLS.SegmentDuration)
}
