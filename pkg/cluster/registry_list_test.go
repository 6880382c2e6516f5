package cluster

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/internal/redistest"
)

func TestOwners(t *testing.T) {
	s := redistest.Start(t)
	r := newRegistry(t, s.URL, Config{})
	short := newRegistry(t, s.URL, Config{Lease: 200 * time.Millisecond})
	raw := rawClient(t, s)
	ctx := t.Context()

	owners, err := r.Owners(ctx)
	require.NoError(t, err)
	require.Empty(t, owners)

	a, _, err := r.Claim(ctx, "live/a", "A", "http://a", ReplaceNone)
	require.NoError(t, err)
	b, _, err := r.Claim(ctx, "live/b", "B", "http://b", ReplaceNone)
	require.NoError(t, err)
	_, _, err = short.Claim(ctx, "live/c", "C", "http://c", ReplaceNone)
	require.NoError(t, err)
	// An index entry without a claim, as a crash between writes of some
	// other tool would leave.
	require.NoError(t, raw.ZAdd(ctx, "ripple:streams", redis.Z{Score: 1, Member: "live/ghost"}).Err())

	owners, err = r.Owners(ctx)
	require.NoError(t, err)
	require.Len(t, owners, 3)
	require.Equal(t, a, owners["live/a"])
	require.Equal(t, b, owners["live/b"])
	_, err = raw.ZScore(ctx, "ripple:streams", "live/ghost").Result()
	require.ErrorIs(t, err, redis.Nil, "listing removed the stale entry")

	require.Eventually(t, func() bool {
		_, err := r.Lookup(ctx, "live/c")
		return errors.Is(err, ErrNotFound)
	}, 10*time.Second, 20*time.Millisecond)
	owners, err = r.Owners(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]Owner{"live/a": a, "live/b": b}, owners)
	members, err := raw.ZRange(ctx, "ripple:streams", 0, -1).Result()
	require.NoError(t, err)
	require.Equal(t, []string{"live/a", "live/b"}, members, "the expired claim left the index")
}

func TestPrefixSeparatesClusters(t *testing.T) {
	s := redistest.Start(t)
	one := newRegistry(t, s.URL, Config{Prefix: "one:"})
	two := newRegistry(t, s.URL, Config{Prefix: "two:"})
	ctx := t.Context()
	_, _, err := one.Claim(ctx, "live/a", "A", "http://a", ReplaceNone)
	require.NoError(t, err)
	_, err = two.Lookup(ctx, "live/a")
	require.ErrorIs(t, err, ErrNotFound)
	_, _, err = two.Claim(ctx, "live/a", "B", "http://b", ReplaceNone)
	require.NoError(t, err)
	n, err := rawClient(t, s).Exists(ctx, "one:stream:live/a", "two:stream:live/a", "one:epoch", "two:epoch").Result()
	require.NoError(t, err)
	require.Equal(t, int64(4), n)
}

func TestNodes(t *testing.T) {
	s := redistest.Start(t)
	r := newRegistry(t, s.URL, Config{NodeTTL: time.Minute})
	short := newRegistry(t, s.URL, Config{NodeTTL: 200 * time.Millisecond})
	raw := rawClient(t, s)
	ctx := t.Context()

	started := time.UnixMilli(time.Now().Add(-time.Hour).UnixMilli())
	a := NodeInfo{ID: "A", URL: "http://a:8080", Started: started, Streams: 3, Players: 40, BytesOut: 1 << 40, Pulls: []string{"live/x", "live/y"}}
	require.NoError(t, r.Heartbeat(ctx, a))
	require.NoError(t, r.Heartbeat(ctx, NodeInfo{ID: "B", URL: "http://b:8080", Started: started}))
	require.NoError(t, short.Heartbeat(ctx, NodeInfo{ID: "C", URL: "http://c:8080", Started: started}))

	nodes, err := r.Nodes(ctx)
	require.NoError(t, err)
	require.Len(t, nodes, 3)
	require.Equal(t, []string{"A", "B", "C"}, []string{nodes[0].ID, nodes[1].ID, nodes[2].ID})
	require.WithinDuration(t, time.Now(), nodes[0].Seen, 5*time.Second)
	a.Seen = nodes[0].Seen
	require.Equal(t, a, nodes[0])
	require.True(t, nodes[0].Started.Equal(started))

	// C stops beating: its entry expires and listing cleans its index entry.
	require.Eventually(t, func() bool {
		n, err := raw.Exists(ctx, "ripple:node:C").Result()
		return err == nil && n == 0
	}, 10*time.Second, 20*time.Millisecond)
	nodes, err = r.Nodes(ctx)
	require.NoError(t, err)
	require.Len(t, nodes, 2)
	ids, err := raw.ZRange(ctx, "ripple:nodes", 0, -1).Result()
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"A", "B"}, ids)

	// A clean shutdown leaves at once.
	require.NoError(t, r.Leave(ctx, "B"))
	nodes, err = r.Nodes(ctx)
	require.NoError(t, err)
	require.Len(t, nodes, 1)
	require.Equal(t, "A", nodes[0].ID)
	require.NoError(t, r.Leave(ctx, "B"), "leaving twice is fine")

	// Refused before any I/O.
	require.Error(t, r.Heartbeat(ctx, NodeInfo{}))
	require.Error(t, r.Leave(ctx, ""))
	big := NodeInfo{ID: "D", Pulls: []string{strings.Repeat("p", MaxValueLen)}}
	err = r.Heartbeat(ctx, big)
	require.ErrorContains(t, err, "exceeds")
	require.NotErrorIs(t, err, ErrUnavailable)
}

// TestCorruptValues stores what no registry writes and checks every
// reader treats it as absent or corrupt, with an error and no panic.
func TestCorruptValues(t *testing.T) {
	s := redistest.Start(t)
	r := newRegistry(t, s.URL, Config{})
	raw := rawClient(t, s)
	ctx := t.Context()

	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	huge := `{"node":"X","url":"` + strings.Repeat("u", MaxValueLen) + `","epoch":5,"since":1,"idle":true}`
	values := map[string]string{
		"garbage":     "garbage",
		"empty":       "",
		"array":       "[]",
		"deep":        deep,
		"no node":     `{"epoch":3,"since":1}`,
		"no epoch":    `{"node":"X"}`,
		"str epoch":   `{"node":"X","epoch":"3"}`,
		"zero epoch":  `{"node":"X","epoch":0}`,
		"float epoch": `{"node":"X","epoch":1.5}`,
		"huge":        huge,
	}
	for name, v := range values {
		key := "bad/" + name
		require.NoError(t, raw.Set(ctx, "ripple:stream:"+key, v, 0).Err())
		require.NoError(t, raw.ZAdd(ctx, "ripple:streams", redis.Z{Score: 1, Member: key}).Err())
	}
	require.NoError(t, raw.HSet(ctx, "ripple:stream:bad/hash", "node", "X").Err())
	require.NoError(t, raw.ZAdd(ctx, "ripple:streams", redis.Z{Score: 1, Member: "bad/hash"}).Err())
	values["hash"] = ""

	good, _, err := r.Claim(ctx, "live/good", "A", "http://a", ReplaceNone)
	require.NoError(t, err)
	owners, err := r.Owners(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]Owner{"live/good": good}, owners, "corrupt claims are left out")

	for name := range values {
		key := "bad/" + name
		t.Run(name, func(t *testing.T) {
			_, err := r.Lookup(ctx, key)
			require.ErrorIs(t, err, ErrCorrupt)
			require.NotErrorIs(t, err, ErrUnavailable)
			lost, err := r.Renew(ctx, "X", map[string]int64{key: 3})
			require.NoError(t, err)
			require.Equal(t, []string{key}, lost)
			require.ErrorIs(t, r.SetIdle(ctx, key, "X", 3, false), ErrLost)
			require.ErrorIs(t, r.Release(ctx, key, "X", 3), ErrLost)

			// A corrupt claim is no claim: anyone may take the key, which
			// repairs it.
			o, prev, err := r.Claim(ctx, key, "A", "http://a", ReplaceNone)
			require.NoError(t, err)
			require.Nil(t, prev)
			got, err := r.Lookup(ctx, key)
			require.NoError(t, err)
			require.Equal(t, o, got)
		})
	}

	// Node entries likewise.
	for id, v := range map[string]string{"G": "garbage", "H": huge, "I": `{"id":"other"}`} {
		require.NoError(t, raw.Set(ctx, "ripple:node:"+id, v, 0).Err())
		require.NoError(t, raw.ZAdd(ctx, "ripple:nodes", redis.Z{Score: 1, Member: id}).Err())
	}
	require.NoError(t, r.Heartbeat(ctx, NodeInfo{ID: "A"}))
	nodes, err := r.Nodes(ctx)
	require.NoError(t, err)
	require.Len(t, nodes, 1)
	require.Equal(t, "A", nodes[0].ID)
}

func TestObserve(t *testing.T) {
	s := redistest.Start(t)
	var mu sync.Mutex
	seen := map[string]error{}
	r := newRegistry(t, s.URL, Config{Observe: func(op string, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		require.GreaterOrEqual(t, d, time.Duration(0))
		seen[op] = err
	}})
	ctx := t.Context()
	require.NoError(t, r.Ping(ctx))
	o, _, err := r.Claim(ctx, "live/a", "A", "http://a", ReplaceNone)
	require.NoError(t, err)
	_, err = r.Renew(ctx, "A", map[string]int64{"live/a": o.Epoch})
	require.NoError(t, err)
	require.NoError(t, r.SetIdle(ctx, "live/a", "A", o.Epoch, true))
	_, err = r.Owners(ctx)
	require.NoError(t, err)
	require.NoError(t, r.Release(ctx, "live/a", "A", o.Epoch))
	_, err = r.Lookup(ctx, "live/a")
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, r.Heartbeat(ctx, NodeInfo{ID: "A"}))
	_, err = r.Nodes(ctx)
	require.NoError(t, err)
	require.NoError(t, r.Leave(ctx, "A"))

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 10)
	for _, op := range []string{"ping", "claim", "renew", "idle", "owners", "release", "heartbeat", "nodes", "leave"} {
		require.Contains(t, seen, op)
		require.NoError(t, seen[op], op)
	}
	require.ErrorIs(t, seen["lookup"], ErrNotFound)
}
