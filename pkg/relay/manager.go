package relay

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// Manager runs every relay of one server: it watches the hub for publishes
// (forwards, edge pushes) and answers its demand for streams of edge apps
// (pulls). New builds it, Start makes it act, Shutdown or Close stops it.
type Manager struct {
	cfg  Config
	log  *slog.Logger
	hub  *hub.Hub
	http *http.Client

	forwards map[string][]target // app → destinations
	edges    map[string]*edgeApp // app → edge settings
	cluster  *edgeApp            // cluster pulls' settings; nil: not in a cluster

	unwatch func()
	wg      sync.WaitGroup

	mu      sync.Mutex
	started bool
	closed  bool
	nextID  uint64
	pulls   map[string]*puller // stream key → its one pull
	// notFound: keys whose last pull found no origin with the stream, until
	// when demand for them is refused without a pull.
	notFound map[string]time.Time
	atLimit  bool                // MaxPulls reached; logged once per change
	pushes   map[string]*pushSet // stream key → forwards and edge push of the live stream instance
	running  map[uint64]*handle  // every relay not yet stopped, by id
}

// handle is what the manager keeps of a running relay.
type handle struct {
	st     *status
	cancel func(error)
}

// edgeApp is an edge app's parsed settings.
type edgeApp struct {
	cfg     EdgeConfig
	origins []target
	names   []string // origin templates, the ring's identities
	ring    *ring    // SelectHash only
	rtmp    []int    // indexes of rtmp origins (edge push targets)
	// locate, for cluster pulls (no origins), names the owner's node.
	locate func(ctx context.Context, key string) (string, error)
}

// order returns origin indexes in the order to try for key.
func (e *edgeApp) order(key string) []int {
	if e.ring != nil {
		return e.ring.order(key)
	}
	out := make([]int, len(e.origins))
	for i := range out {
		out[i] = i
	}
	return out
}

// pushOrder is order restricted to rtmp origins.
func (e *edgeApp) pushOrder(key string) []target {
	var out []target
	for _, i := range e.order(key) {
		if !e.origins[i].http {
			out = append(out, e.origins[i])
		}
	}
	return out
}

// New checks cfg and returns a Manager; Start makes it act.
func New(cfg Config, h *hub.Hub) (*Manager, error) {
	cfg = cfg.withDefaults()
	m := &Manager{
		cfg:      cfg,
		log:      cfg.Logger,
		hub:      h,
		forwards: make(map[string][]target),
		edges:    make(map[string]*edgeApp),
		pulls:    make(map[string]*puller),
		notFound: make(map[string]time.Time),
		pushes:   make(map[string]*pushSet),
		running:  make(map[uint64]*handle),
	}
	if cfg.Cluster != nil {
		if cfg.Cluster.Locate == nil {
			return nil, errors.New("relay: cluster without Locate")
		}
		m.cluster = newClusterApp(cfg.Cluster)
	}
	m.http = &http.Client{Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
		ResponseHeaderTimeout: cfg.Timeout,
		TLSHandshakeTimeout:   cfg.Timeout,
		TLSClientConfig:       cfg.httpTLS(),
		DisableCompression:    true, // FLV is not compressible; gzip only adds latency
		MaxIdleConnsPerHost:   4,
	}}
	for app, ac := range cfg.Apps {
		for _, raw := range ac.Forward {
			t, err := parseTarget(raw, false)
			if err != nil {
				return nil, fmt.Errorf("relay: app %q forward: %w", app, err)
			}
			m.forwards[app] = append(m.forwards[app], t)
		}
		if ac.Edge == nil {
			continue
		}
		ec := ac.Edge.withDefaults()
		if len(ec.Origins) == 0 {
			return nil, fmt.Errorf("relay: edge app %q has no origins", app)
		}
		e := &edgeApp{cfg: ec}
		for i, raw := range ec.Origins {
			t, err := parseTarget(raw, true)
			if err != nil {
				return nil, fmt.Errorf("relay: edge app %q origin: %w", app, err)
			}
			e.origins = append(e.origins, t)
			e.names = append(e.names, raw)
			if !t.http {
				e.rtmp = append(e.rtmp, i)
			}
		}
		switch ec.Selection {
		case SelectFailover:
		case SelectHash:
			e.ring = newRing(e.names)
		default:
			return nil, fmt.Errorf("relay: edge app %q: selection %q is not failover or hash", app, ec.Selection)
		}
		m.edges[app] = e
	}
	return m, nil
}

// Start watches the hub and installs the edge demand handler. Later calls,
// and calls after Close, do nothing. Start and Close are not called
// concurrently.
func (m *Manager) Start() {
	m.mu.Lock()
	if m.started || m.closed {
		m.mu.Unlock()
		return
	}
	m.started = true
	m.mu.Unlock()
	for app, e := range m.edges {
		if len(e.rtmp) == 0 {
			m.log.Warn("edge publish disabled: no rtmp origin", "app", app)
		}
	}
	m.unwatch = m.hub.Watch(m.onEvent)
	if m.pullsAny() {
		m.hub.SetDemand(m.demand)
	}
}

// Close stops every relay (pulls close their hub publishers) and waits for
// them. Idempotent; the error is always nil (io.Closer).
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	started := m.started
	var stops []func(error)
	for _, h := range m.running {
		stops = append(stops, h.cancel)
	}
	m.mu.Unlock()
	if started {
		m.unwatch()
		if m.pullsAny() {
			m.hub.SetDemand(nil)
		}
	}
	for _, stop := range stops {
		stop(ErrClosed)
	}
	m.wg.Wait()
	m.http.CloseIdleConnections()
	return nil
}

// Shutdown stops every relay like Close, but returns by the time ctx ends:
// nil once they all ended, or ctx's cause while some are still ending (each
// within Timeout, on its own goroutine).
func (m *Manager) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		_ = m.Close() // never fails
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Relays returns a snapshot of the running relays, oldest first.
func (m *Manager) Relays() []Status {
	m.mu.Lock()
	sts := make([]*status, 0, len(m.running))
	for _, h := range m.running {
		sts = append(sts, h.st)
	}
	m.mu.Unlock()
	out := make([]Status, 0, len(sts))
	for _, st := range sts {
		out = append(out, st.snapshot())
	}
	slices.SortFunc(out, func(a, b Status) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// goLocked registers a relay and runs it on its own goroutine.
func (m *Manager) goLocked(st *status, cancel func(error), run func()) {
	m.running[st.s.ID] = &handle{st: st, cancel: cancel}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		// Upstream bytes are parsed in run: a panic ends this relay only
		// (its deferred cleanup has run by the time Do returns).
		m.cfg.Panics.Do(access.ProtoRelay, m.log.With("relay", st.s.ID, "stream", st.s.Stream), run)
		m.mu.Lock()
		delete(m.running, st.s.ID)
		m.mu.Unlock()
	}()
}

func (m *Manager) newStatusLocked(kind Kind, src TargetSource, key, target string) *status {
	m.nextID++
	return newStatus(m.log, m.nextID, kind, src, key, target, time.Now())
}

// clientConfig is the RTMP client configuration of every relay connection.
func (m *Manager) clientConfig() rtmp.ClientConfig {
	return rtmp.ClientConfig{Logger: m.log, Timeout: m.cfg.Timeout, ChunkSize: m.cfg.ChunkSize, Panics: m.cfg.Panics,
		TLS: m.cfg.TLS, InsecureSkipVerify: m.cfg.InsecureSkipVerify}
}

// httpTLS is the TLS configuration of https:// origins (nil: Go's default).
func (c Config) httpTLS() *tls.Config {
	if c.TLS == nil && !c.InsecureSkipVerify {
		return nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLS != nil {
		tc = c.TLS.Clone()
		tc.MinVersion = max(tc.MinVersion, tls.VersionTLS12)
	}
	if c.InsecureSkipVerify {
		tc.InsecureSkipVerify = true //nolint:gosec // asked for: self-signed test servers
	}
	return tc
}

// onEvent is the hub watcher: it runs on the hub caller's goroutine, so it
// only takes m.mu briefly and starts goroutines; it never calls into the hub
// while holding m.mu (hub calls emit events, which would come back here).
func (m *Manager) onEvent(e hub.Event) {
	switch e.Type {
	case hub.EventPublish:
		switch {
		case !e.Resumed:
			m.startPushes(e.Key, e.Publisher)
		case e.Publisher.Protocol == access.ProtoRelay:
			// A pull took the stream over (this cluster node stopped
			// being its origin): the origin forwards it now, not us.
			m.stopPushes(e.Key)
		default:
			// A publisher took over a pulled stream (it won the cluster
			// claim here): it forwards from now on.
			m.mu.Lock()
			none := m.pushes[e.Key] == nil
			m.mu.Unlock()
			if none {
				m.startPushes(e.Key, e.Publisher)
			}
		}
	case hub.EventStreamEnd:
		m.streamEnded(e.Key)
	case hub.EventReaderJoin, hub.EventReaderLeave:
		m.mu.Lock()
		p := m.pulls[e.Key]
		m.mu.Unlock()
		if p != nil {
			p.readersChanged(e.Readers)
		}
	}
}

// pullsAny reports whether players may start pulls (edge apps, cluster).
func (m *Manager) pullsAny() bool { return len(m.edges) > 0 || m.cluster != nil }

// demand is the hub's demand handler: the first player of a stream of an
// edge app starts its one pull; later ones share it. A stream of another
// app is pulled from its cluster owner, if in a cluster.
func (m *Manager) demand(key string, info hub.ReaderInfo) error {
	app, _ := splitKey(key)
	e := m.edges[app]
	if e == nil {
		if m.cluster != nil {
			return m.clusterDemand(key, info)
		}
		return hub.ErrStreamNotFound
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || !m.started {
		return hub.ErrStreamNotFound
	}
	query := ""
	if e.cfg.PassQuery {
		query = info.Query
	}
	if p := m.pulls[key]; p != nil {
		p.demanded(query)
		return nil
	}
	if until, ok := m.notFound[notFoundKey(key, query)]; ok {
		if time.Now().Before(until) {
			return hub.ErrStreamNotFound
		}
		delete(m.notFound, notFoundKey(key, query))
	}
	if len(m.pulls) >= m.cfg.MaxPulls {
		if !m.atLimit {
			m.atLimit = true
			m.log.Warn("edge pulls at limit: refusing new pulls", "limit", m.cfg.MaxPulls, "key", key)
		}
		return hub.ErrStreamNotFound
	}
	p := newPuller(m, e, key, query, m.newStatusLocked(KindPull, SourceConfig, key, ""))
	m.pulls[key] = p
	m.goLocked(p.st, p.cancel, p.run)
	return nil
}

// notFoundKey is what a not-found pull is remembered under: the key and
// the query the pull carried (pass_query). An origin that refused one
// query (no token, an expired one) may admit another: a player with a
// valid token must not be refused for NotFoundCache because of a player
// without one.
func notFoundKey(key, query string) string {
	if query == "" {
		return key
	}
	return key + "?" + query
}

// removePull forgets p, which ended with err; a not-found key (with the
// query it carried) is refused for NotFoundCache.
func (m *Manager) removePull(p *puller, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pulls[p.key] == p {
		delete(m.pulls, p.key)
	}
	if errors.Is(err, ErrNotFound) {
		now := time.Now()
		if len(m.notFound) >= m.cfg.MaxPulls {
			// Entries expire quickly; drop the stale ones so random
			// names cannot grow the map.
			for k, until := range m.notFound {
				if !now.Before(until) {
					delete(m.notFound, k)
				}
			}
		}
		m.notFound[notFoundKey(p.key, p.currentQuery())] = now.Add(m.cfg.NotFoundCache)
	}
	if m.atLimit && len(m.pulls) < m.cfg.MaxPulls {
		m.atLimit = false
		m.log.Info("edge pulls below limit again", "limit", m.cfg.MaxPulls, "pulls", len(m.pulls))
	}
}
