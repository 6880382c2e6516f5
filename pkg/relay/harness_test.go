package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/httpflv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitTimeout = 10 * time.Second

// testLogger logs to stderr with -v (RELAY_TEST_LOG=1), else discards.
func testLogger() *slog.Logger {
	if os.Getenv("RELAY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// node is one in-process server: a hub with an RTMP server and an HTTP-FLV
// handler on loopback.
type node struct {
	hub  *hub.Hub
	rtmp *rtmp.Server
	addr string // rtmp host:port
	http *httptest.Server
	flv  *httpflv.Handler
	once sync.Once
	done chan error
}

func newNode(t *testing.T, hc hub.Config) *node {
	t.Helper()
	return newNodeWith(t, hc, rtmp.ServerConfig{})
}

// newNodeWith is newNode with RTMP server settings (e.g. Authorize).
func newNodeWith(t *testing.T, hc hub.Config, sc rtmp.ServerConfig) *node {
	t.Helper()
	hc.Logger = testLogger()
	n := &node{hub: hub.New(hc), done: make(chan error, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	n.addr = ln.Addr().String()
	sc.Logger, sc.PlayWait = testLogger(), 300*time.Millisecond
	n.rtmp = rtmp.NewServer(sc, n.hub)
	go func() { n.done <- n.rtmp.Serve(ln) }()
	n.flv = httpflv.NewHandler(httpflv.Config{Logger: testLogger(), DemandWait: 3 * time.Second}, n.hub)
	n.http = httptest.NewServer(n.flv)
	t.Cleanup(n.close)
	return n
}

// close stops the node: its connections die like a killed process's.
func (n *node) close() {
	n.once.Do(func() {
		n.rtmp.Close()
		<-n.done //nolint:errcheck // waits for Serve to return; a killed node's error is expected
		n.hub.Close()
		n.flv.Close()
		n.http.CloseClientConnections()
		n.http.Close()
	})
}

func (n *node) rtmpURL(app string) string { return "rtmp://" + n.addr + "/" + app }

// newManager starts a relay manager on h, closed at the end of the test.
func newManager(t *testing.T, h *hub.Hub, cfg Config) *Manager {
	t.Helper()
	cfg.Logger = testLogger()
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin = 20 * time.Millisecond
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = 200 * time.Millisecond
	}
	m, err := New(cfg, h)
	require.NoError(t, err)
	m.Start()
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// feeder publishes synthetic A/V into a hub in (accelerated) real time until
// stopped: 1 ms of wall time per 10 ms of media, so tests see many GOPs fast.
type feeder struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func feed(t *testing.T, h *hub.Hub, key string) *feeder {
	t.Helper()
	return feedWith(t, h, key, mediatest.Config{FPS: 25, GOP: 25, KeySize: 400, FrameSz: 100, AudioSz: 50})
}

// feedWith is feed with another stream shape.
func feedWith(t *testing.T, h *hub.Hub, key string, cfg mediatest.Config) *feeder {
	t.Helper()
	pub, err := h.Publish(key, hub.PublisherInfo{Protocol: "test"})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	f := &feeder{cancel: cancel, done: make(chan error, 1)}
	go func() {
		defer pub.Close()
		g := mediatest.New(cfg)
		for _, p := range g.Headers() { // metadata and sequence headers
			if err := pub.WritePacket(p); err != nil {
				f.done <- err
				return
			}
		}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var media int64
		for {
			select {
			case <-ctx.Done():
				f.done <- nil
				return
			case <-tick.C:
			}
			media += 10
			for {
				p := g.Next()
				if err := pub.WritePacket(p); err != nil {
					f.done <- err
					return
				}
				if p.DTS >= media {
					break
				}
			}
		}
	}()
	t.Cleanup(func() { _ = f.stop() })
	return f
}

// stop ends the publish (no grace: the stream ends) and returns the
// feeder's error. Idempotent.
func (f *feeder) stop() error {
	f.once.Do(func() {
		f.cancel()
		f.err = <-f.done
	})
	return f.err
}

// subscribe waits for key to be live on h (via Demand, as players do) and
// subscribes.
func subscribe(t *testing.T, h *hub.Hub, key string, info hub.ReaderInfo) *hub.Reader {
	t.Helper()
	r, err := h.Subscribe(key, info)
	if errors.Is(err, hub.ErrStreamNotFound) {
		require.NoError(t, h.Demand(key, info), "%s: no pull started", key)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		require.NoError(t, h.WaitStream(ctx, key), "%s never went live", key)
		r, err = h.Subscribe(key, info)
	}
	require.NoError(t, err)
	t.Cleanup(r.Close)
	return r
}

// readN reads until n media packets arrived.
func readN(t *testing.T, r *hub.Reader, n int) []*av.Packet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var out []*av.Packet
	media := 0
	for media < n {
		pkts, err := r.Read(ctx, nil)
		require.NoError(t, err, "after %d media packets", media)
		for _, p := range pkts {
			out = append(out, p)
			if p.IsMedia() && !p.Header {
				media++
			}
		}
	}
	return out
}

// waitEvent returns a function that waits for the next hub event matching
// match (registered before the action that causes it).
func waitEvent(t *testing.T, h *hub.Hub, match func(hub.Event) bool) func(what string) hub.Event {
	ch := make(chan hub.Event, 64)
	cancel := h.Watch(func(e hub.Event) {
		if match(e) {
			select {
			case ch <- e:
			default:
			}
		}
	})
	t.Cleanup(cancel)
	return func(what string) hub.Event {
		t.Helper()
		select {
		case e := <-ch:
			return e
		case <-time.After(waitTimeout):
			t.Fatalf("no %s within %s", what, waitTimeout)
			return hub.Event{}
		}
	}
}

// relayOf returns the manager's relay of kind for key, if running.
func relayOf(m *Manager, kind Kind, key string) (Status, bool) {
	for _, s := range m.Relays() {
		if s.Kind == kind && s.Stream == key {
			return s, true
		}
	}
	return Status{}, false
}

// eventually polls cond (control-plane state that has no event of its own).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, waitTimeout, 5*time.Millisecond, what)
}

// drainEOF reads r until it ends and returns the error.
func drainEOF(r *hub.Reader) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for {
		if _, err := r.Read(ctx, nil); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read: %w", err)
		}
	}
}

// newGen returns 10 s of synthetic A/V (headers first) written as fast as
// possible.
func newGen() []*av.Packet {
	g := mediatest.New(mediatest.Config{FPS: 25, GOP: 25, KeySize: 400, FrameSz: 100, AudioSz: 50})
	return append(g.Headers(), g.Packets(700)...)
}
