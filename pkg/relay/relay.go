// Package relay moves streams between servers, the SRS way: an origin takes
// the publishes and edges serve the viewers.
//
//   - Forward (push): every stream published in an app is pushed to each of
//     the app's destinations, from a hub reader of its own (metadata and
//     sequence headers first; bounded queue and drop-to-keyframe are the
//     hub's), so a down or slow destination costs only itself.
//   - Edge pull: the first player of a stream in an edge app (any protocol,
//     through hub.Demand) starts exactly one upstream pull, which publishes
//     into the local hub like an encoder. When the origin fails mid-stream
//     the pull moves to the next origin with the same hub publisher, so the
//     players stay attached; it stops IdleTimeout after the last player left.
//   - Edge push: a publisher on an edge app is pushed up to an origin (same
//     origin selection), while the local hub still serves local players.
//   - Per-stream targets (restreaming): one live stream instance pushed to
//     more destinations, from the on_publish hook's answer
//     (Config.StreamTargets) or the API (Manager.AddTarget), each a forward
//     of its own that ends with the stream instance or RemoveTarget.
//
// Destinations and origins are rtmp://, rtmps:// (RTMP over TLS) or, for
// pulls, http(s):// HTTP-FLV. Their stream keys are secrets: everything the
// package shows of a URL (Status, logs, errors) goes through Redact.
//
// Every relay reconnects with capped exponential backoff and jitter, logs one
// line per state change and nothing per packet, and is visible through
// Manager.Relays.
package relay

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
)

// Defaults applied by New to zero Config fields, for use without
// pkg/config. Those of a relay.* key equal its config default (pkg/server
// checks this); DefaultNotFoundCache has no key.
const (
	DefaultTimeout         = 5 * time.Second
	DefaultBackoffMin      = 500 * time.Millisecond //nolint:revive // Min is the minimum, not minutes
	DefaultBackoffMax      = 30 * time.Second
	DefaultIdleTimeout     = 30 * time.Second
	DefaultNotFoundTimeout = 10 * time.Second
	DefaultMaxPulls        = 100
	// DefaultNotFoundCache is how long a key whose pull found no origin
	// with the stream is refused at once instead of starting a new pull.
	DefaultNotFoundCache = 5 * time.Second
	// DefaultMaxTargets bounds the forwards of one stream (configured,
	// hook and API ones together).
	DefaultMaxTargets = 16

	// MaxTargetURL bounds the length of a destination URL given to
	// AddTarget or by StreamTargets.
	MaxTargetURL = 2048

	// MaxHops bounds how many relays a stream may cross: a forward adds
	// hopsParam=N+1 to the destination's publish query and streams that
	// arrived with MaxHops are not forwarded again, so a forward loop
	// between servers dies out instead of ping-ponging.
	MaxHops = 8
)

// hopsParam is the publish query parameter counting relay hops.
const hopsParam = "ripple_hops"

// Selection orders an edge app's origins for a stream.
type Selection string

// Selections.
const (
	// SelectFailover tries the origins in the configured order.
	SelectFailover Selection = "failover"
	// SelectHash starts at the origin the stream key hashes to on a
	// consistent-hash ring and falls back to the others in ring order, so
	// each origin serves a stable share of the streams and adding or
	// removing one moves only the streams it gains or loses.
	SelectHash Selection = "hash"
)

// Config configures a Manager. Zero durations mean the defaults.
type Config struct {
	Logger *slog.Logger // nil: discard

	// Apps holds the relay settings of each app that has any.
	Apps map[string]AppConfig

	// Timeout bounds each connection step (dial, handshake, connect,
	// publish, play, HTTP response headers) and the wait for each upstream
	// packet: an origin that goes silent this long is failed over.
	Timeout time.Duration
	// BackoffMin and BackoffMax bound the reconnect delay: it doubles from
	// BackoffMin after each failed attempt up to BackoffMax, with jitter.
	BackoffMin, BackoffMax time.Duration
	// ChunkSize is the outgoing RTMP chunk size of push connections.
	ChunkSize int
	// MaxPulls bounds the edge pulls running at once: any player request
	// for any name in an edge app starts one, and each dials origins for
	// up to NotFoundTimeout. Demand is refused beyond it. 0: DefaultMaxPulls.
	MaxPulls int
	// NotFoundCache: a key whose pull ended with ErrNotFound is refused
	// at once for this long, so repeated requests for a missing stream do
	// not redial the origins. 0: DefaultNotFoundCache.
	NotFoundCache time.Duration
	// Panics recovers a panic of a relay's goroutine (component "relay"):
	// that relay ends with one Error line and its stack, the others and
	// the server go on.
	Panics *guard.Recorder

	// TLS configures rtmps:// and https:// connections (nil: the system
	// roots); the server name is each URL's host.
	TLS *tls.Config
	// InsecureSkipVerify accepts any certificate from rtmps:// and
	// https:// peers (self-signed test servers): encrypted, not
	// authenticated.
	InsecureSkipVerify bool

	// MaxTargets bounds the forwards of one stream instance: configured
	// (AppConfig.Forward), hook (StreamTargets) and API (AddTarget) ones
	// together. Hook and API targets beyond it are refused
	// (ErrTooManyTargets). 0: DefaultMaxTargets.
	MaxTargets int
	// StreamTargets, if set, returns extra destinations for a newly
	// published stream instance (the on_publish hook's answer): rtmp:// or
	// rtmps:// URLs, handled like AddTarget(key, url, SourceHook). It is
	// called once per instance, when its pushes start, on the hub's event
	// goroutine: it must return quickly and must not call the hub. Invalid
	// URLs are logged (redacted) and skipped.
	StreamTargets func(key string, pub hub.PublisherInfo) []string

	// Cluster, if set, pulls streams of the apps that are not edge apps
	// from the cluster node that owns them (cluster.go).
	Cluster *ClusterConfig
}

// AppConfig is one app's relay settings.
type AppConfig struct {
	// Forward lists destination URL templates
	// (rtmp://host[:port]/app[/stream], with {app} and {stream}).
	Forward []string
	// Edge, when set, puts the app in edge mode.
	Edge *EdgeConfig
}

// EdgeConfig is an edge app's settings.
type EdgeConfig struct {
	// Origins lists origin URL templates: rtmp://host[:port]/app[/stream]
	// and http://host[:port]/path[/{stream}.flv] (HTTP-FLV, pull only).
	Origins   []string
	Selection Selection // default SelectFailover
	// PassQuery passes the first player's query string (an auth token) to
	// the origin, and a publisher's to the origin it is pushed to.
	PassQuery bool
	// IdleTimeout stops a pull this long after its last player left.
	IdleTimeout time.Duration
	// NotFoundTimeout stops a pull that got no media from any origin for
	// this long (at start or after losing the stream).
	NotFoundTimeout time.Duration
}

// Errors.
var (
	ErrClosed   = errors.New("relay: manager closed")
	ErrNotFound = errors.New("relay: no origin has the stream")
	// ErrNotLive: AddTarget for a key that is not published.
	ErrNotLive = errors.New("relay: stream is not live")
	// ErrInvalidTarget: a destination URL that is not rtmp[s]://host/app…
	// within MaxTargetURL bytes without control characters.
	ErrInvalidTarget = errors.New("relay: invalid target")
	// ErrTooManyTargets: the stream already has MaxTargets forwards.
	ErrTooManyTargets = errors.New("relay: too many targets for the stream")
	// ErrNoTarget: RemoveTarget of an id that is not a forward of the key.
	ErrNoTarget = errors.New("relay: no such target")
	errIdle     = errors.New("relay: idle: no players")
	errEnded    = errors.New("relay: stream ended")
	errRemoved  = errors.New("relay: target removed")
)

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	c.BackoffMax = max(c.BackoffMax, c.BackoffMin)
	if c.MaxPulls <= 0 {
		c.MaxPulls = DefaultMaxPulls
	}
	if c.NotFoundCache <= 0 {
		c.NotFoundCache = DefaultNotFoundCache
	}
	if c.MaxTargets <= 0 {
		c.MaxTargets = DefaultMaxTargets
	}
	return c
}

func (e EdgeConfig) withDefaults() EdgeConfig {
	if e.Selection == "" {
		e.Selection = SelectFailover
	}
	if e.IdleTimeout <= 0 {
		e.IdleTimeout = DefaultIdleTimeout
	}
	if e.NotFoundTimeout <= 0 {
		e.NotFoundTimeout = DefaultNotFoundTimeout
	}
	return e
}

// splitKey cuts a stream key into app and stream name at the last "/".
func splitKey(key string) (app, name string) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return "", key
	}
	return key[:i], key[i+1:]
}

// Redact returns rawURL as the package shows it (Status, logs, errors):
// without user info, query and fragment, and with the stream key — the last
// path element after the app — replaced by ****:
// rtmp://a.rtmp.youtube.com/live2/KEY?x=1 → rtmp://a.rtmp.youtube.com/live2/****.
// A URL whose path is only the app keeps it; what is not scheme://… at all
// becomes ****.
func Redact(rawURL string) string {
	s, _, _ := strings.Cut(rawURL, "?")
	s, _, _ = strings.Cut(s, "#")
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/@:") {
		if s == "" {
			return ""
		}
		return redacted
	}
	host, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	out := scheme + "://" + host
	path = strings.Trim(path, "/")
	if path == "" {
		return out
	}
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return out + "/" + path // the app alone: no key
	}
	return out + "/" + path[:i] + "/" + redacted
}

const redacted = "****"

// scrub replaces each secret in msg (longest first) with ****. Secrets
// shorter than minSecret are left: replacing one or two characters would
// garble the message without hiding anything worth hiding.
func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		if len(s) >= minSecret {
			msg = strings.ReplaceAll(msg, s, redacted)
		}
	}
	return msg
}

const minSecret = 3

// secretsOf lists what of an RTMP stream name ("name?query") must not be
// shown: the whole, the name, the query and each query value, longest
// first.
func secretsOf(stream string) []string {
	out := []string{stream}
	name, query, _ := strings.Cut(stream, "?")
	out = append(out, name)
	if query != "" {
		out = append(out, query)
		for kv := range strings.SplitSeq(query, "&") {
			if _, v, ok := strings.Cut(kv, "="); ok {
				out = append(out, v)
				if u, err := url.QueryUnescape(v); err == nil && u != v {
					out = append(out, u)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// hopsOf returns the relay hop count carried by a publish query.
func hopsOf(query string) int {
	// ParseQuery returns what it could parse with its first error: a
	// malformed pair elsewhere in the query must not hide the count.
	v, _ := url.ParseQuery(query)
	var n int
	if _, err := fmt.Sscanf(v.Get(hopsParam), "%d", &n); err != nil || n < 0 {
		return 0
	}
	return n
}
