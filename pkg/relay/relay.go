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
//
// Every relay reconnects with capped exponential backoff and jitter, logs one
// line per state change and nothing per packet, and is visible through
// Manager.Relays.
package relay

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

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
	errIdle     = errors.New("relay: idle: no players")
	errEnded    = errors.New("relay: stream ended")
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

// redact drops the query (auth tokens), fragment and user info from a URL
// for logs and Status.
func redact(raw string) string {
	base, _, _ := strings.Cut(raw, "?")
	base, _, _ = strings.Cut(base, "#")
	if u, err := url.Parse(base); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	return base
}

// hopsOf returns the relay hop count carried by a publish query.
func hopsOf(query string) int {
	v, err := url.ParseQuery(query)
	if err != nil {
		return 0
	}
	var n int
	if _, err := fmt.Sscanf(v.Get(hopsParam), "%d", &n); err != nil || n < 0 {
		return 0
	}
	return n
}
