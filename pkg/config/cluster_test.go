package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestValidateCluster(t *testing.T) {
	cases := []struct {
		name string
		edit func(c *Config)
		err  string
	}{
		{"off by default", func(*Config) {}, ""},
		{"on", func(c *Config) {
			c.Cluster.RedisURL = "redis://127.0.0.1:6379/0"
			c.Cluster.AdvertiseURL = "http://10.0.0.5:8080"
		}, ""},
		{"advertise derived from one address", func(c *Config) {
			c.Cluster.RedisURL = "rediss://user:pw@redis:6380"
			c.HTTP.Listen = "10.0.0.5:8080"
		}, ""},
		{"advertise needed", func(c *Config) { c.Cluster.RedisURL = "redis://r:6379" },
			`config: cluster.advertise_url: required when http.listen (":8080") names no single address`},
		{"bad scheme", func(c *Config) {
			c.Cluster.RedisURL = "http://user:secret@r:6379"
			c.Cluster.AdvertiseURL = "http://a:8080"
		}, `config: cluster.redis_url: "http://user:xxxxx@r:6379" is not redis://host:port[/db] or rediss://…`},
		{"lease short", func(c *Config) {
			c.Cluster.RedisURL, c.Cluster.AdvertiseURL = "redis://r:6379", "http://a:8080"
			c.Cluster.Lease = 100 * time.Millisecond
		}, "config: cluster.lease: 100ms out of range [1s, 1m0s]"},
		{"node id with space", func(c *Config) {
			c.Cluster.RedisURL, c.Cluster.AdvertiseURL = "redis://r:6379", "http://a:8080"
			c.Cluster.NodeID = "a b"
		}, `config: cluster.node_id: "a b" must be at most 128 printable characters without spaces`},
		{"advertise with path", func(c *Config) {
			c.Cluster.RedisURL, c.Cluster.AdvertiseURL = "redis://r:6379", "http://a:8080/live"
		}, `config: cluster.advertise_url: "http://a:8080/live" is not http[s]://host:port`},
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
			require.EqualError(t, err, tc.err)
		})
	}
}
