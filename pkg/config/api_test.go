package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestValidateAPI(t *testing.T) {
	cases := []struct {
		name string
		edit func(c *Config)
		err  string
	}{
		{name: "defaults"},
		{name: "tokens", edit: func(c *Config) { c.API.Token, c.API.MetricsToken = "s3cr3t-TOKEN_1", "m" }},
		{name: "token with space", edit: func(c *Config) { c.API.Token = "a b" },
			err: "config: api.token: contains whitespace or control characters"},
		{name: "metrics token with newline", edit: func(c *Config) { c.API.MetricsToken = "a\n" },
			err: "config: api.metrics_token: contains whitespace or control characters"},
		{name: "stats interval too short", edit: func(c *Config) { c.API.EventsStatsInterval = time.Millisecond },
			err: "config: api.events_stats_interval: 1ms out of range [100ms, 1m0s]"},
		{name: "stats interval too long", edit: func(c *Config) { c.API.EventsStatsInterval = time.Hour },
			err: "config: api.events_stats_interval: 1h0m0s out of range [100ms, 1m0s]"},
		{name: "keepalive zero", edit: func(c *Config) { c.API.EventsKeepAlive = 0 },
			err: "config: api.events_keepalive: 0s must be > 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := wantDefaults()
			if tc.edit != nil {
				tc.edit(&c)
			}
			err := c.Validate()
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.err)
		})
	}
}
