package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/logtest"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

func TestMain(m *testing.M) {
	// go-redis redials a failed pool connection from a goroutine that
	// sleeps a second between attempts and ends on its own after the
	// client is closed (the cluster registry-down tests leave one).
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}

// waitTimeout bounds every wait in these tests; a hang fails, never blocks CI.
const waitTimeout = 10 * time.Second

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.Default()
	require.NoError(t, err)
	cfg.RTMP.Listen = "127.0.0.1:0"
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

// syncBuffer collects output written from several goroutines.
type syncBuffer = logtest.Buffer

// running is a Server whose Run goroutine the test controls.
type running struct {
	*Server
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg config.Config) *running {
	t.Helper()
	logs := &syncBuffer{}
	srv, err := New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Server: srv, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done: //nolint:errcheck // only waits for Run to end; tests that care check its error with stop
		case <-time.After(waitTimeout):
			t.Error("Run did not return after cancel")
		}
	})
	return r
}

// stop cancels Run and returns how long it took and its error.
func (r *running) stop(t *testing.T) (time.Duration, error) {
	t.Helper()
	began := time.Now()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for Cleanup
		return time.Since(began), err
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after cancel")
		return 0, nil
	}
}

func (r *running) url(path string) string { return "http://" + r.HTTPAddr().String() + path }

func TestNewConfigErrorNamesKey(t *testing.T) {
	cfg := testConfig(t)
	cfg.RTMP.ChunkSize = 100
	_, err := New(cfg, nil)
	require.EqualError(t, err, "config: rtmp.chunk_size: 100 out of range [128, 65536]")

	cfg = testConfig(t)
	cfg.Apps = map[string]config.App{"live": {PublishPolicy: config.PolicyTakeover + 1}}
	_, err = New(cfg, nil)
	require.EqualError(t, err, `config: apps.live.publish_policy: "PublishPolicy(3)" is not one of reject, takeover`)
}

func TestNewListenErrorNamesKeyAndAddress(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()

	// A free port for RTMP, to check New releases it when HTTP fails.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	rtmpAddr := probe.Addr().String()
	require.NoError(t, probe.Close())

	cfg := testConfig(t)
	cfg.RTMP.Listen = rtmpAddr
	cfg.HTTP.Listen = busy.Addr().String()
	_, err = New(cfg, nil)
	require.ErrorContains(t, err, fmt.Sprintf("server: http.listen %q: ", busy.Addr().String()))
	require.ErrorContains(t, err, "address already in use")

	again, err := net.Listen("tcp", rtmpAddr)
	require.NoError(t, err, "New must close the RTMP listener when HTTP fails")
	require.NoError(t, again.Close())

	cfg = testConfig(t)
	cfg.RTMP.Listen = busy.Addr().String()
	_, err = New(cfg, nil)
	require.ErrorContains(t, err, fmt.Sprintf("server: rtmp.listen %q: ", busy.Addr().String()))
}

func TestRunServesAndShutsDown(t *testing.T) {
	r := start(t, testConfig(t))
	rtmpPort := r.RTMPAddr().(*net.TCPAddr).Port
	require.NotZero(t, rtmpPort)

	cases := []struct {
		method, path string
		code         int
		ctype        string
		body         string
	}{
		{"GET", "/healthz", 200, "text/plain; charset=utf-8", "ok\n"},
		{"HEAD", "/healthz", 200, "text/plain; charset=utf-8", ""},
		{"GET", "/", 200, "text/html; charset=utf-8", fmt.Sprintf(`<meta name="ripple-rtmp-port" content="%d">`, rtmpPort)},
		{"GET", "/app.js", 200, "text/javascript; charset=utf-8", "mpegts"},
		{"GET", "/nothing", 404, "", ""},
		{"GET", "/live/absent.flv", 404, "", ""},
		{"OPTIONS", "/live/absent.flv", 204, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, r.url(tc.path), nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.code, resp.StatusCode, string(body))
			if tc.ctype != "" {
				require.Equal(t, tc.ctype, resp.Header.Get("Content-Type"))
			}
			require.Contains(t, string(body), tc.body)
		})
	}
	http.DefaultClient.CloseIdleConnections()

	took, err := r.stop(t)
	require.NoError(t, err)
	require.Less(t, took, testConfig(t).ShutdownTimeout)

	logs := r.logs.String()
	require.Contains(t, logs, fmt.Sprintf(`level=INFO msg="ripple started" rtmp=%s http=%s`+"\n", r.RTMPAddr(), r.HTTPAddr()))
	require.Contains(t, logs, `msg="ripple stopped"`)

	// The listeners are closed.
	_, err = net.DialTimeout("tcp", r.HTTPAddr().String(), time.Second)
	require.Error(t, err)
	_, err = net.DialTimeout("tcp", r.RTMPAddr().String(), time.Second)
	require.Error(t, err)
}

// TestShutdownTimeout: a request that does not finish keeps
// http.Server.Shutdown waiting; Run must still return after shutdown_timeout,
// naming the cause, and cut the connection.
func TestShutdownTimeout(t *testing.T) {
	cfg := testConfig(t)
	cfg.ShutdownTimeout = 200 * time.Millisecond
	logs := &syncBuffer{}
	srv, err := New(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	require.NoError(t, err)
	// White-box: a handler that holds its request until the conn is cut.
	entered := make(chan struct{})
	srv.http.Handler = http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	clientDone := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + srv.HTTPAddr().String() + "/hold")
		if err == nil {
			resp.Body.Close()
		}
		clientDone <- err
	}()
	select {
	case <-entered:
	case <-time.After(waitTimeout):
		t.Fatal("request never reached the handler")
	}

	began := time.Now()
	cancel()
	select {
	case err = <-done:
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after the shutdown timeout")
	}
	require.ErrorIs(t, err, ErrShutdownTimeout)
	require.EqualError(t, err, "server: shutdown timed out after 200ms")
	require.GreaterOrEqual(t, time.Since(began), cfg.ShutdownTimeout)
	require.Less(t, time.Since(began), cfg.ShutdownTimeout+2*time.Second)
	select {
	case err := <-clientDone:
		require.Error(t, err, "the held request must be cut")
	case <-time.After(waitTimeout):
		t.Fatal("held request still open")
	}
}

func TestRunTwice(t *testing.T) {
	r := start(t, testConfig(t))
	// An answered request proves the first Run is serving.
	resp, err := http.Get(r.url("/healthz"))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	http.DefaultClient.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.EqualError(t, r.Run(ctx), "server: Run called twice")
}

// publish connects an RTMP publisher for app/name and sends headers and a
// first GOP; the caller closes it.
func publish(t *testing.T, r *running, app, name string) (*rtmp.ClientConn, *mediatest.Generator, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := rtmp.Dial(ctx, "rtmp://"+r.RTMPAddr().String()+"/"+app, rtmp.ClientConfig{Timeout: waitTimeout})
	require.NoError(t, err)
	if err := c.Publish(ctx, name); err != nil {
		c.Close()
		return nil, nil, err
	}
	g := mediatest.New(mediatest.Config{})
	for _, p := range append(g.Headers(), g.Packets(40)...) {
		require.NoError(t, c.WritePacket(p))
	}
	return c, g, nil
}

// TestPublishThenPlayHTTPFLV runs the whole stack on loopback: an RTMP
// publisher, an HTTP-FLV player, then shutdown ends the player's stream.
func TestPublishThenPlayHTTPFLV(t *testing.T) {
	r := start(t, testConfig(t))
	pub, _, err := publish(t, r, "live", "cam1")
	require.NoError(t, err)
	defer pub.Close()

	resp, err := http.Get(r.url("/live/cam1.flv"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "video/x-flv", resp.Header.Get("Content-Type"))
	head := make([]byte, 13)
	_, err = io.ReadFull(resp.Body, head)
	require.NoError(t, err)
	require.Equal(t, "FLV", string(head[:3]), "FLV file header (FLV v10.1 §E.2)")

	// Shutdown ends the stream: the body reaches its end instead of hanging.
	bodyDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		bodyDone <- err
	}()
	_, err = r.stop(t)
	require.NoError(t, err)
	select {
	case <-bodyDone: //nolint:errcheck // EOF or a reset: either way the player was ended
	case <-time.After(waitTimeout):
		t.Fatal("HTTP-FLV body still open after shutdown")
	}
}

// TestPublishThenPlayWSFLV: the WebSocket upgrade goes through the suffix
// router, and shutdown ends the hijacked connection (which
// http.Server.Shutdown does not track).
func TestPublishThenPlayWSFLV(t *testing.T) {
	r := start(t, testConfig(t))
	pub, _, err := publish(t, r, "live", "ws")
	require.NoError(t, err)
	defer pub.Close()

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+r.HTTPAddr().String()+"/live/ws.flv", nil)
	require.NoError(t, err)
	defer c.CloseNow()
	typ, msg, err := c.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, websocket.MessageBinary, typ)
	require.Equal(t, "FLV", string(msg[:3]))

	readDone := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.Read(ctx); err != nil {
				readDone <- err
				return
			}
		}
	}()
	took, err := r.stop(t)
	require.NoError(t, err)
	require.Less(t, took, testConfig(t).ShutdownTimeout)
	select {
	case err := <-readDone:
		require.Error(t, err)
	case <-time.After(waitTimeout):
		t.Fatal("WS-FLV player still open after shutdown")
	}
}

// TestPublishPolicyPerApp checks the translation of hub.publish_policy and
// apps.*.publish_policy into the hub's Policy func.
func TestPublishPolicyPerApp(t *testing.T) {
	cfg := testConfig(t)
	cfg.Apps = map[string]config.App{"studio": {PublishPolicy: config.PolicyTakeover}}
	r := start(t, cfg)

	first, _, err := publish(t, r, "live", "a")
	require.NoError(t, err)
	defer first.Close()
	_, _, err = publish(t, r, "live", "a")
	var se *rtmp.StatusError
	require.True(t, errors.As(err, &se), "second publisher on a reject app must be refused, got %v", err)
	require.True(t, strings.HasPrefix(se.Code, "NetStream.Publish."), se.Code)

	old, _, err := publish(t, r, "studio", "b")
	require.NoError(t, err)
	defer old.Close()
	newer, _, err := publish(t, r, "studio", "b")
	require.NoError(t, err, "takeover app must accept the second publisher")
	defer newer.Close()
}

func TestPolicyFunc(t *testing.T) {
	cfg := testConfig(t)
	cfg.Hub.PublishPolicy = config.PolicyTakeover
	cfg.Apps = map[string]config.App{"strict": {PublishPolicy: config.PolicyReject}, "inherit": {}}
	p := policyFunc(cfg)
	require.Equal(t, hub.PolicyReject, p("strict"))
	require.Equal(t, hub.PolicyReject, p("strict/x"), "a nested key is under its app")
	require.Equal(t, hub.PolicyTakeover, p("strictly"), "a longer app name is not under it")
	require.Equal(t, hub.PolicyTakeover, p("inherit"))
	require.Equal(t, hub.PolicyTakeover, p("other"))
	require.Equal(t, hub.PolicyReject, policyFunc(testConfig(t))("live"), "default")

	// The running server's reloadable table answers the same way.
	r := start(t, cfg)
	require.Equal(t, hub.PolicyReject, r.reload.publishPolicy("strict/x"))
	require.Equal(t, hub.PolicyTakeover, r.reload.publishPolicy("other/x"))
}

// hub.merge_window reaches the hub (its behaviour: hub's TestFlushMergeWindow).
func TestHubConfigMergeWindow(t *testing.T) {
	cfg := testConfig(t)
	require.Zero(t, hubConfig(cfg, nil).MergeWindow, "low latency by default")
	cfg.Hub.MergeWindow = 200 * time.Millisecond
	require.Equal(t, 200*time.Millisecond, hubConfig(cfg, nil).MergeWindow)
}
