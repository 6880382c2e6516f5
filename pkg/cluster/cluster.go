// Package cluster joins a Ripple server to an origin cluster coordinated
// through Redis (or Valkey): any node takes any publish, every node plays
// every stream (docs/cluster.md).
//
// A Node heartbeats itself into the registry with its load. A publish
// claims its stream key with a lease and a fencing epoch (Claim, called by
// the publish admission); the claim is renewed every Lease/3 while the
// stream lives here, marked idle while the stream waits inside its
// reconnect grace (so that its publisher may come back on another node),
// and released when it ends. A player of a key that is not live here is
// served by a pull from the owner (pkg/relay, through Locate). A node that
// finds its claim gone or taken (a takeover, a lease lost while paused or
// cut off) stops acting as the key's origin at once: it ends its publisher
// and, if players are attached, pulls the key from the new owner into the
// same stream, so they stay.
//
// While the registry is down the node keeps serving what it has and takes
// local publishes (claimed when it returns); what needs a lookup is refused
// with ErrUnavailable.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
)

// NodeConfig configures a Node.
type NodeConfig struct {
	Logger *slog.Logger // nil: discard

	// Registry reaches Redis (URL, Lease, ...); its Observe is wrapped to
	// feed Stats.
	Registry Config
	// ID names this node (default: the host name); AdvertiseURL is how the
	// others reach its HTTP listener (http[s]://host:port).
	ID, AdvertiseURL string
	// Policy says whether a publish of a key claimed elsewhere takes it
	// over (true) or is refused (false), as hub.publish_policy says for
	// one node.
	Takeover func(key string) bool
	// Load reports this node's load for its heartbeat (may be nil).
	Load func() Load
	// Players counts a stream's players (nil: every hub reader): a node
	// that stops being a key's origin pulls it from the new owner only
	// for players, not for its own HLS muxer or recorder.
	Players func(si *hub.StreamInfo) int
	// Panics recovers a panic of the node's goroutines (component
	// "cluster").
	Panics *guard.Recorder
}

// Load is what a node reports of itself in its heartbeat.
type Load struct {
	Streams, Players int
	BytesOut         uint64
}

// Puller moves streams between nodes (pkg/relay's Manager).
type Puller interface {
	// Pull starts pulling key from its owner into the local stream.
	Pull(key string) error
	// StopPull ends key's pull and waits until its publisher is closed.
	StopPull(key string)
	// OwnerChanged says key is owned by the node at url now ("": none).
	OwnerChanged(key, url string)
	// ClusterPulls lists the keys pulled from other nodes.
	ClusterPulls() []string
}

// Errors of a Node.
var (
	// ErrClosed: the node is shut down.
	ErrClosed = errors.New("cluster: node closed")
)

// registry is what the node needs of *Registry.
type registry interface {
	Claim(ctx context.Context, key, node, url string, replace int64) (Owner, *Owner, error)
	Renew(ctx context.Context, node string, claims map[string]int64) ([]string, error)
	SetIdle(ctx context.Context, key, node string, epoch int64, idle bool) error
	Release(ctx context.Context, key, node string, epoch int64) error
	Lookup(ctx context.Context, key string) (Owner, error)
	Owners(ctx context.Context) (map[string]Owner, error)
	Heartbeat(ctx context.Context, n NodeInfo) error
	Leave(ctx context.Context, id string) error
	Nodes(ctx context.Context) ([]NodeInfo, error)
	Watch(ctx context.Context, fn func(key string), onSubscribed func())
	Close() error
}

// claim is a key this node owns, or took without the registry.
type claim struct {
	epoch int64 // 0: accepted while the registry was down, not claimed yet
	idle  bool  // marked idle in the registry
}

// Node is this server's membership in the cluster: New builds it,
// SetPuller wires the relays, Start makes it act, Close leaves.
type Node struct {
	cfg   NodeConfig
	log   *slog.Logger
	hub   *hub.Hub
	reg   registry
	lease time.Duration
	probe *http.Client

	puller Puller // set before Start

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	unwatch func()
	kick    chan struct{} // wakes the loop: keys are dirty

	up      atomic.Bool // the last registry operation succeeded
	reached atomic.Bool // the registry answered at least once
	// hbRefused: the last heartbeat was refused (logged once per change).
	hbRefused atomic.Bool
	started   time.Time

	mu     sync.Mutex
	closed bool
	claims map[string]*claim // key → this node's claim
	dirty  map[string]bool   // keys whose hub state changed
	downAt time.Time         // the registry failed since (zero: up)

	stats stats
}

// New checks cfg and builds a Node; it does not reach Redis yet.
func New(cfg NodeConfig, h *hub.Hub) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ID == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			return nil, fmt.Errorf("cluster: node id: no host name (%w): set cluster.node_id", err)
		}
		cfg.ID = host
	}
	if cfg.AdvertiseURL == "" {
		return nil, errors.New("cluster: advertise url is empty")
	}
	n := &Node{
		cfg:     cfg,
		log:     cfg.Logger.With("node", cfg.ID),
		hub:     h,
		claims:  make(map[string]*claim),
		dirty:   make(map[string]bool),
		kick:    make(chan struct{}, 1),
		started: time.Now(),
		stats:   newStats(),
	}
	rc := cfg.Registry
	observe := rc.Observe
	rc.Observe = func(op string, d time.Duration, err error) {
		n.observed(op, d, err)
		if observe != nil {
			observe(op, d, err)
		}
	}
	redisLogs.Do(func() { redis.SetLogger(redisLogger{log: cfg.Logger.With("proto", "redis")}) })
	reg, err := NewRegistry(rc)
	if err != nil {
		return nil, err
	}
	n.reg = reg
	n.lease = reg.Lease()
	n.probe = newProbeClient(min(time.Second, n.lease/4))
	n.ctx, n.cancel = context.WithCancel(context.Background())
	return n, nil
}

// ID is this node's name in the registry.
func (n *Node) ID() string { return n.cfg.ID }

// SetPuller wires the relays that pull streams from other nodes; call it
// before Start.
func (n *Node) SetPuller(p Puller) { n.puller = p }

// Start watches the hub and runs the heartbeat, renewal and ownership
// watch. Later calls do nothing.
func (n *Node) Start() {
	n.mu.Lock()
	if n.unwatch != nil || n.closed {
		n.mu.Unlock()
		return
	}
	n.unwatch = n.hub.Watch(n.onEvent)
	n.mu.Unlock()
	n.wg.Add(2)
	go func() {
		defer n.wg.Done()
		n.cfg.Panics.Do("cluster", n.log, n.loop)
	}()
	go func() {
		defer n.wg.Done()
		n.cfg.Panics.Do("cluster", n.log, func() {
			n.reg.Watch(n.ctx, n.ownerChanged, n.resync)
		})
	}()
}

// Close releases this node's claims (so that the others may take its
// publishers at once), leaves the registry and stops. Idempotent.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	unwatch := n.unwatch
	held := make(map[string]int64, len(n.claims))
	for k, c := range n.claims {
		if c.epoch > 0 {
			held[k] = c.epoch
		}
	}
	n.mu.Unlock()
	if unwatch != nil {
		unwatch()
	}
	n.cancel()
	n.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for k, e := range held {
		if err := n.reg.Release(ctx, k, n.cfg.ID, e); err == nil {
			n.log.Info("stream released", "stream", k, "epoch", e, "cause", "shutdown")
		}
	}
	_ = n.reg.Leave(ctx, n.cfg.ID) // best effort: the entry expires anyway
	return n.reg.Close()
}

// Up reports whether the last registry operation succeeded.
func (n *Node) Up() bool { return n.up.Load() }

// Ready reports whether the registry answered at least once: a node that
// never reached it cannot find any stream of the others.
func (n *Node) Ready() bool { return n.reached.Load() }

// Locate returns the base URL of the node that owns key, for a pull:
// ErrNotFound if none does or this node does (a node never pulls from
// itself), ErrUnavailable if the registry cannot be asked.
func (n *Node) Locate(ctx context.Context, key string) (string, error) {
	o, err := n.reg.Lookup(ctx, key)
	if err != nil {
		return "", err
	}
	if o.Node == n.cfg.ID {
		return "", fmt.Errorf("%w: claimed by this node", ErrNotFound)
	}
	return o.URL, nil
}

// Status is the cluster as the API shows it.
type Status struct {
	Node    string       `json:"node"`
	Up      bool         `json:"registry_up"`
	Nodes   []NodeStatus `json:"nodes"`
	Streams []KeyStatus  `json:"streams"`
}

// NodeStatus is one live node.
type NodeStatus struct {
	ID         string   `json:"id"`
	URL        string   `json:"url"`
	Self       bool     `json:"self"`
	AgeSeconds float64  `json:"age_seconds"`
	SeenAgo    float64  `json:"seen_seconds_ago"`
	Streams    int      `json:"streams"`
	Players    int      `json:"players"`
	BytesOut   uint64   `json:"bytes_out"`
	Pulls      []string `json:"pulls"`
}

// KeyStatus is one claimed stream key.
type KeyStatus struct {
	Key      string   `json:"key"`
	Node     string   `json:"node"`
	Epoch    int64    `json:"epoch"`
	Idle     bool     `json:"idle"`
	Since    string   `json:"since"`
	PulledBy []string `json:"pulled_by"`
}

// Status reads the registry: live nodes with their load, claimed keys with
// their owner, epoch and the nodes pulling them.
func (n *Node) Status(ctx context.Context) (Status, error) {
	st := Status{Node: n.cfg.ID, Up: n.Up(), Nodes: []NodeStatus{}, Streams: []KeyStatus{}}
	nodes, err := n.reg.Nodes(ctx)
	if err != nil {
		return st, err
	}
	owners, err := n.reg.Owners(ctx)
	if err != nil {
		return st, err
	}
	now := time.Now()
	pulledBy := make(map[string][]string)
	for _, nd := range nodes {
		st.Nodes = append(st.Nodes, NodeStatus{ID: nd.ID, URL: nd.URL, Self: nd.ID == n.cfg.ID,
			AgeSeconds: now.Sub(nd.Started).Seconds(), SeenAgo: max(0, now.Sub(nd.Seen).Seconds()),
			Streams: nd.Streams, Players: nd.Players, BytesOut: nd.BytesOut, Pulls: nonNil(nd.Pulls)})
		for _, k := range nd.Pulls {
			pulledBy[k] = append(pulledBy[k], nd.ID)
		}
	}
	for k, o := range owners {
		st.Streams = append(st.Streams, KeyStatus{Key: k, Node: o.Node, Epoch: o.Epoch, Idle: o.Idle,
			Since: o.Since.UTC().Format(time.RFC3339), PulledBy: nonNil(pulledBy[k])})
	}
	sort.Slice(st.Streams, func(i, j int) bool { return st.Streams[i].Key < st.Streams[j].Key })
	return st, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
