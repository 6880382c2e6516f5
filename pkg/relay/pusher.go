package relay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/backoff"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// pushSet is the forwards and edge push of one stream instance (identified
// by the hub's StreamInfo.Since: a stream that ends and is published again
// is a new instance with new pushers).
type pushSet struct {
	since    time.Time
	hopQuery string // ripple_hops=N+1 for this instance's destinations
	// started: the configured forwards, the edge push and the hook's
	// targets were started (AddTarget may create the set before).
	started bool
	list    []*pusher
}

// forwards counts the set's forwards (what MaxTargets bounds).
func (s *pushSet) forwards() int {
	n := 0
	for _, p := range s.list {
		if p.kind == KindForward {
			n++
		}
	}
	return n
}

// liveResetsBackoff: a push that stayed live this long starts its next
// reconnect from BackoffMin again.
const liveResetsBackoff = 10 * time.Second

// pusher pushes one local stream to one destination (forward) or to an
// origin chosen from an ordered list (edge push), reconnecting with backoff.
// Each connection gets a fresh hub reader, so every (re)connected destination
// starts with metadata, sequence headers and the cached GOP, and a slow one
// only fills and drops its own reader's queue.
type pusher struct {
	m         *Manager
	kind      Kind
	key       string
	app, name string
	since     time.Time
	targets   []target
	query     string // appended to the destination's stream name
	st        *status

	ctx    context.Context
	cancel context.CancelCauseFunc
}

// startPushes starts the forwards, the edge push and the hook's targets
// (Config.StreamTargets) of a newly published stream. Streams pulled by an
// edge (publisher protocol "relay") are never relayed on; streams that
// already crossed MaxHops relays are not forwarded.
func (m *Manager) startPushes(key string, info hub.PublisherInfo) {
	if info.Protocol == access.ProtoRelay || info.Source != "" {
		return // pulled, or a rendition (its source is what gets pushed)
	}
	app, _ := splitKey(key)
	fwd := m.forwards[app]
	e := m.edges[app]
	var up []target
	if e != nil {
		up = e.pushOrder(key)
	}
	var extra []string
	if m.cfg.StreamTargets != nil {
		extra = m.cfg.StreamTargets(key, info)
	}
	if len(fwd) == 0 && len(up) == 0 && len(extra) == 0 {
		return
	}
	si, ok := m.hub.Stream(key) // outside m.mu: hub calls may emit events
	if !ok {
		return
	}
	hops := hopsOf(info.Query)
	if hops >= MaxHops {
		m.log.Warn("stream not relayed: too many relay hops", "stream", key, "hops", hops, "max", MaxHops)
		return
	}
	var hooked []target
	for _, raw := range extra {
		t, err := parseDestination(raw)
		if err != nil {
			m.log.Warn("stream target skipped", "stream", key, "source", SourceHook.String(), "target", Redact(raw), "err", err)
			continue
		}
		hooked = append(hooked, t)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || !m.started {
		return
	}
	set := m.pushes[key]
	switch {
	case set == nil || !set.since.Equal(si.Since):
		set = &pushSet{since: si.Since, hopQuery: hopQuery(hops)}
		m.pushes[key] = set
	case set.started:
		return // already relaying this instance
	}
	set.started = true
	for _, t := range fwd {
		m.startPusherLocked(set, m.newPusherLocked(KindForward, SourceConfig, key, si.Since, []target{t}, set.hopQuery))
	}
	if len(up) > 0 {
		q := set.hopQuery
		if e.cfg.PassQuery {
			q = joinQuery(stripHops(info.Query), set.hopQuery)
		}
		m.startPusherLocked(set, m.newPusherLocked(KindPush, SourceConfig, key, si.Since, up, q))
	}
	for _, t := range hooked {
		if set.forwards() >= m.cfg.MaxTargets {
			m.log.Warn("stream target skipped", "stream", key, "source", SourceHook.String(),
				"target", Redact(t.raw), "err", ErrTooManyTargets, "limit", m.cfg.MaxTargets)
			continue
		}
		m.startPusherLocked(set, m.newPusherLocked(KindForward, SourceHook, key, si.Since, []target{t}, set.hopQuery))
	}
}

// hopQuery is the hop parameter of a stream that arrived after hops relays.
func hopQuery(hops int) string { return fmt.Sprintf("%s=%d", hopsParam, hops+1) }

// parseDestination parses a per-stream target (rtmp:// or rtmps://).
func parseDestination(raw string) (target, error) {
	t, err := parseTarget(raw, false)
	if err != nil {
		return target{}, fmt.Errorf("%w: %s", ErrInvalidTarget, strings.TrimPrefix(err.Error(), "relay: "))
	}
	return t, nil
}

// AddTarget starts pushing the live stream key to rawURL (rtmp:// or
// rtmps://, with the {app} and {stream} templates of forwards) as a forward
// of its own: own hub reader, bounded queue, reconnects with backoff. It
// runs until RemoveTarget or the end of the stream instance (it survives a
// publisher's reconnect within the hub's grace). src says who asked. It
// returns the new forward's Status (its ID names it for RemoveTarget), or
// ErrInvalidTarget, ErrNotLive, ErrTooManyTargets (MaxTargets) or
// ErrClosed.
func (m *Manager) AddTarget(key, rawURL string, src TargetSource) (Status, error) {
	t, err := parseDestination(rawURL)
	if err != nil {
		return Status{}, err
	}
	si, ok := m.hub.Stream(key) // outside m.mu: hub calls may emit events
	if !ok {
		return Status{}, fmt.Errorf("%w: %s", ErrNotLive, key)
	}
	// A target that loops back (A → B → A) is stopped by the hop count,
	// as configured forwards are.
	if hops := hopsOf(si.Publisher.Query); hops >= MaxHops {
		return Status{}, fmt.Errorf("%w: the stream already crossed %d relays (at most %d)", ErrInvalidTarget, hops, MaxHops)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || !m.started {
		return Status{}, ErrClosed
	}
	set := m.pushes[key]
	if set == nil || !set.since.Equal(si.Since) {
		set = &pushSet{since: si.Since, hopQuery: hopQuery(hopsOf(si.Publisher.Query))}
		m.pushes[key] = set
	}
	if n := set.forwards(); n >= m.cfg.MaxTargets {
		return Status{}, fmt.Errorf("%w: %d, limit %d", ErrTooManyTargets, n, m.cfg.MaxTargets)
	}
	p := m.newPusherLocked(KindForward, src, key, si.Since, []target{t}, set.hopQuery)
	m.startPusherLocked(set, p)
	return p.st.snapshot(), nil
}

// RemoveTarget stops the forward id of the stream key (any source; a
// configured one comes back with the next stream instance). The
// destination gets deleteStream, so its stream ends at once. It returns
// without waiting; ErrNoTarget if key has no such forward.
func (m *Manager) RemoveTarget(key string, id uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.pushes[key]
	if set == nil {
		return fmt.Errorf("%w: %d", ErrNoTarget, id)
	}
	for _, p := range set.list {
		if p.kind == KindForward && p.st.s.ID == id { // ID never changes
			set.list = removeOne(set.list, p)
			p.cancel(errRemoved)
			return nil
		}
	}
	return fmt.Errorf("%w: %d", ErrNoTarget, id)
}

// Targets returns the forwards of the stream key (configured, hook and API
// ones), oldest first, redacted like every Status.
func (m *Manager) Targets(key string) []Status {
	m.mu.Lock()
	var sts []*status
	if set := m.pushes[key]; set != nil {
		for _, p := range set.list {
			if p.kind == KindForward {
				sts = append(sts, p.st)
			}
		}
	}
	m.mu.Unlock()
	out := make([]Status, 0, len(sts))
	for _, st := range sts {
		out = append(out, st.snapshot())
	}
	slices.SortFunc(out, func(a, b Status) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (m *Manager) newPusherLocked(kind Kind, src TargetSource, key string, since time.Time, ts []target, query string) *pusher {
	app, name := splitKey(key)
	p := &pusher{m: m, kind: kind, key: key, app: app, name: name, since: since, targets: ts, query: query}
	p.ctx, p.cancel = context.WithCancelCause(context.Background())
	p.st = m.newStatusLocked(kind, src, key, ts[0].display(app, name))
	return p
}

// startPusherLocked adds p to set and runs it.
func (m *Manager) startPusherLocked(set *pushSet, p *pusher) {
	set.list = append(set.list, p)
	m.goLocked(p.st, p.cancel, func() { p.run(set) })
}

// streamEnded stops the pushers of key's ended instance that are not live
// (backoff, connecting); live ones drain their reader to io.EOF first.
func (m *Manager) streamEnded(key string) {
	si, live := m.hub.Stream(key) // a new instance may already be live
	m.mu.Lock()
	set := m.pushes[key]
	if set == nil || (live && si.Since.Equal(set.since)) {
		m.mu.Unlock()
		return
	}
	delete(m.pushes, key)
	list := slices.Clone(set.list)
	m.mu.Unlock()
	for _, p := range list {
		if p.st.state() != StateLive {
			p.cancel(errEnded)
		}
	}
}

// stopPushes ends every push of key's stream instance at once, live ones
// included: the stream goes on, fed by a pull from the node that is its
// origin now, which does the pushing.
func (m *Manager) stopPushes(key string) {
	m.mu.Lock()
	set := m.pushes[key]
	if set == nil {
		m.mu.Unlock()
		return
	}
	delete(m.pushes, key)
	list := slices.Clone(set.list)
	m.mu.Unlock()
	for _, p := range list {
		p.cancel(errEnded)
	}
}

func (p *pusher) run(set *pushSet) {
	// Deferred: a panic parsing a hostile destination's reply (recovered
	// by goLocked's guard) must not leave the pusher counted and listed.
	err := errors.New("relay: push ended by a panic")
	defer func() {
		if errors.Is(err, errEnded) {
			err = nil
		}
		p.st.set(StateStopped, err)
		p.cancel(nil)
		m := p.m
		m.mu.Lock()
		if m.pushes[p.key] == set {
			set.list = removeOne(set.list, p)
			if len(set.list) == 0 {
				delete(m.pushes, p.key)
			}
		}
		m.mu.Unlock()
	}()
	err = p.loop()
}

func removeOne(list []*pusher, p *pusher) []*pusher {
	for i, q := range list {
		if q == p {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// loop connects, pushes and reconnects until the stream ends or the pusher
// is cancelled. An edge push moves to the next origin after each failure.
func (p *pusher) loop() error {
	bo := backoff.New(p.m.cfg.BackoffMin, p.m.cfg.BackoffMax)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	var err error
	for i := 0; ; i = (i + 1) % len(p.targets) {
		t := p.targets[i]
		p.st.connecting(t.display(p.app, p.name), t.secrets(p.app, p.name, p.query), err)
		start := time.Now()
		err = p.pushOnce(t)
		if errors.Is(err, errEnded) {
			return err
		}
		if p.ctx.Err() != nil {
			return context.Cause(p.ctx)
		}
		if p.st.state() == StateLive && time.Since(start) >= liveResetsBackoff {
			bo.Reset()
		}
		d := bo.Next()
		p.st.set(StateBackoff, err)
		timer.Reset(d)
		select {
		case <-timer.C:
		case <-p.ctx.Done():
			return context.Cause(p.ctx)
		}
		if si, ok := p.m.hub.Stream(p.key); !ok || !si.Since.Equal(p.since) {
			return errEnded
		}
	}
}

// pushOnce makes one connection to t and pushes until it fails or the
// stream ends (errEnded).
func (p *pusher) pushOnce(t target) error {
	m := p.m
	connect, stream := t.rtmpURL(p.app, p.name, p.query)
	ctx, cancel := context.WithTimeout(p.ctx, m.cfg.Timeout)
	defer cancel()
	c, err := rtmp.Dial(ctx, connect, m.clientConfig())
	if err != nil {
		return err
	}
	defer func() {
		if p.ctx.Err() != nil && !p.removed() {
			c.Abort() // stopped, not ended: see the AfterFunc below
			return
		}
		_ = c.Close() // always nil
	}()
	if err := c.Publish(ctx, stream); err != nil {
		return err
	}
	// Stopping the push (shutdown, reload, the stream's end while not
	// live) aborts the connection, which also unblocks a write stuck on a
	// dead destination. Abort, not Close: without deleteStream the
	// destination keeps the stream in its reconnect grace, as it would for
	// a dropped publisher, since the stream may come back (a restart). A
	// local stream that really ended (io.EOF below) is closed with
	// deleteStream by the deferred Close, and ends there at once too.
	// Whichever of the two runs first decides (Close after Abort does
	// nothing): both look at p.ctx. A removed target (RemoveTarget) is
	// closed with deleteStream: its stream ends at the destination now.
	stop := context.AfterFunc(p.ctx, func() {
		if p.removed() {
			_ = c.Close() // always nil
			return
		}
		c.Abort()
	})
	defer stop()
	info := hub.ReaderInfo{Protocol: access.ProtoRelay, RemoteAddr: t.display(p.app, p.name)}
	for {
		r, err := m.hub.Subscribe(p.key, info)
		if err != nil {
			return errEnded
		}
		if !r.Stream().Since.Equal(p.since) {
			r.Close()
			return errEnded
		}
		p.st.set(StateLive, nil)
		// The connection's writer drains r and writes what it holds in
		// batches, as for a player (pkg/internal/batch): the hub's shared
		// packets, framed without copies, one writev per wake-up. The
		// bytes count into the relay's status as they are written.
		err = c.Forward(p.ctx, r, &p.st.bytes)
		r.Close()
		switch {
		case errors.Is(err, io.EOF):
			return errEnded
		case !errors.Is(err, hub.ErrSlowReader):
			return err
		}
		// The destination could not keep up and the hub evicted our
		// reader: resubscribe on the same connection (it restarts at a
		// keyframe with the sequence headers).
		p.st.set(StateLive, fmt.Errorf("destination too slow: %w", err))
	}
}

// removed reports whether RemoveTarget stopped p.
func (p *pusher) removed() bool { return errors.Is(context.Cause(p.ctx), errRemoved) }

// stripHops removes a hop count from a publisher's query before ours is
// added.
func stripHops(query string) string {
	if query == "" {
		return ""
	}
	var out []string
	for _, kv := range strings.Split(query, "&") {
		if k, _, _ := strings.Cut(kv, "="); k != hopsParam && kv != "" {
			out = append(out, kv)
		}
	}
	return strings.Join(out, "&")
}
