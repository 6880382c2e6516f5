package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/redistest"
)

const (
	testLease = 900 * time.Millisecond
	waitFor   = 10 * time.Second
	tick      = 10 * time.Millisecond
)

// fakePuller records what the node asks of the relays. Pull may be asked
// more than once for a key (a renewal and a notification can both find the
// loss): the relay starts one pull per key.
type fakePuller struct {
	mu      sync.Mutex
	pulls   []string
	stops   []string
	changes []string
}

func (f *fakePuller) Pull(key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pulls = append(f.pulls, key)
	return nil
}

func (f *fakePuller) StopPull(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops = append(f.stops, key)
}

func (f *fakePuller) OwnerChanged(key, url string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, key+" "+url)
}

func (f *fakePuller) ClusterPulls() []string { return nil }

func (f *fakePuller) pulled() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.pulls...)
}

func (f *fakePuller) changed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.changes...)
}

type testNode struct {
	*Node
	hub    *hub.Hub
	puller *fakePuller
	url    string
}

// startNode runs a node on its own hub; alive says whether its advertise
// URL answers /healthz (a live node) or refuses connections (a dead one).
func startNode(t *testing.T, redisURL, id string, alive, takeover bool) *testNode {
	t.Helper()
	return startNodeWith(t, redisURL, id, alive, takeover, nil)
}

// startNodeWith is startNode with the puller p (nil: a fakePuller).
func startNodeWith(t *testing.T, redisURL, id string, alive, takeover bool, p Puller) *testNode {
	t.Helper()
	h := hub.New(hub.Config{ReconnectGrace: 5 * time.Second})
	t.Cleanup(h.Close)
	url := deadURL(t)
	if alive {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
		t.Cleanup(srv.Close)
		url = srv.URL
	}
	n, err := New(NodeConfig{
		Registry:     Config{URL: redisURL, Lease: testLease, Timeout: 300 * time.Millisecond},
		ID:           id,
		AdvertiseURL: url,
		Takeover:     func(string) bool { return takeover },
	}, h)
	require.NoError(t, err)
	fake := &fakePuller{}
	if p == nil {
		p = fake
	}
	n.SetPuller(p)
	n.Start()
	t.Cleanup(func() { require.NoError(t, n.Close()) })
	require.Eventually(t, n.Ready, waitFor, tick, "node reaches the registry")
	return &testNode{Node: n, hub: h, puller: fake, url: url}
}

// deadURL is an address that refuses connections.
func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr
}

// publish claims and publishes key on n, as the RTMP admission does.
func (n *testNode) publish(t *testing.T, key string) *hub.Publisher {
	t.Helper()
	require.NoError(t, n.Claim(t.Context(), key))
	p, err := n.hub.Publish(key, hub.PublisherInfo{Protocol: "rtmp", RemoteAddr: "127.0.0.1:1"})
	require.NoError(t, err)
	return p
}

func owner(_ *testing.T, n *testNode, key string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	o, err := n.reg.Lookup(ctx, key)
	if err != nil {
		return ""
	}
	return o.Node
}

func TestNodeClaims(t *testing.T) {
	rs := redistest.Start(t)
	a := startNode(t, rs.URL, "a", true, false)
	b := startNode(t, rs.URL, "b", true, false)

	pa := a.publish(t, "live/cam")
	require.Equal(t, "a", owner(t, b, "live/cam"))
	u, err := b.Locate(t.Context(), "live/cam")
	require.NoError(t, err)
	require.Equal(t, a.url, u, "b pulls from a")
	_, err = a.Locate(t.Context(), "live/cam")
	require.ErrorIs(t, err, ErrNotFound, "a node never pulls from itself")
	_, err = b.Locate(t.Context(), "live/none")
	require.ErrorIs(t, err, ErrNotFound)

	// Reject policy, a live owner: refused, naming it.
	err = b.Claim(t.Context(), "live/cam")
	require.ErrorIs(t, err, ErrBusy)
	require.Contains(t, err.Error(), `node "a"`)

	// The claim outlives several leases while the stream lives.
	require.Eventually(t, func() bool { return a.Stats().Ops["renew"].Count >= 3 }, waitFor, tick)
	require.Equal(t, "a", owner(t, b, "live/cam"))

	// The publisher leaves: the claim turns idle and b may take it (a
	// publisher reconnecting through a load balancer).
	pa.Close()
	require.Eventually(t, func() bool {
		o, err := b.reg.Lookup(t.Context(), "live/cam")
		return err == nil && o.Idle
	}, waitFor, tick, "claim idle inside the grace")
	si, _ := a.hub.Stream("live/cam")
	require.False(t, si.Publishing)
	rd, err := a.hub.Subscribe("live/cam", hub.ReaderInfo{Protocol: "http-flv"})
	require.NoError(t, err) // a player waiting on a
	defer rd.Close()
	pb := b.publish(t, "live/cam")
	defer pb.Close()
	require.Equal(t, "b", owner(t, a, "live/cam"))
	require.Eventually(t, func() bool { return len(a.puller.pulled()) >= 1 }, waitFor, tick,
		"a's waiting players follow the stream to b")
	require.Contains(t, a.puller.changed(), "live/cam "+b.url)
	require.Equal(t, uint64(1), a.Stats().Claims["lost"])

	// The stream ends on b: released.
	pb.End()
	require.Eventually(t, func() bool { return owner(t, a, "live/cam") == "" }, waitFor, tick, "released at the end")
}

func TestNodeTakeoverFences(t *testing.T) {
	rs := redistest.Start(t)
	a := startNode(t, rs.URL, "a", true, false)
	b := startNode(t, rs.URL, "b", true, true) // takeover policy
	pa := a.publish(t, "live/cam")
	rd, err := a.hub.Subscribe("live/cam", hub.ReaderInfo{Protocol: "rtmp"})
	require.NoError(t, err)
	defer rd.Close()

	pb := b.publish(t, "live/cam")
	defer pb.Close()
	select {
	case <-pa.Done():
		require.ErrorIs(t, pa.Err(), hub.ErrKicked, "the old owner ends its publisher")
	case <-time.After(waitFor):
		t.Fatal("a kept publishing a key b took over")
	}
	require.Eventually(t, func() bool { return len(a.puller.pulled()) >= 1 }, waitFor, tick, "a's player follows b")
	require.Equal(t, uint64(1), b.Stats().Claims["taken_over"])
}

func TestNodeDeadOwner(t *testing.T) {
	rs := redistest.Start(t)
	a := startNode(t, rs.URL, "a", false, false) // its HTTP listener is gone: a crashed node
	b := startNode(t, rs.URL, "b", true, false)
	a.publish(t, "live/cam")
	defer b.publish(t, "live/cam").Close()
	require.Equal(t, "b", owner(t, a, "live/cam"), "a dead owner's key is taken at once, not after its lease")
}

func TestNodeLeaseLostWhilePaused(t *testing.T) {
	rs := redistest.Start(t)
	a := startNode(t, rs.URL, "a", true, false)
	b := startNode(t, rs.URL, "b", true, false)
	pa := a.publish(t, "live/cam")
	// What a pause past the lease looks like from the registry: the claim
	// expired and b claimed the key. Redis is told directly: a's node goes
	// on renewing meanwhile, which is exactly what a resumed node does.
	ctx := t.Context()
	for {
		o, err := a.reg.Lookup(ctx, "live/cam")
		require.NoError(t, err)
		_, _, err = b.reg.Claim(ctx, "live/cam", "b", b.url, o.Epoch)
		if err == nil {
			break
		}
	}
	select {
	case <-pa.Done():
	case <-time.After(waitFor):
		t.Fatal("a still serves a key it lost as origin")
	}
	require.Equal(t, "b", owner(t, a, "live/cam"))
}

func TestNodeRegistryDown(t *testing.T) {
	rs := redistest.Start(t)
	a := startNode(t, rs.URL, "a", true, false)
	pa := a.publish(t, "live/old")
	defer pa.Close()

	rs.Kill()
	require.Eventually(t, func() bool { return !a.Up() }, waitFor, tick)
	// Local publishes go on; lookups say why they cannot answer.
	pb := a.publish(t, "live/new")
	defer pb.Close()
	_, err := a.Locate(t.Context(), "live/other")
	require.ErrorIs(t, err, ErrUnavailable)
	si, ok := a.hub.Stream("live/old")
	require.True(t, ok && si.Publishing, "a keeps serving its streams")

	rs.Restart(t) // empty: no persistence
	require.Eventually(t, func() bool {
		return owner(t, a, "live/old") == "a" && owner(t, a, "live/new") == "a"
	}, waitFor, tick, "claims come back when the registry does")
	select {
	case <-pa.Done():
		t.Fatal("a registry that came back empty must not fence its publishers")
	default:
	}
	require.True(t, a.Up())
}

func TestNodeClosedRefuses(t *testing.T) {
	rs := redistest.Start(t)
	h := hub.New(hub.Config{})
	defer h.Close()
	n, err := New(NodeConfig{Registry: Config{URL: rs.URL}, ID: "x", AdvertiseURL: "http://127.0.0.1:1"}, h)
	require.NoError(t, err)
	require.NoError(t, n.Close())
	require.NoError(t, n.Close(), "idempotent")
	require.True(t, errors.Is(n.Claim(t.Context(), "live/cam"), ErrClosed))
}

// A heartbeat the registry refuses must not stop the renewals: the claims
// would expire under a live publisher.
func TestNodeRenewsWhateverTheHeartbeat(t *testing.T) {
	rs := redistest.Start(t)
	a := startNode(t, rs.URL, "a", true, false)
	a.publish(t, "live/cam")
	// The node index is broken (a value of another type): every
	// heartbeat now fails with WRONGTYPE, an answer, not an outage.
	rc := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rc.Close()
	require.NoError(t, rc.Set(t.Context(), "ripple:nodes", "not a sorted set", 0).Err())
	renewed := a.Stats().Ops["renew"].Count
	require.Eventually(t, func() bool { return a.Stats().Ops["renew"].Count >= renewed+4 }, waitFor, tick,
		"renewals go on past several leases")
	require.Equal(t, "a", owner(t, a, "live/cam"))
	require.NotZero(t, a.Stats().Ops["heartbeat"].Errors, "the heartbeats were refused")
}

// A registry that went back in time (a failover to a replica that missed
// writes) names an older owner: the node takes its key back instead of
// fencing its own live publisher.
func TestNodeRegistryRollback(t *testing.T) {
	rs := redistest.Start(t)
	a := startNode(t, rs.URL, "a", true, false)
	b := startNode(t, rs.URL, "b", true, false)
	pa := a.publish(t, "live/cam")
	o, err := a.reg.Lookup(t.Context(), "live/cam")
	require.NoError(t, err)
	rc := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rc.Close()
	old := fmt.Sprintf(`{"node":"b","url":%q,"epoch":%d,"since":%d,"idle":false}`, b.url, o.Epoch-1, time.Now().UnixMilli())
	require.NoError(t, rc.Set(t.Context(), "ripple:stream:live/cam", old, testLease).Err())
	require.Eventually(t, func() bool {
		o2, err := a.reg.Lookup(t.Context(), "live/cam")
		return err == nil && o2.Node == "a" && o2.Epoch > o.Epoch
	}, waitFor, tick, "a takes its key back at a new epoch")
	select {
	case <-pa.Done():
		t.Fatal("a fenced its own publisher on a registry rollback")
	default:
	}
}
