package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/backoff"
)

// puller is an edge app's one upstream pull of a stream. It publishes into
// the local hub as a publisher of protocol "relay" once the first packet
// arrives (so players of a stream no origin has get a clean "not found"),
// and keeps that publisher across origin switches.
type puller struct {
	m         *Manager
	e         *edgeApp
	key       string
	app, name string
	st        *status

	ctx    context.Context
	cancel context.CancelCauseFunc

	pub    *hub.Publisher // owned by run
	splice splice         // owned by run
	gate   startGate      // owned by run, until pub is set
	one    []*av.Packet   // owned by run: a batch of one without allocating

	done chan struct{} // closed when run has closed the hub publisher
	wake chan struct{} // a retry wait ends early (cluster owner changed)

	mu       sync.Mutex
	origin   string      // cluster: the owner's base URL of the current attempt
	ownerGen uint64      // cluster: owner changes seen (OwnerChanged)
	gen      uint64      // cluster: ownerGen when origin was located
	cut      func()      // cluster: ends the current session
	idle     *time.Timer // armed while the stream has no readers
	query    string      // passed upstream (pass_query): the latest demanding player's until live
	live     bool        // published into the hub: the query no longer changes
}

// demanded records another player's query while the pull has not gone live:
// the next attempt carries it, so a player with a valid token is not stuck
// behind a first one with a wrong one. An empty query (a player with no
// token) never replaces one.
func (p *puller) demanded(query string) {
	p.mu.Lock()
	if !p.live && query != "" {
		p.query = query
	}
	p.mu.Unlock()
}

func (p *puller) currentQuery() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.query
}

func newPuller(m *Manager, e *edgeApp, key, query string, st *status) *puller {
	p := &puller{m: m, e: e, key: key, query: query, st: st}
	p.app, p.name = splitKey(key)
	p.ctx, p.cancel = context.WithCancelCause(context.Background())
	p.one = make([]*av.Packet, 0, 1)
	p.done = make(chan struct{})
	p.wake = make(chan struct{}, 1)
	return p
}

func (p *puller) run() {
	defer close(p.done)
	err := p.loop()
	if p.pub != nil {
		p.pub.Close()
	}
	p.mu.Lock()
	if p.idle != nil {
		p.idle.Stop()
		p.idle = nil
	}
	p.mu.Unlock()
	p.cancel(err)
	// Leave the map only after the publisher is closed: a demand that
	// comes in between still finds this pull instead of racing a second
	// publisher onto the key.
	p.m.removePull(p, err)
	p.st.set(StateStopped, err)
}

// loop tries the origins in order until one delivers, moves to the next one
// as soon as the current one fails, and gives up after NotFoundTimeout
// without media. A full round of failures waits a backoff.
func (p *puller) loop() error {
	cfg := p.m.cfg
	var order []int
	round := 1 // attempts per backoff wait
	if p.e.locate == nil {
		order = p.e.order(p.key)
		round = len(order)
	}
	bo := backoff.New(cfg.BackoffMin, min(cfg.BackoffMax, p.e.cfg.NotFoundTimeout))
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	lastMedia := time.Now() // start of the not-found clock
	failures := 0
	var lastErr error
	for i := 0; ; i++ {
		o, err := p.next(order, i)
		got := false
		if err == nil {
			p.st.connecting(o.display(p.app, p.name), o.secrets(p.app, p.name, p.currentQuery()), lastErr)
			got, err = p.pullOnce(o)
		}
		if p.ctx.Err() != nil {
			return context.Cause(p.ctx)
		}
		if errors.Is(err, errFatal) {
			return err
		}
		lastErr = err
		if got {
			lastMedia = time.Now()
			failures = 0
			bo.Reset()
			continue // straight to the next origin: the players are waiting
		}
		failures++
		left := p.e.cfg.NotFoundTimeout - time.Since(lastMedia)
		if left <= 0 {
			return fmt.Errorf("%w within %s: %w", ErrNotFound, p.e.cfg.NotFoundTimeout, lastErr)
		}
		if failures%round != 0 {
			continue
		}
		p.st.set(StateBackoff, err)
		timer.Reset(min(bo.Next(), left))
		select {
		case <-timer.C:
		case <-p.wake: // a new cluster owner: try it now
			if !timer.Stop() {
				<-timer.C
			}
		case <-p.ctx.Done():
			return context.Cause(p.ctx)
		}
	}
}

// next returns the origin of attempt i: the edge app's origins in order,
// or the cluster node that owns the key now.
func (p *puller) next(order []int, i int) (target, error) {
	if p.e.locate == nil {
		return p.e.origins[order[i%len(order)]], nil
	}
	p.mu.Lock()
	p.gen = p.ownerGen
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(p.ctx, p.m.cfg.Timeout)
	base, err := p.e.locate(ctx, p.key)
	cancel()
	if err != nil {
		return target{}, fmt.Errorf("locate %q: %w", p.key, err)
	}
	base = strings.TrimRight(base, "/")
	p.mu.Lock()
	p.origin = base
	p.mu.Unlock()
	return clusterTarget(base)
}

// stale reports whether the owner changed since the current attempt
// located it: a notification that came while connecting found no session
// to cut.
func (p *puller) stale() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.e.locate != nil && p.ownerGen != p.gen
}

// errOwnerMoved: the cluster owner changed while connecting to the old one.
var errOwnerMoved = errors.New("relay: stream owner changed")

// errFatal marks errors that end the pull: the local key is taken or the
// hub is closing.
var errFatal = errors.New("relay: pull cannot publish")

// pullOnce plays the stream from origin o into the local hub until the
// origin fails. got reports whether any media arrived.
func (p *puller) pullOnce(o target) (got bool, err error) {
	m := p.m
	// A session of its own, which OwnerChanged cuts to move to a new
	// cluster owner.
	sctx, scut := context.WithCancel(p.ctx)
	defer scut()
	p.mu.Lock()
	p.cut = scut
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(sctx, m.cfg.Timeout)
	query := p.currentQuery()
	upstream := query
	if p.e.locate != nil {
		upstream = joinQuery(query, hopsQuery)
	}
	src, err := m.openSource(ctx, o, p.app, p.name, upstream)
	cancel()
	if err != nil {
		return false, err
	}
	defer src.Close()
	if p.stale() {
		return false, errOwnerMoved // locate again at once (the wake is pending)
	}
	stop := context.AfterFunc(sctx, func() { src.Close() })
	defer stop()
	p.splice.newSession()
	for {
		pkt, err := src.ReadPacket()
		if err != nil {
			return got, err
		}
		if !p.splice.admit(pkt) {
			continue
		}
		batch := p.one[:0]
		if p.pub == nil {
			// Publish only once players can start (startGate).
			if batch = p.gate.add(pkt); batch == nil {
				continue
			}
			if err := p.publish(o, query); err != nil {
				return got, err
			}
		} else {
			batch = append(batch, pkt)
		}
		for _, q := range batch {
			n := len(q.Data)
			if err := p.pub.WritePacket(q); err != nil {
				return got, fmt.Errorf("%w: %w", errFatal, err)
			}
			p.st.bytes.Add(uint64(n))
			if !got && q.IsMedia() {
				got = true
				p.st.set(StateLive, nil)
			}
		}
		clear(batch)
	}
}

// publish claims the local key on the first packet; query is what the
// pull carried.
func (p *puller) publish(o target, query string) error {
	pub, err := p.m.hub.Publish(p.key, hub.PublisherInfo{
		Protocol:   access.ProtoRelay,
		RemoteAddr: o.display(p.app, p.name),
		Query:      query,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", errFatal, err)
	}
	p.pub = pub
	p.mu.Lock()
	p.live = true
	p.mu.Unlock()
	// The player that asked may have given up waiting: idle-stop unless
	// someone subscribes.
	if si, ok := p.m.hub.Stream(p.key); ok && si.Readers == 0 {
		p.readersChanged(0)
	}
	return nil
}

// readersChanged arms the idle timer when the stream has no reader left and
// disarms it when one arrives. Called from hub events (never blocks).
func (p *puller) readersChanged(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return
	}
	switch {
	case n > 0 && p.idle != nil:
		p.idle.Stop()
		p.idle = nil
	case n == 0 && p.idle == nil:
		p.idle = time.AfterFunc(p.e.cfg.IdleTimeout, p.idleExpired)
	}
}

// idleExpired stops the pull if the stream still has no reader (events may
// interleave: the hub is the truth).
func (p *puller) idleExpired() {
	si, ok := p.m.hub.Stream(p.key)
	p.mu.Lock()
	p.idle = nil
	p.mu.Unlock()
	if ok && si.Readers > 0 {
		return
	}
	p.cancel(fmt.Errorf("%w for %s", errIdle, p.e.cfg.IdleTimeout))
}
