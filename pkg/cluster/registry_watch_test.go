package cluster

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/internal/redistest"
)

// watcher runs Watch on its own goroutine and hands what it reports to
// channels; the test's end stops it and waits.
type watcher struct {
	keys chan string
	subs chan struct{}
}

func startWatch(t *testing.T, r *Registry) *watcher {
	t.Helper()
	w := &watcher{keys: make(chan string, 100), subs: make(chan struct{}, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Watch(ctx,
			func(key string) {
				select {
				case w.keys <- key:
				case <-ctx.Done():
				}
			},
			func() {
				select {
				case w.subs <- struct{}{}:
				case <-ctx.Done():
				}
			})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return w
}

func (w *watcher) subscribed(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-w.subs:
	case <-time.After(within):
		t.Fatalf("not subscribed within %s", within)
	}
}

func (w *watcher) key(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-w.keys:
		require.Equal(t, want, got)
	case <-time.After(5 * time.Second):
		t.Fatalf("no announcement of %q", want)
	}
}

func TestWatch(t *testing.T) {
	s := redistest.Start(t)
	r := newRegistry(t, s.URL, Config{Timeout: 500 * time.Millisecond})
	other := newRegistry(t, s.URL, Config{})
	w := startWatch(t, r)
	w.subscribed(t, 5*time.Second)
	ctx := t.Context()

	a, _, err := other.Claim(ctx, "live/a", "A", "http://a", ReplaceNone)
	require.NoError(t, err)
	w.key(t, "live/a")
	_, _, err = other.Claim(ctx, "live/a", "A", "http://a", ReplaceNone) // a plain renewal
	require.NoError(t, err)
	require.NoError(t, other.SetIdle(ctx, "live/a", "A", a.Epoch, true))
	w.key(t, "live/a") // the idle change, not the renewal
	b, _, err := other.Claim(ctx, "live/a", "B", "http://b", ReplaceAny)
	require.NoError(t, err)
	w.key(t, "live/a")
	_, _, err = other.Claim(ctx, "live/odd key]]", "B", "http://b", ReplaceNone)
	require.NoError(t, err)
	w.key(t, "live/odd key]]")
	require.NoError(t, other.Release(ctx, "live/a", "B", b.Epoch))
	w.key(t, "live/a")

	// Redis dies and comes back empty: the watcher resubscribes on its own
	// and says so, and announcements flow again.
	s.Kill()
	s.Restart(t)
	w.subscribed(t, 20*time.Second)
	_, _, err = other.Claim(ctx, "live/after", "A", "http://a", ReplaceNone)
	require.NoError(t, err)
	w.key(t, "live/after")
	select {
	case k := <-w.keys:
		t.Fatalf("unexpected announcement %q", k)
	default:
	}
}

func TestWatchStartedWhileRedisIsDown(t *testing.T) {
	s := redistest.Start(t)
	s.Kill()
	r := newRegistry(t, s.URL, Config{Timeout: 300 * time.Millisecond})
	// Watch's first attempts most likely fail (nothing tells the test when
	// they happen); either way it must end up subscribed.
	w := startWatch(t, r)
	s.Restart(t)
	w.subscribed(t, 20*time.Second)
	_, _, err := r.Claim(t.Context(), "live/a", "A", "http://a", ReplaceNone)
	require.NoError(t, err)
	w.key(t, "live/a")
}

func TestWatchEndsWithRegistryClose(t *testing.T) {
	s := redistest.Start(t)
	r, err := NewRegistry(Config{URL: s.URL})
	require.NoError(t, err)
	subs := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Watch(context.Background(), func(string) {}, func() { subs <- struct{}{} })
	}()
	<-subs
	require.NoError(t, r.Close())
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after Close")
	}
}

// registryCalls calls every method once and returns their errors by name.
func registryCalls(ctx context.Context, r *Registry) map[string]error {
	errs := map[string]error{}
	errs["ping"] = r.Ping(ctx)
	_, _, errs["claim"] = r.Claim(ctx, "live/a", "A", "http://a", ReplaceNone)
	_, errs["renew"] = r.Renew(ctx, "A", map[string]int64{"live/a": 1})
	errs["idle"] = r.SetIdle(ctx, "live/a", "A", 1, true)
	errs["release"] = r.Release(ctx, "live/a", "A", 1)
	_, errs["lookup"] = r.Lookup(ctx, "live/a")
	_, errs["owners"] = r.Owners(ctx)
	errs["heartbeat"] = r.Heartbeat(ctx, NodeInfo{ID: "A"})
	errs["leave"] = r.Leave(ctx, "A")
	_, errs["nodes"] = r.Nodes(ctx)
	return errs
}

// requireUnavailable checks that every method fails with ErrUnavailable
// within a few Timeouts (a generous bound: the point is that no call hangs
// on a dead or silent Redis).
func requireUnavailable(t *testing.T, r *Registry) {
	t.Helper()
	var mu sync.Mutex
	took := map[string]time.Duration{}
	r.observe = func(op string, d time.Duration, _ error) {
		mu.Lock()
		took[op] = d
		mu.Unlock()
	}
	for op, err := range registryCalls(t.Context(), r) {
		require.ErrorIs(t, err, ErrUnavailable, op)
		mu.Lock()
		require.Less(t, took[op], 5*r.timeout, op)
		mu.Unlock()
	}
}

func TestUnavailableWhenRedisDies(t *testing.T) {
	s := redistest.Start(t)
	r := newRegistry(t, s.URL, Config{Timeout: 300 * time.Millisecond})
	for op, err := range registryCalls(t.Context(), r) {
		require.NotErrorIs(t, err, ErrUnavailable, op)
	}
	before, err := r.Lookup(t.Context(), "live/a")
	require.NoError(t, err)
	s.Kill()
	requireUnavailable(t, r)

	// Back with no data: the same Registry works again, and the new epoch
	// counter starts above the lost one.
	s.Restart(t)
	require.NoError(t, r.Ping(t.Context()))
	_, err = r.Lookup(t.Context(), "live/a")
	require.ErrorIs(t, err, ErrNotFound)
	o, _, err := r.Claim(t.Context(), "live/a", "A", "http://a", ReplaceNone)
	require.NoError(t, err)
	require.Greater(t, o.Epoch, before.Epoch)
}

// TestUnavailableWhenRedisIsSilent points the registry at a listener that
// accepts and never answers: only the Timeout ends each call.
func TestUnavailableWhenRedisIsSilent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns []net.Conn
	var mu sync.Mutex
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-accepted
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})

	r := newRegistry(t, "redis://"+ln.Addr().String()+"/0", Config{Timeout: 200 * time.Millisecond})
	requireUnavailable(t, r)

	// A caller's shorter deadline wins, and its cause is kept.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err = r.Ping(ctx)
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// Watch on a silent Redis still returns when its context ends.
	wctx, wcancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer wcancel()
	r.Watch(wctx, func(string) { t.Error("no message expected") }, func() { t.Error("no subscription expected") })
}
