package rtmp

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
)

const testTimeout = 5 * time.Second

// logSink is a slog.Handler that keeps every record as a text line and
// forwards "conn closed" lines to a channel, so tests can wait for a
// connection's one close line instead of sleeping.
type logSink struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	text   slog.Handler
	closed chan string
}

func newLogSink() *logSink {
	s := &logSink{closed: make(chan string, 64)}
	s.text = slog.NewTextHandler(&s.buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	return s
}

type sinkHandler struct {
	s     *logSink
	inner slog.Handler
}

func (h sinkHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h sinkHandler) Handle(ctx context.Context, r slog.Record) error {
	h.s.mu.Lock()
	start := h.s.buf.Len()
	err := h.inner.Handle(ctx, r)
	line := h.s.buf.String()[start:]
	h.s.mu.Unlock()
	if r.Message == "conn closed" {
		select {
		case h.s.closed <- line:
		default:
		}
	}
	return err
}

func (h sinkHandler) WithAttrs(a []slog.Attr) slog.Handler {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return sinkHandler{s: h.s, inner: h.inner.WithAttrs(a)}
}

func (h sinkHandler) WithGroup(n string) slog.Handler {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return sinkHandler{s: h.s, inner: h.inner.WithGroup(n)}
}

func (s *logSink) logger() *slog.Logger { return slog.New(sinkHandler{s: s, inner: s.text}) }

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitClosed returns the next "conn closed" line whose text contains every
// one of want; other close lines (e.g. of helper connections) are skipped.
func (s *logSink) waitClosed(t *testing.T, want ...string) string {
	t.Helper()
	timer := time.NewTimer(testTimeout)
	defer timer.Stop()
	for {
		select {
		case line := <-s.closed:
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(line, w)
			}
			if ok {
				return line
			}
		case <-timer.C:
			t.Fatalf("no close line containing %q; log:\n%s", want, s.String())
			return ""
		}
	}
}

// pollClosed returns a "conn closed" line containing want if one was
// logged, without blocking (lines not matching are dropped).
func (s *logSink) pollClosed(want string) (string, bool) {
	for {
		select {
		case line := <-s.closed:
			if strings.Contains(line, want) {
				return line, true
			}
		default:
			return "", false
		}
	}
}

// testEnv is a server on loopback with a real hub.
type testEnv struct {
	addr string
	url  string // rtmp://addr/live
	hub  *hub.Hub
	srv  *Server
	logs *logSink
}

// startServer starts a server on loopback; setup runs before it serves
// (test hooks such as the server's clock).
func startServer(t *testing.T, cfg ServerConfig, hcfg hub.Config, setup ...func(*Server)) *testEnv {
	t.Helper()
	logs := newLogSink()
	cfg.Logger = logs.logger()
	hcfg.Logger = cfg.Logger
	h := hub.New(hcfg)
	srv := NewServer(cfg, h)
	for _, f := range setup {
		f(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		h.Close()
		select {
		case err := <-served:
			require.ErrorIs(t, err, ErrServerClosed)
		case <-time.After(testTimeout):
			t.Error("Serve did not return after Close")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &testEnv{addr: ln.Addr().String(), url: "rtmp://" + ln.Addr().String() + "/live", hub: h, srv: srv, logs: logs}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func (e *testEnv) dial(t *testing.T) *ClientConn {
	t.Helper()
	c, err := Dial(testCtx(t), e.url, ClientConfig{Timeout: testTimeout})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func (e *testEnv) publisher(t *testing.T, name string) *ClientConn {
	t.Helper()
	c := e.dial(t)
	require.NoError(t, c.Publish(testCtx(t), name))
	return c
}

func (e *testEnv) player(t *testing.T, name string) *ClientConn {
	t.Helper()
	c := e.dial(t)
	require.NoError(t, c.Play(testCtx(t), name))
	return c
}

// waitReaders waits until the stream has n readers (Play.Start is sent
// right after Subscribe, so a started player is always counted; this is
// for asserting the server-side state).
func (e *testEnv) waitLive(t *testing.T, key string) {
	t.Helper()
	require.NoError(t, e.hub.WaitStream(testCtx(t), key))
}

// requireServes proves the server still works after a bad connection: a
// fresh stream is published and played back.
func (e *testEnv) requireServes(t *testing.T) {
	t.Helper()
	name := "alive" + strings.ReplaceAll(t.Name(), "/", "_")
	pub := e.publisher(t, name)
	play := e.player(t, name)
	gen := newGen()
	for _, p := range gen.Headers() {
		require.NoError(t, pub.WritePacket(p))
	}
	first, err := play.ReadPacket()
	require.NoError(t, err)
	require.True(t, first.Header || first.Kind.String() == "data")
	require.NoError(t, pub.Close())
	require.NoError(t, play.Close())
}
