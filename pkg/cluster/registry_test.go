package cluster

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/internal/redistest"
)

// newRegistry returns a Registry on url, closed at the end of the test.
func newRegistry(t *testing.T, url string, cfg Config) *Registry {
	t.Helper()
	cfg.URL = url
	r, err := NewRegistry(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// rawClient is a plain client for arranging and inspecting Redis directly.
func rawClient(t *testing.T, s *redistest.Server) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestNewConfig(t *testing.T) {
	r, err := NewRegistry(Config{URL: "redis://127.0.0.1:1/0"})
	require.NoError(t, err)
	require.Equal(t, DefaultPrefix, r.prefix)
	require.Equal(t, DefaultLease, r.lease)
	require.Equal(t, DefaultLease, r.nodeTTL, "NodeTTL defaults to the lease")
	require.Equal(t, DefaultTimeout, r.timeout)
	require.NoError(t, r.Close())

	r, err = NewRegistry(Config{URL: "redis://127.0.0.1:1/0", Prefix: "x:", Lease: time.Second, NodeTTL: 3 * time.Second, Timeout: time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, "x:", r.prefix)
	require.Equal(t, time.Second, r.lease)
	require.Equal(t, 3*time.Second, r.nodeTTL)
	require.Equal(t, time.Millisecond, r.timeout)
	require.NoError(t, r.Close())

	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no url", Config{}, "url is required"},
		{"negative lease", Config{URL: "redis://h/0", Lease: -1}, "must not be negative"},
		{"sub-ms lease", Config{URL: "redis://h/0", Lease: time.Microsecond}, "at least 1ms"},
		{"scheme", Config{URL: "http://h/0"}, "invalid URL scheme"},
		{"bad port", Config{URL: "redis://user:s3cret@h:port/0"}, `"redis://user:xxxxx@h:port/0"`},
		{"bad db", Config{URL: "redis://user:s3cret@h:1/zz"}, `"redis://user:xxxxx@h:1/zz"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRegistry(tc.cfg)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "s3cret")
		})
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://h:1/0":                  "redis://h:1/0",
		"redis://u:pw@h:1/0":             "redis://u:xxxxx@h:1/0",
		"redis://u:p@w@h:bad/0":          "redis://u:xxxxx@h:bad/0",
		"redis://:pw@h:bad":              "redis://:xxxxx@h:bad",
		"redis://u@h:bad/0":              "redis://u@h:bad/0",
		"redis://u:pw%zz@h/0?x=1":        "redis://u:xxxxx@h/0?x=1",
		"no scheme u:pw@h":               "no scheme u:pw@h",
		"redis://u:pw@h:bad/0?q=a@b#c@d": "redis://u:xxxxx@h:bad/0?q=a@b#c@d",
	} {
		got := redactURL(in)
		require.Equal(t, want, got, in)
	}
}

func TestClaim(t *testing.T) {
	s := redistest.Start(t)
	r := newRegistry(t, s.URL, Config{})
	ctx := t.Context()
	before := time.Now().Add(-time.Second)

	a, prev, err := r.Claim(ctx, "live/a", "A", "http://a:8080", ReplaceNone)
	require.NoError(t, err)
	require.Nil(t, prev)
	require.Equal(t, "A", a.Node)
	require.Equal(t, "http://a:8080", a.URL)
	require.Positive(t, a.Epoch)
	require.False(t, a.Idle)
	require.WithinRange(t, a.Since, before, time.Now().Add(time.Second))

	got, err := r.Lookup(ctx, "live/a")
	require.NoError(t, err)
	require.Equal(t, a, got)

	t.Run("same node keeps its epoch", func(t *testing.T) {
		again, prev, err := r.Claim(ctx, "live/a", "A", "http://a2:8080", ReplaceNone)
		require.NoError(t, err)
		require.Nil(t, prev)
		require.Equal(t, a.Epoch, again.Epoch)
		require.True(t, a.Since.Equal(again.Since))
		require.Equal(t, "http://a2:8080", again.URL, "the url is updated")
		for _, replace := range []int64{ReplaceAny, a.Epoch + 100} {
			again, prev, err = r.Claim(ctx, "live/a", "A", "http://a:8080", replace)
			require.NoError(t, err)
			require.Nil(t, prev)
			require.Equal(t, a.Epoch, again.Epoch)
		}
	})

	t.Run("another node is busy", func(t *testing.T) {
		_, prev, err := r.Claim(ctx, "live/a", "B", "http://b:8080", ReplaceNone)
		require.ErrorIs(t, err, ErrBusy)
		require.NotErrorIs(t, err, ErrUnavailable)
		require.Nil(t, prev)
		var busy *BusyError
		require.ErrorAs(t, err, &busy)
		require.Equal(t, "A", busy.Owner.Node)
		require.Equal(t, a.Epoch, busy.Owner.Epoch)
		require.Equal(t, fmt.Sprintf(`cluster: stream claimed by another node: node "A" at epoch %d`, a.Epoch), err.Error())
	})

	t.Run("compare and swap", func(t *testing.T) {
		cur, err := r.Lookup(ctx, "live/a")
		require.NoError(t, err)
		_, _, err = r.Claim(ctx, "live/a", "B", "http://b:8080", cur.Epoch+1)
		var busy *BusyError
		require.ErrorAs(t, err, &busy)
		require.Equal(t, cur, busy.Owner)

		b, prev, err := r.Claim(ctx, "live/a", "B", "http://b:8080", cur.Epoch)
		require.NoError(t, err)
		require.Equal(t, "B", b.Node)
		require.Greater(t, b.Epoch, cur.Epoch)
		require.NotNil(t, prev)
		require.Equal(t, cur, *prev)

		// A free key is taken whatever epoch the caller saw.
		c, prev, err := r.Claim(ctx, "live/free", "B", "http://b:8080", 12345)
		require.NoError(t, err)
		require.Nil(t, prev)
		require.Greater(t, c.Epoch, b.Epoch)
	})

	t.Run("takeover", func(t *testing.T) {
		cur, err := r.Lookup(ctx, "live/a")
		require.NoError(t, err)
		c, prev, err := r.Claim(ctx, "live/a", "C", "http://c:8080", ReplaceAny)
		require.NoError(t, err)
		require.Equal(t, "C", c.Node)
		require.Greater(t, c.Epoch, cur.Epoch)
		require.NotNil(t, prev)
		require.Equal(t, cur, *prev)
		got, err := r.Lookup(ctx, "live/a")
		require.NoError(t, err)
		require.Equal(t, c, got)
	})

	t.Run("invalid arguments", func(t *testing.T) {
		for _, tc := range []struct {
			key, node, url string
			replace        int64
		}{
			{"", "A", "u", ReplaceNone},
			{strings.Repeat("k", MaxKeyLen+1), "A", "u", ReplaceNone},
			{"k", "", "u", ReplaceNone},
			{"k", "A", strings.Repeat("u", MaxKeyLen+1), ReplaceNone},
			{"k", "\xff", "u", ReplaceNone},
			{"k", "A", "\xff", ReplaceNone},
			{"k", "A", "u", -2},
		} {
			_, _, err := r.Claim(ctx, tc.key, tc.node, tc.url, tc.replace)
			require.Error(t, err)
			require.NotErrorIs(t, err, ErrUnavailable)
		}
	})
}

func TestIdleClaim(t *testing.T) {
	s := redistest.Start(t)
	r := newRegistry(t, s.URL, Config{})
	ctx := t.Context()

	a, _, err := r.Claim(ctx, "live/a", "A", "http://a", ReplaceNone)
	require.NoError(t, err)
	require.ErrorIs(t, r.SetIdle(ctx, "live/a", "B", a.Epoch, true), ErrLost)
	require.ErrorIs(t, r.SetIdle(ctx, "live/a", "A", a.Epoch+1, true), ErrLost)
	require.NoError(t, r.SetIdle(ctx, "live/a", "A", a.Epoch, true))
	require.NoError(t, r.SetIdle(ctx, "live/a", "A", a.Epoch, true), "setting it twice is fine")
	got, err := r.Lookup(ctx, "live/a")
	require.NoError(t, err)
	require.True(t, got.Idle)

	// The owner claiming again clears the flag and keeps the epoch.
	again, _, err := r.Claim(ctx, "live/a", "A", "http://a", ReplaceNone)
	require.NoError(t, err)
	require.False(t, again.Idle)
	require.Equal(t, a.Epoch, again.Epoch)

	require.NoError(t, r.SetIdle(ctx, "live/a", "A", a.Epoch, true))
	require.NoError(t, r.SetIdle(ctx, "live/a", "A", a.Epoch, false))
	_, _, err = r.Claim(ctx, "live/a", "B", "http://b", ReplaceNone)
	require.ErrorIs(t, err, ErrBusy, "no longer idle")

	// Another node takes an idle claim without asking for a takeover.
	require.NoError(t, r.SetIdle(ctx, "live/a", "A", a.Epoch, true))
	b, prev, err := r.Claim(ctx, "live/a", "B", "http://b", ReplaceNone)
	require.NoError(t, err)
	require.Greater(t, b.Epoch, a.Epoch)
	require.False(t, b.Idle)
	require.NotNil(t, prev)
	require.Equal(t, "A", prev.Node)
	require.True(t, prev.Idle)
	require.ErrorIs(t, r.SetIdle(ctx, "live/a", "A", a.Epoch, false), ErrLost)
	require.ErrorIs(t, r.SetIdle(ctx, "live/none", "A", 1, true), ErrLost)

	// The idle change keeps the lease.
	ttl, err := rawClient(t, s).PTTL(ctx, "ripple:stream:live/a").Result()
	require.NoError(t, err)
	require.NoError(t, r.SetIdle(ctx, "live/a", "B", b.Epoch, true))
	ttl2, err := rawClient(t, s).PTTL(ctx, "ripple:stream:live/a").Result()
	require.NoError(t, err)
	require.Positive(t, ttl2)
	require.LessOrEqual(t, ttl2, ttl)
}

func TestRenew(t *testing.T) {
	s := redistest.Start(t)
	const lease = 200 * time.Millisecond
	r := newRegistry(t, s.URL, Config{Lease: lease})
	ctx := t.Context()

	a, _, err := r.Claim(ctx, "live/a", "A", "http://a", ReplaceNone)
	require.NoError(t, err)
	b, _, err := r.Claim(ctx, "live/b", "A", "http://a", ReplaceNone)
	require.NoError(t, err)
	claims := map[string]int64{"live/a": a.Epoch, "live/b": b.Epoch}

	// Renewing the way a node does, at a quarter of the lease, keeps both
	// claims for several leases.
	tick := time.NewTicker(lease / 4)
	defer tick.Stop()
	for end := time.Now().Add(4 * lease); time.Now().Before(end); <-tick.C {
		lost, err := r.Renew(ctx, "A", claims)
		require.NoError(t, err)
		require.Empty(t, lost)
	}
	got, err := r.Lookup(ctx, "live/a")
	require.NoError(t, err)
	require.Equal(t, a, got)

	// After a takeover the old owner's renewal reports the key lost and
	// does not touch the new claim.
	c, _, err := r.Claim(ctx, "live/a", "B", "http://b", ReplaceAny)
	require.NoError(t, err)
	claims["live/gone"] = 7
	claims[""] = 1
	lost, err := r.Renew(ctx, "A", claims)
	require.NoError(t, err)
	require.Equal(t, []string{"", "live/a", "live/gone"}, lost)
	got, err = r.Lookup(ctx, "live/a")
	require.NoError(t, err)
	require.Equal(t, c, got)
	n, err := rawClient(t, s).Exists(ctx, "ripple:stream:live/gone").Result()
	require.NoError(t, err)
	require.Zero(t, n, "a lost claim is not recreated")

	// The wrong epoch of the right node is lost too.
	lost, err = r.Renew(ctx, "A", map[string]int64{"live/b": b.Epoch + 1})
	require.NoError(t, err)
	require.Equal(t, []string{"live/b"}, lost)

	lost, err = r.Renew(ctx, "A", nil)
	require.NoError(t, err)
	require.Empty(t, lost)
}

func TestRenewManyClaims(t *testing.T) {
	s := redistest.Start(t)
	r := newRegistry(t, s.URL, Config{})
	ctx := t.Context()
	claims := map[string]int64{}
	for i := range renewChunk + 10 {
		key := fmt.Sprintf("live/%04d", i)
		o, _, err := r.Claim(ctx, key, "A", "http://a", ReplaceNone)
		require.NoError(t, err)
		claims[key] = o.Epoch
	}
	_, _, err := r.Claim(ctx, "live/0003", "B", "http://b", ReplaceAny)
	require.NoError(t, err)
	_, _, err = r.Claim(ctx, "live/1005", "B", "http://b", ReplaceAny)
	require.NoError(t, err)

	lost, err := r.Renew(ctx, "A", claims)
	require.NoError(t, err)
	require.Equal(t, []string{"live/0003", "live/1005"}, lost, "positions map back to keys in every chunk")

	owners, err := r.Owners(ctx)
	require.NoError(t, err)
	require.Len(t, owners, len(claims))
	require.Equal(t, "B", owners["live/1005"].Node)
	require.Equal(t, "A", owners["live/1009"].Node)
}

func TestRelease(t *testing.T) {
	s := redistest.Start(t)
	r := newRegistry(t, s.URL, Config{})
	ctx := t.Context()

	a, _, err := r.Claim(ctx, "live/a", "A", "http://a", ReplaceNone)
	require.NoError(t, err)
	require.ErrorIs(t, r.Release(ctx, "live/a", "B", a.Epoch), ErrLost)
	require.ErrorIs(t, r.Release(ctx, "live/a", "A", a.Epoch+1), ErrLost)
	_, err = r.Lookup(ctx, "live/a")
	require.NoError(t, err, "a refused release changes nothing")

	require.NoError(t, r.Release(ctx, "live/a", "A", a.Epoch))
	_, err = r.Lookup(ctx, "live/a")
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorIs(t, r.Release(ctx, "live/a", "A", a.Epoch), ErrLost, "already gone")
	_, err = rawClient(t, s).ZScore(ctx, "ripple:streams", "live/a").Result()
	require.ErrorIs(t, err, redis.Nil, "the index entry goes with the claim")

	// Released keys are free for anyone, with a new epoch.
	b, prev, err := r.Claim(ctx, "live/a", "B", "http://b", ReplaceNone)
	require.NoError(t, err)
	require.Nil(t, prev)
	require.Greater(t, b.Epoch, a.Epoch)
}

func TestLeaseExpiry(t *testing.T) {
	s := redistest.Start(t)
	short := newRegistry(t, s.URL, Config{Lease: 200 * time.Millisecond})
	r := newRegistry(t, s.URL, Config{})
	ctx := t.Context()

	a, _, err := short.Claim(ctx, "live/a", "A", "http://a", ReplaceNone)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := r.Lookup(ctx, "live/a")
		return errors.Is(err, ErrNotFound)
	}, 10*time.Second, 20*time.Millisecond)

	b, prev, err := r.Claim(ctx, "live/a", "B", "http://b", ReplaceNone)
	require.NoError(t, err)
	require.Nil(t, prev, "an expired claim is no previous owner")
	require.Greater(t, b.Epoch, a.Epoch)
	lost, err := short.Renew(ctx, "A", map[string]int64{"live/a": a.Epoch})
	require.NoError(t, err)
	require.Equal(t, []string{"live/a"}, lost)
}

func TestEpochsIncrease(t *testing.T) {
	s := redistest.Start(t)
	r := newRegistry(t, s.URL, Config{})
	ctx := t.Context()
	var last int64
	for i := range 30 {
		key := fmt.Sprintf("live/%d", i%7)
		node := []string{"A", "B", "C"}[i%3]
		o, _, err := r.Claim(ctx, key, node, "http://"+node, ReplaceAny)
		require.NoError(t, err)
		require.Greater(t, o.Epoch, last, "claim %d", i)
		last = o.Epoch
	}
}

// TestOddKeys sends keys full of characters that would break a script
// built by concatenation, or a naive key scheme, through the whole claim
// life cycle.
func TestOddKeys(t *testing.T) {
	s := redistest.Start(t)
	r := newRegistry(t, s.URL, Config{})
	ctx := t.Context()
	keys := []string{
		"with space", `quo"te`, "it's", "]]", "]==]", "--[[ comment", "line\nbreak", "cr\r\nlf",
		"tab\tx", "nul\x00byte", "\xff\xfe not utf-8", "ключ/поток", "%s%d%%", "*", "?", "[a-z]",
		"stream:nested", "../../etc", "{hash}tag", "\\", strings.Repeat("k", MaxKeyLen),
	}
	for i, key := range keys {
		t.Run(fmt.Sprintf("%d %.20q", i, key), func(t *testing.T) {
			// Node ids and urls are untrusted too (but must be UTF-8).
			node := "node " + strings.ToValidUTF8(key, "?")
			node = node[:min(MaxKeyLen, len(node))]
			url := "http://x/" + node[:min(100, len(node))]
			o, _, err := r.Claim(ctx, key, node, url, ReplaceNone)
			require.NoError(t, err)
			got, err := r.Lookup(ctx, key)
			require.NoError(t, err)
			require.Equal(t, o, got)
			require.Equal(t, node, got.Node)
			require.Equal(t, url, got.URL)
			owners, err := r.Owners(ctx)
			require.NoError(t, err)
			require.Equal(t, o, owners[key])
			lost, err := r.Renew(ctx, node, map[string]int64{key: o.Epoch})
			require.NoError(t, err)
			require.Empty(t, lost)
			require.NoError(t, r.SetIdle(ctx, key, node, o.Epoch, true))
			require.NoError(t, r.Release(ctx, key, node, o.Epoch))
			_, err = r.Lookup(ctx, key)
			require.ErrorIs(t, err, ErrNotFound)
		})
	}
	owners, err := r.Owners(ctx)
	require.NoError(t, err)
	require.Empty(t, owners)
}
