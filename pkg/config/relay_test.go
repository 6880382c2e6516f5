package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func wantRelayDefaults() Relay {
	return Relay{
		Timeout:         5 * time.Second,
		BackoffMin:      500 * time.Millisecond,
		BackoffMax:      30 * time.Second,
		IdleTimeout:     30 * time.Second,
		NotFoundTimeout: 10 * time.Second,
		PassQuery:       true,
		MaxPulls:        100,

		MaxTargetsPerStream: 16,
	}
}

func TestValidateRelay(t *testing.T) {
	cases := []struct {
		name string
		edit func(c *Config)
		err  string
	}{
		{"defaults", func(*Config) {}, ""},
		{"forward and edge", func(c *Config) {
			c.Apps = map[string]App{
				"live": {Forward: []string{"rtmp://a/{app}", "rtmp://b:1936/x/{stream}?k=1"}},
				"cdn":  {Edge: Edge{Origins: []string{"rtmp://o1/live", "http://o2:8080/{app}"}, Selection: SelectHash}},
			}
		}, ""},
		{"timeout", func(c *Config) { c.Relay.Timeout = 0 }, "relay.timeout: 0s must be > 0"},
		{"max pulls zero", func(c *Config) { c.Relay.MaxPulls = 0 }, "config: relay.max_pulls: 0 out of range [1, 100000]"},
		{"max pulls huge", func(c *Config) { c.Relay.MaxPulls = 1 << 30 }, "relay.max_pulls: 1073741824 out of range"},
		{"max targets zero", func(c *Config) { c.Relay.MaxTargetsPerStream = 0 }, "config: relay.max_targets_per_stream: 0 out of range [1, 256]"},
		{"max targets huge", func(c *Config) { c.Relay.MaxTargetsPerStream = 257 }, "relay.max_targets_per_stream: 257 out of range"},
		{"more forwards than targets", func(c *Config) {
			c.Relay.MaxTargetsPerStream = 1
			c.Apps = map[string]App{"live": {Forward: []string{"rtmp://a/x", "rtmp://b/x"}}}
		}, "apps.live.forward: 2 destinations, more than relay.max_targets_per_stream 1"},
		{"rtmps forward", func(c *Config) {
			c.Apps = map[string]App{"live": {Forward: []string{"rtmps://live-api-s.facebook.com:443/rtmp/KEY"}}}
		}, ""},
		{"rtmps without app", func(c *Config) { c.Apps = map[string]App{"live": {Forward: []string{"rtmps://h"}}} },
			`"rtmps://h" has no app`},
		{"backoff order", func(c *Config) { c.Relay.BackoffMax = time.Millisecond }, "relay.backoff_max: 1ms is less than relay.backoff_min"},
		{"forward scheme", func(c *Config) { c.Apps = map[string]App{"live": {Forward: []string{"http://a/live"}}} },
			`apps.live.forward[0]: "http://a/live": scheme "http" is not rtmp or rtmps`},
		{"forward no app", func(c *Config) { c.Apps = map[string]App{"live": {Forward: []string{"rtmp://a/"}}} },
			"apps.live.forward[0]: \"rtmp://a/\" has no app"},
		{"forward no host", func(c *Config) { c.Apps = map[string]App{"live": {Forward: []string{"rtmp:///live"}}} },
			"has no host"},
		{"unknown variable", func(c *Config) { c.Apps = map[string]App{"live": {Forward: []string{"rtmp://a/{name}"}}} },
			"unknown template variable"},
		{"origin scheme", func(c *Config) { c.Apps = map[string]App{"e": {Edge: Edge{Origins: []string{"srt://o/x"}}}} },
			`apps.e.edge.origins[0]: "srt://o/x": scheme "srt" is not rtmp, rtmps, http or https`},
		{"selection", func(c *Config) {
			c.Apps = map[string]App{"e": {Edge: Edge{Origins: []string{"rtmp://o/x"}, Selection: SelectHash + 1}}}
		}, `apps.e.edge.selection: "EdgeSelection(3)" is not one of failover, hash`},
		{"edge keys without origins", func(c *Config) { c.Apps = map[string]App{"e": {Edge: Edge{Selection: SelectHash}}} },
			"apps.e.edge.origins: empty"},
		{"negative idle", func(c *Config) {
			c.Apps = map[string]App{"e": {Edge: Edge{Origins: []string{"rtmp://o/x"}, IdleTimeout: -time.Second}}}
		}, "apps.e.edge.idle_timeout: -1s must be >= 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := wantDefaults()
			tc.edit(&c)
			err := c.Validate()
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestLoadRelayApps(t *testing.T) {
	clearEnv(t)
	path := writeFile(t, `
apps:
  live:
    forward:
      - rtmp://backup/{app}
      - rtmp://cdn/live/{stream}?token=x
  cdn:
    edge:
      origins: [rtmp://o1/live, "http://o2:8080/{app}"]
      selection: hash
      idle_timeout: 5s
relay:
  pass_query: false
  max_pulls: 7
  max_targets_per_stream: 3
  tls_insecure_skip_verify: true
`)
	cfg, err := Load(path, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"rtmp://backup/{app}", "rtmp://cdn/live/{stream}?token=x"}, cfg.Apps["live"].Forward)
	require.Equal(t, Edge{Origins: []string{"rtmp://o1/live", "http://o2:8080/{app}"}, Selection: SelectHash, IdleTimeout: 5 * time.Second},
		cfg.Apps["cdn"].Edge)
	require.False(t, cfg.Relay.PassQuery)
	require.Equal(t, 7, cfg.Relay.MaxPulls)
	require.Equal(t, 3, cfg.Relay.MaxTargetsPerStream)
	require.True(t, cfg.Relay.TLSInsecureSkipVerify)
	require.Equal(t, 5*time.Second, cfg.EdgeIdleTimeout("cdn"))
	require.Equal(t, 30*time.Second, cfg.EdgeIdleTimeout("live"))
	require.Equal(t, 10*time.Second, cfg.EdgeNotFoundTimeout("cdn"))

	_, err = Load(writeFile(t, "apps:\n  live:\n    forward: rtmp://a/live\n"), nil)
	require.ErrorContains(t, err, "apps.live.forward: expected a list")
	_, err = Load(writeFile(t, "apps:\n  live:\n    forward:\n      - [a]\n"), nil)
	require.ErrorContains(t, err, "apps.live.forward[0]: expected a value")
}
