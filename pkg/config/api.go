package config

import (
	"fmt"
	"strings"
	"time"
)

// API configures the HTTP API under /api/v1, its live events (SSE) and the
// Prometheus endpoint /metrics.
type API struct {
	// Token is the bearer token the API requires (Authorization: Bearer,
	// or ?token= on /api/v1/events, since EventSource cannot send headers).
	// Empty: the API is open on a loopback http.listen; on any other bind
	// it answers only reads (GET) from a loopback client not behind a proxy
	// and refuses (403) the rest.
	Token string `mapstructure:"token"`
	// MetricsToken, when set, protects /metrics with the same bearer rule;
	// empty leaves /metrics open so Prometheus can scrape without secrets.
	MetricsToken string `mapstructure:"metrics_token"`
	// EventsStatsInterval is the period of the SSE "stats" event and of the
	// bitrate/fps sampler.
	EventsStatsInterval time.Duration `mapstructure:"events_stats_interval"`
	// EventsKeepAlive is the period of SSE comment lines that keep idle
	// proxies from closing the stream.
	EventsKeepAlive time.Duration `mapstructure:"events_keepalive"`
}

// Bounds of the api.* durations.
const (
	MinStatsInterval = 100 * time.Millisecond
	MaxStatsInterval = time.Minute
)

func (c *Config) validateAPI() error {
	for _, t := range []struct{ key, v string }{
		{"api.token", c.API.Token},
		{"api.metrics_token", c.API.MetricsToken},
	} {
		if strings.ContainsFunc(t.v, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return fmt.Errorf("config: %s: contains whitespace or control characters", t.key)
		}
	}
	if d := c.API.EventsStatsInterval; d < MinStatsInterval || d > MaxStatsInterval {
		return fmt.Errorf("config: api.events_stats_interval: %s out of range [%s, %s]", d, MinStatsInterval, MaxStatsInterval)
	}
	return positive("api.events_keepalive", c.API.EventsKeepAlive)
}
