package hls

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/cors"
	"github.com/ripplemedia/ripple/pkg/internal/netx"
)

// demandWait bounds how long a first request waits for an on-demand source
// (an edge pull) to go live.
const demandWait = 10 * time.Second

// Manager runs one muxer per live stream and serves them over HTTP (it is
// an http.Handler for GET, HEAD and OPTIONS on the URLs of the package
// comment). New builds it, Start makes it follow the hub, Close stops it.
type Manager struct {
	cfg     Config
	hub     *hub.Hub
	cors    cors.Policy
	unwatch func()
	done    chan struct{} // closed by Close: blocked requests give up
	epochs  epochs        // media epochs, unique across this Manager's muxers

	refusedLog netx.LogLimiter
	viewers    *viewers         // HLS clients per stream, from their requests (viewers.go)
	rends      renditions       // which live streams render which source (renditions.go)
	now        func() time.Time // the viewers' clock; tests replace it

	mu      sync.Mutex
	muxers  map[string]*muxer
	started bool
	closed  bool
	wg      sync.WaitGroup
}

// New returns a Manager reading streams from h; Start makes it act.
func New(cfg Config, h *hub.Hub) *Manager {
	cfg = cfg.withDefaults()
	m := &Manager{
		cfg:    cfg,
		hub:    h,
		done:   make(chan struct{}),
		muxers: make(map[string]*muxer),
		// No window is longer than three of the longest target duration.
		viewers: newViewers(viewerWindows * time.Duration(ceilSeconds(cfg.SegmentMaxDuration)) * time.Second),
		now:     time.Now,
	}
	m.cors = cors.New(cfg.AllowOrigin)
	return m
}

// Start watches the hub: unless cfg.OnDemand, a muxer starts on every
// publish (and for streams already live). Later calls, and calls after
// Close, do nothing. Start and Close are not called concurrently.
func (m *Manager) Start() {
	m.mu.Lock()
	if m.started || m.closed {
		m.mu.Unlock()
		return
	}
	m.started = true
	m.mu.Unlock()
	m.unwatch = m.hub.Watch(m.onEvent)
	for _, s := range m.hub.Streams() {
		if s.Publisher.Source != "" {
			m.trackRendition(s.Key, s.Publisher)
		}
		if !m.cfg.OnDemand && s.Publisher.Protocol != access.ProtoRelay {
			m.ensure(s.Key, false)
		}
	}
}

// onEvent runs synchronously in the hub: it only starts goroutines and sets
// flags.
func (m *Manager) onEvent(e hub.Event) {
	switch e.Type {
	case hub.EventPublish:
	case hub.EventStreamEnd:
		m.renditionEnded(e.Key)
		return
	default:
		return
	}
	// Every publish says whether the key is a rendition now (a takeover
	// by another publisher may change it).
	m.trackRendition(e.Key, e.Publisher)
	if e.Resumed {
		m.mu.Lock()
		mx := m.muxers[e.Key]
		m.mu.Unlock()
		if mx != nil && !isClosed(mx.stopped) {
			mx.resumed.Store(true)
			if e.Publisher.Protocol == access.ProtoRelay {
				// Pulled from elsewhere now (a cluster node that stopped
				// being the origin): muxed only while HLS players ask,
				// so that the pull can stop.
				m.watchIdle(mx)
			}
			return
		}
	}
	// A pulled stream (edge or cluster) is muxed only for HLS players
	// (demand), so that the pull can stop when they are gone.
	if !m.cfg.OnDemand && e.Publisher.Protocol != access.ProtoRelay {
		m.ensure(e.Key, false)
	}
}

// ensure returns key's running muxer, starting one if needed (one that
// stops after IdleTimeout without requests if idle); nil after Close.
//
//nolint:contextcheck // a muxer outlives the request that starts it: it runs on a context of its own
func (m *Manager) ensure(key string, idle bool) *muxer {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	if mx := m.muxers[key]; mx != nil && !isClosed(mx.stopped) {
		return mx
	}
	mx := newMuxer(key, &m.cfg, m.hub, &m.epochs)
	ctx, cancel := context.WithCancel(context.Background())
	mx.cancel = cancel
	m.muxers[key] = mx
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer cancel()
		if idle {
			m.watchIdle(mx)
		}
		mx.log.Info("hls muxer started", "variant", m.cfg.Variant.String())
		start := time.Now()
		err := mx.run(ctx)
		close(mx.stopped)
		m.mu.Lock()
		if m.muxers[key] == mx {
			delete(m.muxers, key)
		}
		m.mu.Unlock()
		lvl, cause := closeCause(err)
		mx.log.Log(context.Background(), lvl, "hls muxer stopped", "err", cause,
			"duration", time.Since(start).Round(time.Millisecond))
	}()
	return mx
}

// watchIdle makes mx stop after IdleTimeout without requests (once).
func (m *Manager) watchIdle(mx *muxer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || mx.idling.Swap(true) {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		mx.idle()
	}()
}

// get returns key's running muxer or nil.
func (m *Manager) get(key string) *muxer {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mx := m.muxers[key]; mx != nil && !isClosed(mx.stopped) {
		return mx
	}
	return nil
}

// demand finds or starts the muxer of key for a playlist request, asking
// the hub for the stream when it is not live here (an edge or cluster pull
// starts then). Muxers of pulled streams, and all of them with OnDemand,
// stop when no request came for IdleTimeout, so that the pull can idle out
// too. The error is the hub's when where the stream lives cannot be known
// now; nil with a nil muxer means not found.
func (m *Manager) demand(ctx context.Context, key string, r *http.Request) (*muxer, error) {
	if mx := m.get(key); mx != nil {
		return mx, nil
	}
	si, live := m.hub.Stream(key)
	if !live {
		info := hub.ReaderInfo{Protocol: access.ProtoHLS, RemoteAddr: r.RemoteAddr, Query: upstreamQuery(r.URL.Query())}
		if err := m.hub.Demand(key, info); err != nil {
			if errors.Is(err, hub.ErrStreamNotFound) {
				err = nil
			}
			return nil, err
		}
		wctx, cancel := context.WithTimeout(ctx, demandWait)
		defer cancel()
		if err := m.waitStream(wctx, key); err != nil {
			return nil, nil
		}
		if si, live = m.hub.Stream(key); !live {
			return nil, nil
		}
	}
	return m.ensureLive(si), nil
}

// ensureLive returns the muxer of the live stream si, starting one that
// idles out (with OnDemand, or for a pulled stream) when none runs.
func (m *Manager) ensureLive(si hub.StreamInfo) *muxer {
	return m.ensure(si.Key, m.cfg.OnDemand || si.Publisher.Protocol == access.ProtoRelay)
}

// waitStream is hub.WaitStream that also gives up on Close.
func (m *Manager) waitStream(ctx context.Context, key string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-m.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return m.hub.WaitStream(ctx, key)
}

// Close stops every muxer, wakes blocked playlist requests and waits.
// Idempotent; the error is always nil (io.Closer).
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	started := m.started
	muxers := make([]*muxer, 0, len(m.muxers))
	for _, mx := range m.muxers {
		muxers = append(muxers, mx)
	}
	m.mu.Unlock()
	if started {
		m.unwatch()
	}
	close(m.done)
	for _, mx := range muxers {
		mx.cancel()
	}
	m.wg.Wait()
	return nil
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// upstreamQuery is the player's query without the LL-HLS directives
// (_HLS_msn, _HLS_part, _HLS_skip): what an edge pull passes to its origin,
// so a signed play token reaches the origin whichever protocol started it.
func upstreamQuery(q url.Values) string {
	for k := range q {
		if strings.HasPrefix(k, "_HLS_") {
			delete(q, k)
		}
	}
	return q.Encode()
}
