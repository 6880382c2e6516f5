package relay

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/logtest"
)

// silentOrigin accepts TCP connections and never answers, so every pull
// attempt against it lasts the relay timeout.
func silentOrigin(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "rtmp://" + ln.Addr().String() + "/{app}"
}

// lockedBuffer collects output written from several goroutines.
type lockedBuffer = logtest.Buffer

// TestEdgePullLimits: at most MaxPulls pulls run at once (demand beyond is
// refused and logged once, not per request), and a key whose pull found
// nothing is refused without a new pull for NotFoundCache.
func TestEdgePullLimits(t *testing.T) {
	logs := &lockedBuffer{}
	cfg := Config{
		Logger:        slog.New(slog.NewTextHandler(logs, nil)),
		Timeout:       time.Second,
		BackoffMin:    20 * time.Millisecond,
		BackoffMax:    200 * time.Millisecond,
		MaxPulls:      2,
		NotFoundCache: time.Minute,
		Apps: map[string]AppConfig{"live": {Edge: &EdgeConfig{
			Origins:         []string{silentOrigin(t)},
			NotFoundTimeout: 100 * time.Millisecond,
		}}},
	}
	h := hub.New(hub.Config{})
	defer h.Close()
	m, err := New(cfg, h)
	require.NoError(t, err)
	m.Start()
	defer m.Close()

	info := hub.ReaderInfo{Protocol: "test"}
	require.NoError(t, h.Demand("live/a", info))
	require.NoError(t, h.Demand("live/b", info))
	require.NoError(t, h.Demand("live/a", info), "a running pull is shared, not counted again")
	for _, key := range []string{"live/c", "live/d", "live/c", "live/e"} {
		require.Error(t, h.Demand(key, info), key)
	}
	require.Len(t, m.Relays(), 2)
	require.Equal(t, 1, logs.Count("edge pulls at limit"), "one line per state change")

	// Both pulls give up after one silent attempt (Timeout > NotFoundTimeout).
	eventually(t, "pulls stopped", func() bool { return len(m.Relays()) == 0 })
	require.Equal(t, 1, logs.Count("edge pulls below limit again"))

	require.Error(t, h.Demand("live/a", info), "not-found key refused from the cache")
	require.Error(t, h.Demand("live/b", info), "not-found key refused from the cache")
	require.Empty(t, m.Relays(), "no pull started for a cached not-found key")
	require.NoError(t, h.Demand("live/c", info), "a free slot takes a new key")
	require.Len(t, m.Relays(), 1)
}

// TestEdgeNotFoundCacheExpires: after NotFoundCache the key may pull again.
func TestEdgeNotFoundCacheExpires(t *testing.T) {
	cfg := Config{
		Timeout:       200 * time.Millisecond,
		BackoffMin:    20 * time.Millisecond,
		BackoffMax:    200 * time.Millisecond,
		NotFoundCache: 50 * time.Millisecond,
		Apps: map[string]AppConfig{"live": {Edge: &EdgeConfig{
			Origins:         []string{silentOrigin(t)},
			NotFoundTimeout: 10 * time.Millisecond,
		}}},
	}
	h := hub.New(hub.Config{})
	defer h.Close()
	m, err := New(cfg, h)
	require.NoError(t, err)
	m.Start()
	defer m.Close()

	info := hub.ReaderInfo{Protocol: "test"}
	require.NoError(t, h.Demand("live/a", info))
	eventually(t, "pull stopped", func() bool { return len(m.Relays()) == 0 })
	eventually(t, "cache entry expired", func() bool { return h.Demand("live/a", info) == nil })
}
