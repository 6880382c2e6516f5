package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// ClusterConfig makes the manager pull, for every app that is not an edge
// app, the streams this node does not have from the cluster node that owns
// them (docs/cluster.md): one pull per key over HTTP-FLV, shared by all the
// key's players, started by the first one (hub demand) and stopped
// IdleTimeout after the last one, like an edge pull. When the owner changes
// (OwnerChanged) the pull moves to the new one with the same hub publisher,
// so the players stay attached.
type ClusterConfig struct {
	// Locate returns the base URL (http[s]://host:port) of the node that
	// owns key now. ErrNotFound: no node has it (or only this one: a node
	// never pulls from itself); any other error: the owner cannot be known
	// now (registry down). It must return within ctx.
	Locate func(ctx context.Context, key string) (string, error)
	// IdleTimeout and NotFoundTimeout are an edge app's (EdgeConfig);
	// zero: the defaults.
	IdleTimeout, NotFoundTimeout time.Duration
}

// hopsQuery marks a pull from another node: a request carrying it is never
// pulled again from elsewhere, so two nodes with stale views of the
// registry cannot chain pulls into a loop.
var hopsQuery = hopsParam + "=1"

// IsNodePull reports whether a player's query marks it as another node's
// cluster pull.
func IsNodePull(query string) bool { return hopsOf(query) > 0 }

// newClusterApp is the settings every cluster pull shares.
func newClusterApp(c *ClusterConfig) *edgeApp {
	ec := EdgeConfig{PassQuery: true, IdleTimeout: c.IdleTimeout, NotFoundTimeout: c.NotFoundTimeout}.withDefaults()
	return &edgeApp{cfg: ec, locate: c.Locate}
}

// clusterDemand is demand for a key of no edge app: if the registry names
// another node as its owner, start (or share) the key's pull from it.
func (m *Manager) clusterDemand(key string, info hub.ReaderInfo) error {
	if IsNodePull(info.Query) {
		return hub.ErrStreamNotFound // another node's pull: never cascaded
	}
	m.mu.Lock()
	if m.closed || !m.started {
		m.mu.Unlock()
		return hub.ErrStreamNotFound
	}
	if p := m.pulls[key]; p != nil {
		p.demanded(info.Query)
		m.mu.Unlock()
		return nil
	}
	m.mu.Unlock()
	// Asked on the player's goroutine, outside m.mu: a quick lookup that
	// answers "nowhere" (404 at once) or "registry down" (503) better than
	// a pull that would wait NotFoundTimeout to say so.
	if m.clusterMissing(key) {
		return hub.ErrStreamNotFound
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.Timeout)
	_, err := m.cluster.locate(ctx, key)
	cancel()
	switch {
	case errors.Is(err, ErrNotFound):
		m.clusterMiss(key)
		return hub.ErrStreamNotFound
	case err != nil:
		// The detail (addresses, the Redis error) is the node's to log;
		// players are told only why.
		return ErrRegistryUnavailable
	}
	return m.startClusterPull(key, info.Query)
}

// startClusterPull starts key's cluster pull unless one runs.
func (m *Manager) startClusterPull(key, query string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || !m.started {
		return ErrClosed
	}
	if p := m.pulls[key]; p != nil {
		p.demanded(query)
		return nil
	}
	if len(m.pulls) >= m.cfg.MaxPulls {
		if !m.atLimit {
			m.atLimit = true
			m.log.Warn("edge pulls at limit: refusing new pulls", "limit", m.cfg.MaxPulls, "key", key)
		}
		return fmt.Errorf("%w: %d pulls running", hub.ErrStreamNotFound, m.cfg.MaxPulls)
	}
	p := newPuller(m, m.cluster, key, query, m.newStatusLocked(KindPull, SourceCluster, key, ""))
	m.pulls[key] = p
	m.goLocked(p.st, p.cancel, p.run)
	return nil
}

// Pull starts a cluster pull of key without a player asking: for a local
// stream inside its reconnect grace whose publisher went on at another node
// (or whose claim this node lost), so that its players keep playing what
// the new owner serves. The pull resumes the local stream (hub.Publish
// within the grace). Without ClusterConfig it does nothing.
func (m *Manager) Pull(key string) error {
	if m.cluster == nil {
		return nil
	}
	return m.startClusterPull(key, "")
}

// StopPull ends key's pull, if any, and returns once its hub publisher is
// closed: a publisher of key that won the cluster claim on this node then
// resumes the stream (its players stay) instead of finding it busy.
func (m *Manager) StopPull(key string) {
	m.mu.Lock()
	p := m.pulls[key]
	m.mu.Unlock()
	if p == nil {
		return
	}
	p.cancel(errLocalPublish)
	<-p.done
}

// OwnerChanged tells the manager that key's owner is now the node at
// url ("": no owner, the publisher is gone for now). A pull of key from
// another node leaves it at once for url, and one waiting to retry
// retries now.
func (m *Manager) OwnerChanged(key, url string) {
	m.mu.Lock()
	p := m.pulls[key]
	m.mu.Unlock()
	if p != nil && p.e.locate != nil {
		p.ownerChanged(strings.TrimRight(url, "/"))
	}
}

// ClusterPulls lists the keys this node pulls from other cluster nodes.
func (m *Manager) ClusterPulls() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k, p := range m.pulls {
		if p.e.locate != nil {
			out = append(out, k)
		}
	}
	return out
}

var errLocalPublish = errors.New("relay: published on this node")

// ErrRegistryUnavailable is what players are told when the owner of a
// stream cannot be looked up.
var ErrRegistryUnavailable = errors.New("cluster registry unavailable")

// clusterMissCache is how long a key no node owned is answered "not found"
// without asking the registry again: HLS players poll a stream that ended
// every second, and each miss would be a registry round trip. Short: a
// stream published elsewhere a moment later must be found.
const clusterMissCache = time.Second

// clusterMissing reports whether key was found nowhere within
// clusterMissCache.
func (m *Manager) clusterMissing(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	until, ok := m.notFound[clusterMissKey(key)]
	if ok && time.Now().After(until) {
		delete(m.notFound, clusterMissKey(key))
		return false
	}
	return ok
}

func (m *Manager) clusterMiss(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if len(m.notFound) >= m.cfg.MaxPulls {
		for k, until := range m.notFound {
			if !now.Before(until) {
				delete(m.notFound, k)
			}
		}
		if len(m.notFound) >= m.cfg.MaxPulls {
			return // random names: ask the registry rather than grow
		}
	}
	m.notFound[clusterMissKey(key)] = now.Add(clusterMissCache)
}

// clusterMissKey keeps cluster misses apart from edge not-found entries.
func clusterMissKey(key string) string { return "\x00cluster:" + key }

// clusterTarget is the pull target of the node at base.
func clusterTarget(base string) (target, error) {
	return parseTarget(strings.TrimRight(base, "/")+"/"+varApp+"/"+varStream+".flv", true)
}

// ownerChanged cuts the session from another owner than url and wakes a
// retry wait.
func (p *puller) ownerChanged(url string) {
	p.mu.Lock()
	p.ownerGen++
	cur, cut := p.origin, p.cut
	p.mu.Unlock()
	if url != "" && url != cur && cut != nil {
		cut()
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}
