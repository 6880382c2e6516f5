package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// Claim is the publish admission of key on this node, asked after auth and
// before hub.Publish. nil admits: the key is claimed for this node (new,
// already ours, taken over under the takeover policy, or taken from an
// owner that does not answer), or the registry is down (the publish is
// taken and claimed when it returns). A key live on another node is
// refused with a *BusyError naming it. Once admitted, a pull of key on
// this node stops so that the publisher resumes the local stream.
func (n *Node) Claim(ctx context.Context, key string) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	n.mu.Unlock()
	o, prev, err := n.reg.Claim(ctx, key, n.cfg.ID, n.cfg.AdvertiseURL, ReplaceNone)
	var busy *BusyError
	switch {
	case err == nil:
	case errors.As(err, &busy):
		o, prev, err = n.claimBusy(ctx, key, busy.Owner)
		if isUnavailable(err) {
			// The takeover may have landed in Redis: take the publish as
			// while the registry is down, the loop settles the claim.
			n.stats.claim("unregistered")
			n.log.Warn("cluster registry unavailable: publish taken without a claim", "stream", key, "err", err)
			n.hold(key, 0)
			return nil
		}
		if err != nil {
			n.stats.claim("refused")
			return err
		}
	case errors.Is(err, ErrUnavailable):
		n.stats.claim("unregistered")
		n.log.Warn("cluster registry unavailable: publish taken without a claim", "stream", key, "err", err)
		n.hold(key, 0)
		return nil
	default:
		return fmt.Errorf("cluster: claim %q: %w", key, err)
	}
	n.hold(key, o.Epoch)
	switch {
	case prev != nil:
		n.stats.claim("taken_over")
		n.log.Info("stream owner changed", "stream", key, "owner", n.cfg.ID, "epoch", o.Epoch,
			"previous", prev.Node, "previous_epoch", prev.Epoch)
	default:
		n.stats.claim("claimed")
	}
	if n.puller != nil {
		n.puller.StopPull(key)
	}
	return nil
}

// claimBusy decides a publish of a key another node holds: the takeover
// policy takes it; otherwise it is taken only from an owner that does not
// answer (dead, paused, cut off from us), at the epoch seen.
func (n *Node) claimBusy(ctx context.Context, key string, cur Owner) (Owner, *Owner, error) {
	if cur.Node == n.cfg.ID {
		return Owner{}, nil, &BusyError{Owner: cur} // cannot happen: ours is renewed
	}
	if n.cfg.Takeover != nil && n.cfg.Takeover(key) {
		return n.reg.Claim(ctx, key, n.cfg.ID, n.cfg.AdvertiseURL, ReplaceAny)
	}
	if n.alive(ctx, cur.URL) {
		return Owner{}, nil, &BusyError{Owner: cur}
	}
	n.log.Warn("stream owner does not answer: taking the stream", "stream", key, "owner", cur.Node, "epoch", cur.Epoch)
	return n.reg.Claim(ctx, key, n.cfg.ID, n.cfg.AdvertiseURL, cur.Epoch)
}

// alive asks a node's /healthz, bounded: a node that does not answer in
// time (dead, stopped, unreachable) is not serving its streams either.
func (n *Node) alive(ctx context.Context, base string) bool {
	ctx, cancel := context.WithTimeout(ctx, n.probe.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := n.probe.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func newProbeClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		// A liveness probe carries nothing secret; nodes often run with
		// certificates the others do not trust (self-signed, internal).
		TLSClientConfig:   insecureTLS(),
		DisableKeepAlives: true,
	}}
}

// hold records this node's claim of key (epoch 0: taken while the
// registry was down).
func (n *Node) hold(key string, epoch int64) {
	n.mu.Lock()
	n.claims[key] = &claim{epoch: epoch}
	n.mu.Unlock()
}

// onEvent is the hub watcher: it marks keys whose claim may need to change
// and wakes the loop; the registry is never called from here.
func (n *Node) onEvent(e hub.Event) {
	switch e.Type {
	case hub.EventPublish, hub.EventUnpublish, hub.EventStreamEnd:
	default:
		return
	}
	n.mu.Lock()
	n.dirty[e.Key] = true
	n.mu.Unlock()
	n.wake()
}

func (n *Node) wake() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// loop heartbeats and renews every Lease/3 and brings dirty keys' claims
// in line with the hub.
func (n *Node) loop() {
	tick := time.NewTicker(n.lease / 3)
	defer tick.Stop()
	n.beat()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-tick.C:
			n.beat()
		case <-n.kick:
		}
		n.sync()
	}
}

// beat heartbeats, renews every claim and reports keys lost since.
func (n *Node) beat() {
	ctx, cancel := context.WithTimeout(n.ctx, n.lease/3)
	defer cancel()
	info := NodeInfo{ID: n.cfg.ID, URL: n.cfg.AdvertiseURL, Started: n.started}
	if n.cfg.Load != nil {
		l := n.cfg.Load()
		info.Streams, info.Players, info.BytesOut = l.Streams, l.Players, l.BytesOut
	}
	if n.puller != nil {
		info.Pulls = capPulls(n.puller.ClusterPulls())
	}
	// Renewals go on whatever the heartbeat's fate: a heartbeat that
	// fails for its own reasons (a broken node index) must not let every
	// claim expire under live publishers.
	err := n.reg.Heartbeat(ctx, info)
	if refused := err != nil; n.hbRefused.Swap(refused) != refused {
		if refused {
			n.log.Warn("cluster heartbeat failed: renewals go on", "err", err)
		} else {
			n.log.Info("cluster heartbeat works again")
		}
	}
	held := make(map[string]int64)
	n.mu.Lock()
	for k, c := range n.claims {
		if c.epoch > 0 {
			held[k] = c.epoch
		}
		// Checked against the hub again: claimed without a stream (its
		// publish failed after the claim), or taken while down.
		n.dirty[k] = true
	}
	n.mu.Unlock()
	if len(held) == 0 {
		return
	}
	lost, err := n.reg.Renew(ctx, n.cfg.ID, held)
	if err != nil {
		return
	}
	for _, k := range lost {
		n.lost(k, held[k])
	}
}

// lost handles a claim of key (at epoch) that the registry no longer has
// for this node. If the key is free (its lease ran out while this node was
// paused or cut off, or the registry restarted empty) and still published
// here, it is claimed again; if another node holds it, this node stops
// acting as the key's origin and follows the owner.
func (n *Node) lost(key string, epoch int64) {
	n.mu.Lock()
	c := n.claims[key]
	if c == nil || c.epoch != epoch {
		n.mu.Unlock()
		return
	}
	delete(n.claims, key)
	n.mu.Unlock()
	if si, ok := n.hub.Stream(key); ok && si.Publisher.Protocol != access.ProtoRelay {
		ctx, cancel := context.WithTimeout(n.ctx, n.lease/3)
		o, err := n.reclaim(ctx, key, epoch, si.Publishing)
		cancel()
		switch {
		case err == nil:
			n.hold(key, o.Epoch)
			n.stats.claim("claimed")
			n.log.Info("stream owner changed: claimed again", "stream", key, "owner", n.cfg.ID, "epoch", o.Epoch,
				"previous_epoch", epoch)
			n.markIdle(key, o.Epoch, !si.Publishing)
			return
		case errors.Is(err, ErrBusy):
		default:
			n.hold(key, 0) // the registry is down again: retried at the next beat
			return
		}
	}
	n.stats.claim("lost")
	n.log.Warn("stream owner changed: claim lost, no longer its origin", "stream", key, "epoch", epoch)
	n.follow(key)
}

// follow makes key's local stream, published here, follow its owner on
// another node: the local publisher ends (fenced) and, if the stream has
// players, they get what the owner serves through a pull into the same
// stream.
func (n *Node) follow(key string) {
	n.mu.Lock()
	_, claimed := n.claims[key]
	n.mu.Unlock()
	if claimed {
		return // a publish admitted meanwhile claimed the key: it stays
	}
	si, ok := n.hub.Stream(key)
	if !ok || si.Publisher.Protocol == access.ProtoRelay {
		return
	}
	if si.Publishing {
		_ = n.hub.KickPublisher(key) // gone already: nothing to fence
	}
	if n.puller != nil && n.players(&si) > 0 {
		_ = n.puller.Pull(key) // logged by the relay
	}
}

// players counts a stream's players (not its HLS muxer, recorder or
// thumbnailer readers, which would keep a pull alive for nobody).
func (n *Node) players(si *hub.StreamInfo) int {
	if n.cfg.Players != nil {
		return n.cfg.Players(si)
	}
	return si.Readers
}

// reclaim claims key again after its claim (at epoch) was lost. A free key
// is taken. A key held at a lower epoch is the registry going back in time
// (a failover to a replica that missed writes): it is taken back by
// compare-and-swap. A stream waiting for its publisher takes only a free
// key: two nodes both waiting must not trade an idle claim back and forth.
func (n *Node) reclaim(ctx context.Context, key string, epoch int64, publishing bool) (Owner, error) {
	if !publishing {
		o, err := n.reg.Lookup(ctx, key)
		switch {
		case err == nil && o.Node != n.cfg.ID && o.Epoch >= epoch:
			return Owner{}, &BusyError{Owner: o}
		case err != nil && !errors.Is(err, ErrNotFound):
			return Owner{}, err
		}
	}
	o, _, err := n.reg.Claim(ctx, key, n.cfg.ID, n.cfg.AdvertiseURL, ReplaceNone)
	var busy *BusyError
	if errors.As(err, &busy) && busy.Owner.Epoch < epoch {
		n.log.Warn("cluster registry went back in time: taking the stream back", "stream", key,
			"owner", busy.Owner.Node, "epoch", busy.Owner.Epoch, "our_epoch", epoch)
		o, _, err = n.reg.Claim(ctx, key, n.cfg.ID, n.cfg.AdvertiseURL, busy.Owner.Epoch)
	}
	return o, err
}

// maxPullsReported and maxPullsBytes bound the keys a heartbeat lists as
// pulled: a heartbeat must stay far below the registry's value cap
// whatever the keys' length.
const (
	maxPullsReported = 64
	maxPullsBytes    = 16 << 10
)

func capPulls(keys []string) []string {
	size := 0
	for i, k := range keys {
		size += len(k)
		if i == maxPullsReported || size > maxPullsBytes {
			return keys[:i]
		}
	}
	return keys
}

// sync brings each dirty key's claim in line with the hub: a stream
// published here is claimed (and un-idled), one inside its reconnect
// grace is marked idle, one gone or pulled from elsewhere is released.
func (n *Node) sync() {
	n.mu.Lock()
	keys := make([]string, 0, len(n.dirty))
	for k := range n.dirty {
		keys = append(keys, k)
	}
	clear(n.dirty)
	n.mu.Unlock()
	for _, k := range keys {
		if n.ctx.Err() != nil {
			return
		}
		n.syncKey(k)
	}
}

func (n *Node) syncKey(key string) {
	ctx, cancel := context.WithTimeout(n.ctx, n.lease/3)
	defer cancel()
	si, live := n.hub.Stream(key)
	// ingest: published here, or waiting inside its grace for a publisher
	// that was; pulled: fed by a pull from another node right now. A
	// stream waiting after a pull is neither: a publisher of ours may be
	// resuming it (Claim stops the pull first), so its claim stays as is.
	ingest := live && si.Publisher.Protocol != access.ProtoRelay
	pulled := live && si.Publisher.Protocol == access.ProtoRelay && si.Publishing
	n.mu.Lock()
	c := n.claims[key]
	var cc claim
	if c != nil {
		cc = *c
	}
	n.mu.Unlock()
	switch {
	case c != nil && (!live || pulled):
		n.mu.Lock()
		if n.claims[key] != c {
			n.mu.Unlock()
			return // claimed again meanwhile (a publish admitted): it stays
		}
		delete(n.claims, key)
		n.mu.Unlock()
		if cc.epoch == 0 {
			return
		}
		if err := n.reg.Release(ctx, key, n.cfg.ID, cc.epoch); err == nil {
			n.stats.claim("released")
			n.log.Info("stream owner changed: released", "stream", key, "epoch", cc.epoch)
		}
		// Not released (registry down, already lost): it expires.
	case !ingest:
		// Waiting after a pull: a claim held here is idle (its publisher
		// may come back anywhere).
		if c != nil && cc.epoch > 0 && live && !cc.idle {
			n.markIdle(key, cc.epoch, true)
		}
	case c == nil || cc.epoch == 0:
		// Published without a claim (the registry was down, or a
		// protocol that does not ask Claim): claim it now.
		o, err := n.reclaim(ctx, key, 0, si.Publishing)
		var busy *BusyError
		switch {
		case err == nil:
			n.hold(key, o.Epoch)
			n.stats.claim("claimed")
			n.log.Info("stream owner changed: claimed", "stream", key, "owner", n.cfg.ID, "epoch", o.Epoch)
			n.markIdle(key, o.Epoch, !si.Publishing)
		case errors.As(err, &busy):
			// Another node took the key while we could not see it: it
			// holds the claim, so it is the origin; follow it.
			n.mu.Lock()
			delete(n.claims, key)
			n.mu.Unlock()
			n.stats.claim("lost")
			n.log.Warn("stream owner changed: published here while the registry was down, owned by another node",
				"stream", key, "owner", busy.Owner.Node, "epoch", busy.Owner.Epoch)
			n.follow(key)
		default:
			n.hold(key, 0) // retried at the next beat
		}
	case cc.idle != !si.Publishing:
		n.markIdle(key, cc.epoch, !si.Publishing)
	}
}

// markIdle records in the registry whether key's publisher is gone (the
// stream waits inside its reconnect grace): another node may then take
// the key without waiting for the lease.
func (n *Node) markIdle(key string, epoch int64, idle bool) {
	ctx, cancel := context.WithTimeout(n.ctx, n.lease/3)
	err := n.reg.SetIdle(ctx, key, n.cfg.ID, epoch, idle)
	cancel()
	switch {
	case err == nil:
		n.mu.Lock()
		if c := n.claims[key]; c != nil && c.epoch == epoch {
			c.idle = idle
		}
		n.mu.Unlock()
	case errors.Is(err, ErrLost):
		n.lost(key, epoch)
	}
}

// ownerChanged handles a registry notification for key: a claim of ours
// replaced means fencing; the relays follow the new owner.
func (n *Node) ownerChanged(key string) {
	n.mu.Lock()
	_, claimed := n.claims[key]
	n.mu.Unlock()
	if _, local := n.hub.Stream(key); !claimed && !local {
		return // nothing of ours: no lookup for every change in the cluster
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.lease/3)
	defer cancel()
	o, err := n.reg.Lookup(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		if n.puller != nil {
			n.puller.OwnerChanged(key, "")
		}
		return
	case err != nil:
		return
	}
	if o.Node == n.cfg.ID {
		return
	}
	n.mu.Lock()
	c := n.claims[key]
	n.mu.Unlock()
	if c != nil && c.epoch > 0 {
		n.lost(key, c.epoch) // another node holds what we think is ours
	} else if si, ok := n.hub.Stream(key); ok && !si.Publishing && n.players(&si) > 0 && c == nil && n.puller != nil {
		// Our stream waits for its publisher, which went on elsewhere.
		_ = n.puller.Pull(key)
	}
	if n.puller != nil {
		n.puller.OwnerChanged(key, o.URL)
	}
}

// resync runs after each (re)subscription: notifications may have been
// missed, so every local key is checked again.
func (n *Node) resync() {
	for _, s := range n.hub.Streams() {
		n.mu.Lock()
		n.dirty[s.Key] = true
		n.mu.Unlock()
	}
	n.wake()
}

func isUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }
