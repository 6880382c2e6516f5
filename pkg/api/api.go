// Package api is Ripple's operator HTTP API under /api/v1: JSON views of the
// hub's streams and clients, kicks, a server summary, and a Server-Sent
// Events stream of lifecycle changes and periodic stats. It is documented in
// openapi.yaml (embedded and served at /api/v1/openapi.yaml).
//
// Everything here reads hub snapshots on request or on a timer: nothing is
// done per packet. A sampler computes ingest bitrate and frame rate from
// counter deltas every StatsInterval and feeds both the JSON views and the
// SSE "stats" event.
package api

import (
	"context"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1"

// Defaults applied by New to zero Config fields, for use without
// pkg/config. DefaultStatsInterval and DefaultKeepAlive equal the config
// defaults of api.events_stats_interval and api.events_keepalive,
// DefaultWriteTimeout that of http.write_timeout (pkg/server checks this);
// DefaultEventsBacklog has no key.
const (
	DefaultStatsInterval = 2 * time.Second
	DefaultKeepAlive     = 15 * time.Second
	DefaultWriteTimeout  = 10 * time.Second
	DefaultEventsBacklog = 256
)

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the OpenAPI 3 document of the API.
func OpenAPI() []byte { return openAPI }

// Config configures the API.
type Config struct {
	Logger *slog.Logger // nil: discard

	// Token, when not empty, is the bearer token every /api/v1 request
	// must carry.
	Token string
	// RequireToken is set when the HTTP listener is reachable beyond
	// loopback. With no Token configured, the API then answers only reads
	// (GET, HEAD) from a loopback client that did not come through a proxy,
	// and 403 to everything else (authorize).
	RequireToken bool

	StatsInterval time.Duration // sampler and SSE stats period; default 2s
	KeepAlive     time.Duration // SSE keep-alive comment period; default 15s
	WriteTimeout  time.Duration // per SSE write; default 10s
	EventsBacklog int           // SSE events kept for Last-Event-ID resume; default 256

	// Version is reported by /summary; default: the main module's build
	// version.
	Version string
	// Connections returns the open connections per listener ("rtmp",
	// "http") for /summary; nil reports none.
	Connections func() map[string]int
	// Relays returns the running relays; nil when relaying is off.
	Relays func() []Relay
	// Recorder starts, stops and lists recordings; nil: recording
	// endpoints answer 501 and the list is empty.
	Recorder Recorder
	// Forwarder lists, adds and removes the restream targets of live
	// streams; nil: the /forwards endpoints answer 501.
	Forwarder Forwarder
	// Redact returns a restream URL with its secrets hidden (the relay's
	// redaction), for error answers that would quote a submitted URL; nil
	// replaces such a URL with "(target)".
	Redact func(url string) string
	// HLSViewers returns the HLS viewers of a stream, counted from their
	// requests (pkg/hls Manager.Viewers): the players reported for "hls".
	// nil reports none (HLS off).
	HLSViewers func(key string) int
	// Cluster returns the origin cluster's view (nodes, claimed streams),
	// encoded as JSON under "cluster"; nil: not in a cluster. An error
	// (the registry is down) is reported with what is known locally.
	Cluster func(ctx context.Context) (any, error)
	// Transcode returns a source's transcode ladder (nil: none); nil when
	// no app transcodes.
	Transcode func(key string) *Transcode
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.StatsInterval <= 0 {
		c.StatsInterval = DefaultStatsInterval
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.EventsBacklog <= 0 {
		c.EventsBacklog = DefaultEventsBacklog
	}
	if c.Version == "" {
		c.Version = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			c.Version = bi.Main.Version
		}
	}
	return c
}

// API serves /api/v1. New builds it, Start starts its sampler and its
// watch of the hub, Close stops them and ends every open event stream.
type API struct {
	cfg     Config
	log     *slog.Logger
	hub     *hub.Hub
	started time.Time
	mux     *http.ServeMux

	sampler *Sampler
	broker  *broker

	hlsMu   sync.Mutex
	hlsLast map[string]int // HLS viewers per stream at the last stats tick (eventPlayers)

	closeOnce sync.Once
	mu        sync.Mutex
	running   bool // Start ran: the sampler ticks, the hub is watched
	closed    bool
	unwatch   func()
}

// New builds the API over h; Start makes it sample and watch the hub.
func New(cfg Config, h *hub.Hub) *API {
	cfg = cfg.withDefaults()
	a := &API{cfg: cfg, log: cfg.Logger, hub: h, started: time.Now()}
	a.broker = newBroker(cfg.EventsBacklog)
	a.sampler = newSampler(h, cfg.StatsInterval, a.publishStats)
	a.mux = http.NewServeMux()
	for _, rt := range a.routes() {
		a.mux.HandleFunc(rt.pattern, rt.handler)
	}
	return a
}

// route is one endpoint; routes() is also what the OpenAPI test walks.
type route struct {
	pattern string // Go 1.22 ServeMux pattern: "GET /api/v1/streams"
	handler http.HandlerFunc
}

func (a *API) routes() []route {
	return []route{
		{"GET " + Prefix + "/streams", a.listStreams},
		{"GET " + Prefix + "/streams/{path...}", a.getStream},
		{"POST " + Prefix + "/streams/{path...}", a.streamPost},
		{"DELETE " + Prefix + "/streams/{path...}", a.streamDelete},
		{"GET " + Prefix + "/recordings", a.listRecordings},
		{"GET " + Prefix + "/clients", a.listClients},
		{"DELETE " + Prefix + "/clients/{id}", a.kickClient},
		{"GET " + Prefix + "/summary", a.summary},
		{"GET " + Prefix + "/relays", a.listRelays},
		{"GET " + Prefix + "/cluster", a.cluster},
		{"GET " + Prefix + "/events", a.events},
		{"GET " + Prefix + "/openapi.yaml", a.openAPI},
	}
}

// Sampler returns the API's rate sampler (for the metrics collector); it
// measures nothing before Start.
func (a *API) Sampler() *Sampler { return a.sampler }

// Start takes a first sample, starts the sampler and turns hub events into
// the event stream's. Later calls, and calls after Close, do nothing.
func (a *API) Start() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running || a.closed {
		return
	}
	a.running = true
	a.unwatch = a.hub.Watch(a.onHubEvent)
	a.sampler.start()
}

// Close stops the sampler and the hub watch and ends every event stream,
// waiting for their handlers to return. Idempotent; the error is always nil
// (io.Closer).
func (a *API) Close() error {
	a.closeOnce.Do(func() {
		a.mu.Lock()
		a.closed = true
		running := a.running
		a.mu.Unlock()
		if running {
			a.unwatch()
			a.sampler.Close()
		}
		a.broker.close()
	})
	return nil
}

// ServeHTTP authorizes the request, then routes it. Unknown paths under
// /api/v1 get a JSON 404.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.authorize(w, r) {
		return
	}
	h, pattern := a.mux.Handler(r)
	if pattern == "" {
		// The mux's own 404/405 are text: answer JSON, keeping Allow.
		probe := &statusProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.code == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path)
			return
		}
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
		return
	}
	a.mux.ServeHTTP(w, r) // again, so that it sets r's path values
}

// statusProbe records the status and headers of the mux's error handlers.
type statusProbe struct {
	header http.Header
	code   int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(code int)        { p.code = code }

// authorize applies the token rule (docs/architecture.md §5). With a
// token configured every request must present it. Without one, a loopback
// bind leaves the API open; any other bind (":8080" included) leaves it open
// only to reads (GET, HEAD) from a client on this machine (localRead), so
// the player page works after a plain start, and refuses the rest with 403
// and what to set. EventSource cannot set headers, so /events also accepts
// ?token=.
func (a *API) authorize(w http.ResponseWriter, r *http.Request) bool {
	if a.cfg.Token == "" {
		if !a.cfg.RequireToken {
			// A loopback bind is open to this machine, but a reverse
			// proxy in front of it would open it to the world: changes
			// (kicks, recordings, restream targets that push a stream
			// anywhere) relayed by one need a token.
			if r.Method != http.MethodGet && r.Method != http.MethodHead && proxied(r) {
				writeError(w, http.StatusForbidden, msgNeedTokenProxyChange)
				return false
			}
			return true
		}
		ok, why := localRead(r)
		if !ok {
			writeError(w, http.StatusForbidden, why)
		}
		return ok
	}
	got, ok := bearer(r)
	if !ok && r.URL.Path == Prefix+"/events" {
		got, ok = r.URL.Query().Get("token"), r.URL.Query().Has("token")
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ripple"`)
		writeError(w, http.StatusUnauthorized, "missing bearer token")
		return false
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.Token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ripple", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid bearer token")
		return false
	}
	return true
}

// Refusals of a tokenless API on a non-loopback bind; each says what to do.
const (
	msgNeedTokenChange = "api.token is not set and http.listen is not a loopback address: " +
		"changes (kicks, recordings, restream targets) need a token; set api.token and send Authorization: Bearer TOKEN"
	msgNeedTokenRemote = "api.token is not set and http.listen is not a loopback address: " +
		"without a token the API answers only reads from this machine; set api.token and send Authorization: Bearer TOKEN"
	msgNeedTokenProxyChange = "api.token is not set and the request came through a proxy: " +
		"changes (kicks, recordings, restream targets) need a token; set api.token and send Authorization: Bearer TOKEN"
	msgNeedTokenProxy = "api.token is not set and the request came through a proxy: " +
		"without a token the API answers only direct reads from this machine; set api.token and send Authorization: Bearer TOKEN"
)

// proxyHeaders mark a request relayed by a proxy: its peer address is the
// proxy's, possibly on this machine, not the client's.
var proxyHeaders = []string{"X-Forwarded-For", "Forwarded", "X-Real-IP"}

// localRead reports whether a tokenless API on a non-loopback bind answers
// r: a read (GET, HEAD: every read-only route, /clients included, whose
// addresses are no secret to someone on the machine) from a loopback peer
// that is not a proxy. r.RemoteAddr is the TCP peer, or the client that a
// trusted proxy's X-Forwarded-For names (pkg/server rewrites it); either
// way a proxy header refuses the request, since a local reverse proxy makes
// every remote client look local. A proxy that adds none of these headers
// cannot be told apart: set api.token behind one. why is the refusal.
// proxied reports whether r carries a header a proxy adds.
func proxied(r *http.Request) bool {
	for _, h := range proxyHeaders {
		if len(r.Header.Values(h)) > 0 {
			return true
		}
	}
	return false
}

func localRead(r *http.Request) (ok bool, why string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false, msgNeedTokenChange
	}
	if proxied(r) {
		return false, msgNeedTokenProxy
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr // pkg/server's realIP stores a bare address
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return false, msgNeedTokenRemote
	}
	return true, ""
}

// bearer extracts the token of an "Authorization: Bearer TOKEN" header
// (RFC 6750 §2.1; the scheme is case-insensitive).
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// TokenHandler wraps next with the bearer rule for token (used for
// /metrics with api.metrics_token). An empty token leaves next open.
func TokenHandler(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearer(r)
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ripple"`)
			writeError(w, http.StatusUnauthorized, "missing or invalid bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *API) openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openAPI) // a failed write means the client left
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, Error{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Our own types always marshal; this is a bug.
		status = http.StatusInternalServerError
		b = []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n')) // a failed write means the client left
}
