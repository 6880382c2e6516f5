package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Cluster joins the server to an origin cluster coordinated through Redis
// (or Valkey): any node takes any publish, every node plays every stream.
// An empty RedisURL keeps the server on its own.
type Cluster struct {
	// RedisURL is redis://[user:pass@]host:port/db or rediss:// (TLS).
	RedisURL string `mapstructure:"redis_url"`
	// NodeID names this node in the registry; empty: the host name.
	NodeID string `mapstructure:"node_id"`
	// AdvertiseURL is how the other nodes reach this one's HTTP listener
	// to pull its streams (http[s]://host:port, no path); empty: derived
	// from http.listen when it names an address, else required.
	AdvertiseURL string `mapstructure:"advertise_url"`
	// Lease is the ownership lease of a published stream, renewed every
	// Lease/3: a node that stops renewing loses its streams after it.
	Lease time.Duration `mapstructure:"lease"`
}

// Bounds of cluster.lease: below a second a GC pause or a slow Redis round
// trip loses claims; past a minute a dead node blocks its keys too long.
const (
	MinClusterLease = time.Second
	MaxClusterLease = time.Minute
	// MaxNodeID bounds cluster.node_id.
	MaxNodeID = 128
)

// Enabled reports whether the server joins a cluster.
func (c Cluster) Enabled() bool { return c.RedisURL != "" }

func (c *Config) validateCluster() error {
	cl := c.Cluster
	if err := durationRange("cluster.lease", cl.Lease, MinClusterLease, MaxClusterLease); err != nil {
		return err
	}
	if len(cl.NodeID) > MaxNodeID || strings.ContainsFunc(cl.NodeID, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("config: cluster.node_id: %q must be at most %d printable characters without spaces", cl.NodeID, MaxNodeID)
	}
	if cl.AdvertiseURL != "" {
		a, err := url.Parse(cl.AdvertiseURL)
		if err != nil || (a.Scheme != "http" && a.Scheme != "https") || a.Host == "" || strings.Trim(a.Path, "/") != "" ||
			a.RawQuery != "" || a.User != nil {
			return fmt.Errorf("config: cluster.advertise_url: %q is not http[s]://host:port", cl.AdvertiseURL)
		}
	}
	if !cl.Enabled() {
		return nil
	}
	u, err := url.Parse(cl.RedisURL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return fmt.Errorf("config: cluster.redis_url: %q is not redis://host:port[/db] or rediss://…", redactURL(cl.RedisURL))
	}
	if cl.AdvertiseURL == "" && !singleAddress(c.HTTP.Listen) {
		return fmt.Errorf("config: cluster.advertise_url: required when http.listen (%q) names no single address", c.HTTP.Listen)
	}
	return nil
}

// singleAddress reports whether a listen address names one reachable host
// (not "", ":8080", "0.0.0.0:8080" or "[::]:8080").
func singleAddress(listen string) bool {
	host, _, _ := strings.Cut(listen, ":")
	if strings.HasPrefix(listen, "[") {
		host, _, _ = strings.Cut(strings.TrimPrefix(listen, "["), "]")
	}
	return host != "" && host != "0.0.0.0" && host != "::"
}

// redactURL hides a password in a URL shown in an error.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if i := strings.LastIndexByte(s, '@'); i >= 0 {
			return "****" + s[i:]
		}
		return s
	}
	return u.Redacted()
}
