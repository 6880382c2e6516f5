package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Relay holds the settings shared by every relay (pkg/relay): forwards
// (apps.NAME.forward) and edge apps (apps.NAME.edge).
type Relay struct {
	// Timeout bounds each connection step of a relay (dial, handshake,
	// connect, publish/play, HTTP headers) and the wait for each packet
	// from an origin: a silent origin is failed over after this long.
	Timeout    time.Duration `mapstructure:"timeout"`
	BackoffMin time.Duration `mapstructure:"backoff_min"` // first reconnect delay, doubled per failure
	BackoffMax time.Duration `mapstructure:"backoff_max"` // reconnect delay cap
	// IdleTimeout stops an edge pull this long after its last player left;
	// apps.NAME.edge.idle_timeout overrides it.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// NotFoundTimeout stops an edge pull that got no media from any origin
	// for this long; apps.NAME.edge.not_found_timeout overrides it.
	NotFoundTimeout time.Duration `mapstructure:"not_found_timeout"`
	// PassQuery sends the first player's query string (auth token) to the
	// origin on a pull, and a publisher's on an edge push.
	PassQuery bool `mapstructure:"pass_query"`
	// MaxPulls bounds the edge pulls running at once: any request for any
	// name in an edge app starts one, so without it random names make the
	// server dial its origins without limit.
	MaxPulls int `mapstructure:"max_pulls"`
	// MaxTargetsPerStream bounds the forwards of one stream: the app's
	// forward list, the on_publish hook's targets and the API's together.
	MaxTargetsPerStream int `mapstructure:"max_targets_per_stream"`
	// TLSInsecureSkipVerify accepts any certificate from rtmps:// and
	// https:// destinations and origins (self-signed test servers): the
	// connection is encrypted but not authenticated.
	TLSInsecureSkipVerify bool `mapstructure:"tls_insecure_skip_verify"`
}

// Bounds of relay.max_pulls and relay.max_targets_per_stream.
const (
	MaxRelayPulls   = 100000
	MaxRelayTargets = 256
)

// Edge puts an app in edge mode when Origins is not empty: players pull
// from the origins on demand, publishers are pushed up to one.
type Edge struct {
	// Origins are rtmp[s]://host[:port]/app[/stream] and
	// http[s]://host[:port]/path[/{stream}.flv] templates ({app}, {stream}).
	Origins []string `mapstructure:"origins"`
	// Selection is failover (in order; the default) or hash (consistent
	// hashing of the stream key, then the others in ring order).
	Selection       EdgeSelection `mapstructure:"selection"`
	IdleTimeout     time.Duration `mapstructure:"idle_timeout"`      // 0: relay.idle_timeout
	NotFoundTimeout time.Duration `mapstructure:"not_found_timeout"` // 0: relay.not_found_timeout
}

// MaxRelayURLs bounds apps.NAME.forward and apps.NAME.edge.origins.
const MaxRelayURLs = 64

// validateRelay checks the relay section and every app's forward and edge
// keys, naming the key in every error.
func (c *Config) validateRelay() error {
	r := c.Relay
	errs := []error{
		positive("relay.timeout", r.Timeout),
		positive("relay.backoff_min", r.BackoffMin),
		positive("relay.backoff_max", r.BackoffMax),
		positive("relay.idle_timeout", r.IdleTimeout),
		positive("relay.not_found_timeout", r.NotFoundTimeout),
	}
	if r.MaxPulls < 1 || r.MaxPulls > MaxRelayPulls {
		errs = append(errs, fmt.Errorf("config: relay.max_pulls: %d out of range [1, %d]", r.MaxPulls, MaxRelayPulls))
	}
	if r.MaxTargetsPerStream < 1 || r.MaxTargetsPerStream > MaxRelayTargets {
		errs = append(errs, fmt.Errorf("config: relay.max_targets_per_stream: %d out of range [1, %d]", r.MaxTargetsPerStream, MaxRelayTargets))
	}
	if r.BackoffMax < r.BackoffMin {
		errs = append(errs, fmt.Errorf("config: relay.backoff_max: %s is less than relay.backoff_min %s", r.BackoffMax, r.BackoffMin))
	}
	for _, name := range sortedApps(c.Apps) {
		a := c.Apps[name]
		key := "apps." + name
		if len(a.Forward) > MaxRelayURLs {
			errs = append(errs, fmt.Errorf("config: %s.forward: %d destinations, limit %d", key, len(a.Forward), MaxRelayURLs))
		} else if len(a.Forward) > r.MaxTargetsPerStream {
			errs = append(errs, fmt.Errorf("config: %s.forward: %d destinations, more than relay.max_targets_per_stream %d",
				key, len(a.Forward), r.MaxTargetsPerStream))
		}
		for i, u := range a.Forward {
			errs = append(errs, relayURL(fmt.Sprintf("%s.forward[%d]", key, i), u, false))
		}
		e := a.Edge
		if len(e.Origins) == 0 {
			if e.Selection != 0 || e.IdleTimeout != 0 || e.NotFoundTimeout != 0 {
				errs = append(errs, fmt.Errorf("config: %s.edge.origins: empty, but the app has other edge keys", key))
			}
			continue
		}
		if len(e.Origins) > MaxRelayURLs {
			errs = append(errs, fmt.Errorf("config: %s.edge.origins: %d origins, limit %d", key, len(e.Origins), MaxRelayURLs))
		}
		for i, u := range e.Origins {
			errs = append(errs, relayURL(fmt.Sprintf("%s.edge.origins[%d]", key, i), u, true))
		}
		if e.Selection != 0 { // unset: failover
			errs = append(errs, edgeSelections.check(key+".edge.selection", e.Selection))
		}
		errs = append(errs, nonNegative(key+".edge.idle_timeout", e.IdleTimeout),
			nonNegative(key+".edge.not_found_timeout", e.NotFoundTimeout))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// relayURL checks the shape of a relay URL template; pkg/relay parses it
// fully when the server starts.
func relayURL(key, raw string, allowHTTP bool) error {
	scheme, rest, ok := strings.Cut(raw, "://")
	switch {
	case !ok:
		return fmt.Errorf("config: %s: %q has no scheme (want rtmp://host/app)", key, raw)
	case scheme == "rtmp", scheme == "rtmps":
	case allowHTTP && (scheme == "http" || scheme == "https"):
	default:
		want := "rtmp or rtmps"
		if allowHTTP {
			want = "rtmp, rtmps, http or https"
		}
		return fmt.Errorf("config: %s: %q: scheme %q is not %s", key, raw, scheme, want)
	}
	host, path, _ := strings.Cut(rest, "/")
	if host == "" {
		return fmt.Errorf("config: %s: %q has no host", key, raw)
	}
	if strings.HasPrefix(scheme, "rtmp") && strings.Trim(strings.SplitN(path, "?", 2)[0], "/") == "" {
		return fmt.Errorf("config: %s: %q has no app (want rtmp[s]://host[:port]/app[/stream])", key, raw)
	}
	rest = strings.NewReplacer("{app}", "", "{stream}", "").Replace(raw)
	if strings.ContainsAny(rest, "{} \t\r\n") {
		return fmt.Errorf("config: %s: %q: unknown template variable or blank (want {app} or {stream})", key, raw)
	}
	return nil
}

// EdgeIdleTimeout returns app's pull idle timeout (its override or
// relay.idle_timeout).
func (c *Config) EdgeIdleTimeout(app string) time.Duration {
	if d := c.Apps[app].Edge.IdleTimeout; d > 0 {
		return d
	}
	return c.Relay.IdleTimeout
}

// EdgeNotFoundTimeout returns app's not-found timeout (its override or
// relay.not_found_timeout).
func (c *Config) EdgeNotFoundTimeout(app string) time.Duration {
	if d := c.Apps[app].Edge.NotFoundTimeout; d > 0 {
		return d
	}
	return c.Relay.NotFoundTimeout
}

func sortedApps(apps map[string]App) []string {
	names := make([]string, 0, len(apps))
	for name := range apps {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
