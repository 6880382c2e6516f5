package config

import (
	"encoding"
	"fmt"
	"log/slog"
	"strconv"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// enumCases list every enumerated key: a file setting it (%s is the quoted
// value), each spelling it accepts and what that decodes to, and a refused
// spelling with the whole error Load returns for it.
var enumCases = []struct {
	key   string
	file  string
	get   func(Config) any
	words map[string]any // canonical spellings: MarshalText gives them back
	alias map[string]any // further accepted spellings
	bad   string
	err   string
}{
	{
		key: "log.level", file: "log:\n  level: %s\n", get: func(c Config) any { return c.Log.Level },
		words: map[string]any{"debug": LogDebug, "info": LogInfo, "warn": LogWarn, "error": LogError},
		bad:   "trace", err: `config: log.level: "trace" is not one of debug, info, warn, error`,
	},
	{
		key: "log.format", file: "log:\n  format: %s\n", get: func(c Config) any { return c.Log.Format },
		words: map[string]any{"text": LogText, "json": LogJSON},
		bad:   "xml", err: `config: log.format: "xml" is not one of text, json`,
	},
	{
		key: "hub.publish_policy", file: "hub:\n  publish_policy: %s\n", get: func(c Config) any { return c.Hub.PublishPolicy },
		words: map[string]any{"reject": PolicyReject, "takeover": PolicyTakeover},
		bad:   "x", err: `config: hub.publish_policy: "x" is not one of reject, takeover`,
	},
	{
		key: "apps.NAME.publish_policy", file: "apps:\n  live:\n    publish_policy: %s\n",
		get:   func(c Config) any { return c.Apps["live"].PublishPolicy },
		words: map[string]any{"reject": PolicyReject, "takeover": PolicyTakeover, "": PublishPolicy(0)},
		bad:   "steal", err: `config: apps.live.publish_policy: "steal" is not one of reject, takeover`,
	},
	{
		key: "hls.variant", file: "hls:\n  variant: %s\n", get: func(c Config) any { return c.HLS.Variant },
		words: map[string]any{"mpegts": HLSVariantMPEGTS, "fmp4": HLSVariantFMP4, "low_latency": HLSVariantLowLatency},
		alias: map[string]any{"lowLatency": HLSVariantLowLatency},
		bad:   "dash", err: `config: hls.variant: "dash" is not one of mpegts, fmp4, low_latency, lowLatency`,
	},
	{
		key: "hls.auth_scope", file: "hls:\n  auth_scope: %s\n", get: func(c Config) any { return c.HLS.AuthScope },
		words: map[string]any{"all": HLSAuthScopeAll, "entry": HLSAuthScopeEntry},
		bad:   "segments", err: `config: hls.auth_scope: "segments" is not one of all, entry`,
	},
	{
		key: "auth.hooks.on_publish.policy", file: "auth:\n  hooks:\n    on_publish:\n      policy: %s\n",
		get:   func(c Config) any { return c.Auth.Hooks.OnPublish.Policy },
		words: map[string]any{"fail_closed": HookFailClosed, "fail_open": HookFailOpen},
		bad:   "open", err: `config: auth.hooks.on_publish.policy: "open" is not one of fail_closed, fail_open`,
	},
	{
		key: "auth.hooks.on_play.policy", file: "auth:\n  hooks:\n    on_play:\n      policy: %s\n",
		get:   func(c Config) any { return c.Auth.Hooks.OnPlay.Policy },
		words: map[string]any{"fail_closed": HookFailClosed, "fail_open": HookFailOpen},
		bad:   "Fail_Open", err: `config: auth.hooks.on_play.policy: "Fail_Open" is not one of fail_closed, fail_open`,
	},
	{
		key: "apps.NAME.edge.selection", file: "apps:\n  e:\n    edge:\n      origins: [rtmp://o/x]\n      selection: %s\n",
		get:   func(c Config) any { return c.Apps["e"].Edge.Selection },
		words: map[string]any{"failover": SelectFailover, "hash": SelectHash, "": EdgeSelection(0)},
		bad:   "random", err: `config: apps.e.edge.selection: "random" is not one of failover, hash`,
	},
}

// TestEnumLoad decodes every spelling of every enumerated key from a file,
// and checks that a refused one is a config error naming the key.
func TestEnumLoad(t *testing.T) {
	for _, tc := range enumCases {
		t.Run(tc.key, func(t *testing.T) {
			clearEnv(t)
			load := func(word string) (Config, error) {
				return Load(writeFile(t, fmt.Sprintf(tc.file, strconv.Quote(word))), nil)
			}
			for _, spellings := range []map[string]any{tc.words, tc.alias} {
				for word, want := range spellings {
					c, err := load(word)
					require.NoError(t, err, word)
					require.Equal(t, want, tc.get(c), word)
				}
			}
			_, err := load(tc.bad)
			require.EqualError(t, err, tc.err)
		})
	}
}

// TestEnumText checks that MarshalText returns the canonical spelling of
// every value UnmarshalText accepts, so that a decoded value prints as the
// file spells it.
func TestEnumText(t *testing.T) {
	for _, tc := range enumCases {
		t.Run(tc.key, func(t *testing.T) {
			for word, v := range tc.words {
				b, err := v.(encoding.TextMarshaler).MarshalText()
				require.NoError(t, err)
				require.Equal(t, word, string(b))
				require.Equal(t, word, v.(fmt.Stringer).String())
			}
			for word, v := range tc.alias {
				b, err := v.(encoding.TextMarshaler).MarshalText()
				require.NoError(t, err)
				require.NotEqual(t, word, string(b), "an alias prints as the canonical spelling")
				require.Contains(t, tc.words, string(b))
			}
		})
	}
	_, err := HLSVariant(9).MarshalText()
	require.EqualError(t, err, "config: HLSVariant(9) is not a valid value")
	require.Equal(t, "PublishPolicy(3)", PublishPolicy(3).String())
}

// TestEnumNotText: a YAML value of another type is checked as its text,
// never taken as the underlying integer.
func TestEnumNotText(t *testing.T) {
	for _, tc := range []struct{ file, err string }{
		{"log:\n  level: 1\n", `config: log.level: "1" is not one of debug, info, warn, error`},
		{"hls:\n  variant: true\n", `config: hls.variant: "true" is not one of mpegts, fmp4, low_latency, lowLatency`},
		{"hub:\n  publish_policy: 2.5\n", `config: hub.publish_policy: "2.5" is not one of reject, takeover`},
	} {
		clearEnv(t)
		_, err := Load(writeFile(t, tc.file), nil)
		require.EqualError(t, err, tc.err)
	}
}

func TestEnumFromEnvAndFlag(t *testing.T) {
	clearEnv(t)
	t.Setenv("RIPPLE_HLS_AUTH_SCOPE", "entry")
	t.Setenv("RIPPLE_LOG_FORMAT", "yaml")
	_, err := Load("", nil)
	require.EqualError(t, err, `config: log.format: "yaml" is not one of text, json`)

	t.Setenv("RIPPLE_LOG_FORMAT", "json")
	c, err := Load("", nil)
	require.NoError(t, err)
	require.Equal(t, HLSAuthScopeEntry, c.HLS.AuthScope)
	require.Equal(t, LogJSON, c.Log.Format)

	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"--log-level", "verbose"}))
	_, err = Load("", fs)
	require.EqualError(t, err, `config: log.level: "verbose" is not one of debug, info, warn, error`)
}

func TestLogLevelSlog(t *testing.T) {
	for l, want := range map[LogLevel]slog.Level{
		LogDebug: slog.LevelDebug, LogInfo: slog.LevelInfo, LogWarn: slog.LevelWarn, LogError: slog.LevelError,
	} {
		require.Equal(t, want, l.Slog(), l.String())
	}
}
