package server

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/api"
	"github.com/ripplemedia/ripple/pkg/auth"
	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hls"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/proxyproto"
	"github.com/ripplemedia/ripple/pkg/relay"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// TestPackageDefaults: pkg/config (defaults.yaml) is the one source of
// default values. A package keeps a Default* constant only as the fallback
// for a zero field when it is used without the config (tests, library use);
// each must equal the config default of the key that sets that field, so a
// package behaves the same with and without the server in front of it.
func TestPackageDefaults(t *testing.T) {
	c, err := config.Default()
	require.NoError(t, err)
	for _, tc := range []struct {
		key       string
		pkg, conf any
	}{
		{"rtmp.chunk_size", rtmp.DefaultOutChunkSize, int(c.RTMP.ChunkSize)},
		{"rtmp.handshake_timeout", rtmp.DefaultHandshakeTimeout, c.RTMP.HandshakeTimeout},
		{"rtmp.connect_timeout", rtmp.DefaultConnectTimeout, c.RTMP.ConnectTimeout},
		{"rtmp.read_timeout", rtmp.DefaultReadTimeout, c.RTMP.ReadTimeout},
		{"rtmp.write_timeout", rtmp.DefaultWriteTimeout, c.RTMP.WriteTimeout},
		{"rtmp.play_wait", rtmp.DefaultPlayWait, c.RTMP.PlayWait},
		{"rtmp.ack_window", rtmp.DefaultAckWindow, int(c.RTMP.AckWindow)},
		{"rtmp.max_message_size", rtmp.DefaultMaxMessageSize, int(c.RTMP.MaxMessageSize)},
		{"rtmp.max_message_size (flv)", flv.DefaultMaxTagSize, int(c.RTMP.MaxMessageSize)},
		{"rtmp.handshake_timeout (proxyproto)", proxyproto.DefaultTimeout, c.RTMP.HandshakeTimeout},

		{"hub.queue_size", hub.DefaultQueueSize, c.Hub.QueueSize},
		{"hub.queue_max_bytes", hub.DefaultQueueMaxBytes, int(c.Hub.QueueMaxBytes)},
		{"hub.slow_reader_max_overflows", hub.DefaultMaxOverflows, c.Hub.SlowReaderMaxOverflows},
		{"hub.slow_reader_window", hub.DefaultOverflowWindow, c.Hub.SlowReaderWindow},
		{"hub.gop_cache_max_packets", hub.DefaultGOPMaxPackets, c.Hub.GOPCacheMaxPackets},
		{"hub.gop_cache_max_bytes", hub.DefaultGOPMaxBytes, int(c.Hub.GOPCacheMaxBytes)},
		{"hub.gop_cache_max_duration", hub.DefaultGOPMaxDuration, c.Hub.GOPCacheMaxDuration},

		{"hls.segment_duration", hls.DefaultSegmentDuration, c.HLS.SegmentDuration},
		{"hls.part_duration", hls.DefaultPartDuration, c.HLS.PartDuration},
		{"hls.segment_count", hls.DefaultSegmentCount, c.HLS.SegmentCount},
		{"hls.idle_timeout", hls.DefaultIdleTimeout, c.HLS.IdleTimeout},
		{"hls.segment_max_bytes", hls.DefaultSegmentMaxBytes, int(c.HLS.SegmentMaxBytes)},
		{"http.write_timeout (hls)", hls.DefaultWriteTimeout, c.HTTP.WriteTimeout},

		{"relay.timeout", relay.DefaultTimeout, c.Relay.Timeout},
		{"relay.backoff_min", relay.DefaultBackoffMin, c.Relay.BackoffMin},
		{"relay.backoff_max", relay.DefaultBackoffMax, c.Relay.BackoffMax},
		{"relay.idle_timeout", relay.DefaultIdleTimeout, c.Relay.IdleTimeout},
		{"relay.not_found_timeout", relay.DefaultNotFoundTimeout, c.Relay.NotFoundTimeout},
		{"relay.max_pulls", relay.DefaultMaxPulls, c.Relay.MaxPulls},

		{"api.events_stats_interval", api.DefaultStatsInterval, c.API.EventsStatsInterval},
		{"api.events_keepalive", api.DefaultKeepAlive, c.API.EventsKeepAlive},
		{"http.write_timeout (api)", api.DefaultWriteTimeout, c.HTTP.WriteTimeout},

		{"auth.hooks.on_publish.timeout", auth.DefaultHookTimeout, c.Auth.Hooks.OnPublish.Timeout},
		{"auth.hooks.on_play.timeout", auth.DefaultHookTimeout, c.Auth.Hooks.OnPlay.Timeout},
		{"auth.hooks.retry_backoff", auth.DefaultRetryBackoff, c.Auth.Hooks.RetryBackoff},
		{"auth.hooks.queue_size", auth.DefaultQueueSize, c.Auth.Hooks.QueueSize},

		// Not a default but the same kind of duplicate: the bound Validate
		// puts on a key is the package's own cap.
		{"hub.slow_reader_max_overflows (limit)", hub.MaxOverflowsLimit, config.MaxOverflows},
	} {
		require.Equal(t, tc.conf, tc.pkg, tc.key)
	}
}

// TestDefaultTranslation: the package Configs the server builds from the
// built-in configuration carry the config defaults, enumerations included.
func TestDefaultTranslation(t *testing.T) {
	c, err := config.Default()
	require.NoError(t, err)
	hc := hlsConfig(c, nil)
	require.Equal(t, hls.VariantMPEGTS, hc.Variant)
	require.Equal(t, hls.AuthScopeAll, hc.AuthScope)
	require.Equal(t, hub.PolicyReject, policyFunc(c)("live"))
	rules := authRules(c)
	require.False(t, rules.OnPublish.FailOpen)
	require.False(t, rules.OnPlay.FailOpen)
}
