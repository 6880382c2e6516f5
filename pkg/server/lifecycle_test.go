package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// TestDrainOrder runs SIGTERM's path on loopback with every kind of client:
// during shutdown_delay the server is not ready but still serves; then
// RTMP and HTTP-FLV players see a clean end of stream, the WebSocket player
// a 1001 close, the publisher's connection ends, Run returns nil well
// within shutdown_timeout, and the log lines come in drain order.
func TestDrainOrder(t *testing.T) {
	cfg := testConfig(t)
	// Long enough to observe the not-ready phase on a loaded machine; the
	// test does not wait for it to pass before checking, only after.
	cfg.ShutdownDelay = 2 * time.Second
	r := start(t, cfg)

	requireReadyz(t, r, http.StatusOK)

	pub, _, err := publish(t, r, "live", "cam")
	require.NoError(t, err)
	defer pub.Close()

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	rtmpPlayer := dialPlayer(ctx, t, r, "cam")

	resp, err := http.Get(r.url("/live/cam.flv"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	ws, _, err := websocket.Dial(ctx, "ws://"+r.HTTPAddr().String()+"/live/cam.flv", nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	ws.SetReadLimit(-1)

	// Every player reads on in the background, as a real one does.
	rtmpEnd := make(chan error, 1)
	go func() {
		for {
			if _, err := rtmpPlayer.ReadPacket(); err != nil {
				rtmpEnd <- err
				return
			}
		}
	}()
	flvEnd := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		flvEnd <- err
	}()
	wsEnd := make(chan websocket.StatusCode, 1)
	go func() {
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				wsEnd <- websocket.CloseStatus(err)
				return
			}
		}
	}()

	began := time.Now()
	r.cancel() // what SIGTERM does through cmd/ripple's NotifyContext
	waitLog(t, r, `msg="ripple draining"`)
	require.True(t, r.Draining())
	require.False(t, r.Ready())
	requireReadyz(t, r, http.StatusServiceUnavailable)
	// Still serving: a new RTMP connection is accepted during the delay.
	c, err := net.DialTimeout("tcp", r.RTMPAddr().String(), time.Second)
	require.NoError(t, err)
	c.Close()

	require.ErrorIs(t, <-rtmpEnd, io.EOF, "RTMP player: StreamEOF + UnpublishNotify, not a reset")
	require.NoError(t, <-flvEnd, "HTTP-FLV body: ends with the last chunk")
	require.Equal(t, websocket.StatusGoingAway, <-wsEnd)
	select {
	case err := <-r.done:
		r.done <- err
		require.NoError(t, err)
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return")
	}
	took := time.Since(began)
	require.GreaterOrEqual(t, took, cfg.ShutdownDelay)
	require.Less(t, took, cfg.ShutdownDelay+cfg.ShutdownTimeout)

	logs := r.logs.String()
	order := []string{`msg="readiness changed" draining=true`, `msg="ripple draining"`, `msg="ripple stopping"`, `msg="ripple stopped"`}
	last := -1
	for _, want := range order {
		i := strings.Index(logs, want)
		require.Greater(t, i, last, "%q out of order in:\n%s", want, logs)
		last = i
	}
}

// TestDrainNoDelay: with shutdown_delay 0 (the default) the listeners stop
// at once.
func TestDrainNoDelay(t *testing.T) {
	r := start(t, testConfig(t))
	took, err := r.stop(t)
	require.NoError(t, err)
	require.Less(t, took, testConfig(t).ShutdownTimeout)
	require.NotContains(t, r.logs.String(), `msg="ripple draining"`)
	_, err = net.DialTimeout("tcp", r.HTTPAddr().String(), time.Second)
	require.Error(t, err)
}

// probe is a part that stops with a function.
type probe func(ctx context.Context) error

func (p probe) Shutdown(ctx context.Context) error { return p(ctx) }
func (p probe) Close() error                       { return nil }

// TestShutdownSteps checks that registered parts stop in their stage: before
// the hub closes (a publisher is still live) and after (it is gone).
func TestShutdownSteps(t *testing.T) {
	cfg := testConfig(t)
	srv, err := New(cfg, nil)
	require.NoError(t, err)
	liveAt := map[stage]bool{}
	var order []string
	for _, st := range []stage{stageAfterHub, stageBeforeHub} {
		srv.add(part{name: "probe", stage: st, c: probe(func(context.Context) error {
			_, live := srv.hub.Stream("live/cam")
			liveAt[st] = live
			order = append(order, map[stage]string{stageBeforeHub: "before", stageAfterHub: "after"}[st])
			return nil
		})})
	}
	failing := errors.New("boom")
	srv.add(part{name: "failing", stage: stageAfterHub, c: probe(func(context.Context) error { return failing })})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	r := &running{Server: srv, logs: &syncBuffer{}, cancel: cancel, done: done}
	pub, _, err := publish(t, r, "live", "cam")
	require.NoError(t, err)
	defer pub.Close()

	cancel()
	select {
	case err = <-done:
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return")
	}
	require.ErrorIs(t, err, failing)
	require.ErrorContains(t, err, "failing: boom")
	require.Equal(t, []string{"before", "after"}, order)
	require.True(t, liveAt[stageBeforeHub], "before the hub closes the stream is live")
	require.False(t, liveAt[stageAfterHub], "after the hub closed no stream is left")
}

// recorder is a part that records its Start and Close calls.
type recorder struct {
	name  string
	calls *[]string
}

func (r recorder) Start()       { *r.calls = append(*r.calls, "start "+r.name) }
func (r recorder) Close() error { *r.calls = append(*r.calls, "close "+r.name); return nil }

// TestPartsOrder: parts start in registration order and closeAll closes
// them in reverse.
func TestPartsOrder(t *testing.T) {
	var calls []string
	s := &Server{}
	for _, name := range []string{"a", "b", "c"} {
		s.add(part{name: name, c: recorder{name: name, calls: &calls}})
	}
	s.start()
	s.closeAll()
	require.Equal(t, []string{"start a", "start b", "start c", "close c", "close b", "close a"}, calls)
}

// TestNewFailsClosed: when New fails after binding listeners (here the
// profiler's address is taken), everything it bound is released.
func TestNewFailsClosed(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		return ln.Addr().String()
	}
	cfg := testConfig(t)
	cfg.RTMP.Listen, cfg.HTTP.Listen = free(), free()
	cfg.Debug.PprofListen = busy.Addr().String()
	_, err = New(cfg, nil)
	require.ErrorContains(t, err, fmt.Sprintf("server: debug.pprof_listen %q: ", busy.Addr().String()))
	for _, addr := range []string{cfg.RTMP.Listen, cfg.HTTP.Listen} {
		again, err := net.Listen("tcp", addr)
		require.NoError(t, err, "New must close %s when it fails", addr)
		require.NoError(t, again.Close())
	}
}

// requireReadyz polls nothing: one GET, the status it must answer.
func requireReadyz(t *testing.T, r *running, code int) {
	t.Helper()
	resp, err := http.Get(r.url("/readyz"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, code, resp.StatusCode)
}

// waitLog waits for a log line containing want.
func waitLog(t *testing.T, r *running, want string) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(r.logs.String(), want) },
		waitTimeout, 5*time.Millisecond, "no %q in the log", want)
}

// dialPlayer plays live/name over RTMP with Ripple's own client.
func dialPlayer(ctx context.Context, t *testing.T, r *running, name string) *rtmp.ClientConn {
	t.Helper()
	c, err := rtmp.Dial(ctx, "rtmp://"+r.RTMPAddr().String()+"/live", rtmp.ClientConfig{Timeout: waitTimeout})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Play(ctx, name))
	return c
}
