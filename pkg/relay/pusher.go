package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// pushSet is the forwards and edge push of one stream instance (identified
// by the hub's StreamInfo.Since: a stream that ends and is published again
// is a new instance with new pushers).
type pushSet struct {
	since time.Time
	list  []*pusher
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
	key       string
	app, name string
	since     time.Time
	targets   []target
	query     string // appended to the destination's stream name
	st        *status

	ctx    context.Context
	cancel context.CancelCauseFunc
}

// startPushes starts the forwards and the edge push of a newly published
// stream. Streams pulled by an edge (publisher protocol "relay") are never
// relayed on; streams that already crossed MaxHops relays are not forwarded.
func (m *Manager) startPushes(key string, info hub.PublisherInfo) {
	if info.Protocol == access.ProtoRelay {
		return
	}
	app, name := splitKey(key)
	fwd := m.forwards[app]
	e := m.edges[app]
	var up []target
	if e != nil {
		up = e.pushOrder(key)
	}
	if len(fwd) == 0 && len(up) == 0 {
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
	hopQuery := fmt.Sprintf("%s=%d", hopsParam, hops+1)

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || !m.started {
		return
	}
	if set := m.pushes[key]; set != nil && set.since.Equal(si.Since) {
		return // already relaying this instance
	}
	set := &pushSet{since: si.Since}
	for _, t := range fwd {
		set.list = append(set.list, m.newPusherLocked(KindForward, key, app, name, si.Since, []target{t}, hopQuery))
	}
	if len(up) > 0 {
		q := hopQuery
		if e.cfg.PassQuery {
			q = joinQuery(stripHops(info.Query), hopQuery)
		}
		set.list = append(set.list, m.newPusherLocked(KindPush, key, app, name, si.Since, up, q))
	}
	m.pushes[key] = set
	for _, p := range set.list {
		m.goLocked(p.st, p.cancel, func() { p.run(set) })
	}
}

func (m *Manager) newPusherLocked(kind Kind, key, app, name string, since time.Time, ts []target, query string) *pusher {
	p := &pusher{m: m, key: key, app: app, name: name, since: since, targets: ts, query: query}
	p.ctx, p.cancel = context.WithCancelCause(context.Background())
	p.st = m.newStatusLocked(kind, key, ts[0].display(app, name))
	return p
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
	m.mu.Unlock()
	for _, p := range set.list {
		if p.st.state() != StateLive {
			p.cancel(errEnded)
		}
	}
}

func (p *pusher) run(set *pushSet) {
	err := p.loop()
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
	bo := newBackoff(p.m.cfg.BackoffMin, p.m.cfg.BackoffMax)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	var err error
	for i := 0; ; i = (i + 1) % len(p.targets) {
		t := p.targets[i]
		p.st.connecting(t.display(p.app, p.name), err)
		start := time.Now()
		err = p.pushOnce(t)
		if errors.Is(err, errEnded) {
			return err
		}
		if p.ctx.Err() != nil {
			return context.Cause(p.ctx)
		}
		if p.st.state() == StateLive && time.Since(start) >= liveResetsBackoff {
			bo.reset()
		}
		d := bo.next()
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
	c, err := rtmp.Dial(ctx, connect, rtmp.ClientConfig{Logger: m.log, Timeout: m.cfg.Timeout, ChunkSize: m.cfg.ChunkSize, Panics: m.cfg.Panics})
	if err != nil {
		return err
	}
	defer func() {
		if p.ctx.Err() != nil {
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
	// nothing): both look at p.ctx.
	stop := context.AfterFunc(p.ctx, c.Abort)
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
