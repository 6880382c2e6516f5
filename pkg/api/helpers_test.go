package api

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitTimeout = 10 * time.Second

// env is a hub with an RTMP server on loopback and the API over
// httptest, torn down at cleanup.
type env struct {
	hub  *hub.Hub
	api  *API
	http *httptest.Server
	rtmp string // rtmp://127.0.0.1:port
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	h := hub.New(hub.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	rs := rtmp.NewServer(rtmp.ServerConfig{}, h)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = rs.Serve(ln) // returns ErrServerClosed after Close
	}()
	a := New(cfg, h)
	a.Start()
	srv := httptest.NewServer(a)
	t.Cleanup(func() {
		a.Close() // ends SSE streams, so srv.Close does not wait for them
		srv.Close()
		require.NoError(t, rs.Close())
		<-served
		h.Close()
	})
	return &env{hub: h, api: a, http: srv, rtmp: "rtmp://" + ln.Addr().String()}
}

// watch returns a channel of hub events (buffered; the test drains it).
func (e *env) watch(t *testing.T) <-chan hub.Event {
	ch := make(chan hub.Event, 256)
	cancel := e.hub.Watch(func(ev hub.Event) {
		select {
		case ch <- ev:
		default: // the test reads far fewer; never block the hub
		}
	})
	t.Cleanup(cancel)
	return ch
}

// waitEvent waits for an event of type typ on ch.
func waitEvent(t *testing.T, ch <-chan hub.Event, typ hub.EventType) hub.Event {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case ev := <-ch:
			if ev.Type == typ {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", typ)
		}
	}
}

// publisher publishes app/name with our RTMP client.
func (e *env) publisher(t *testing.T, app, name string) *rtmp.ClientConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := rtmp.Dial(ctx, e.rtmp+"/"+app, rtmp.ClientConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Publish(ctx, name))
	return c
}

// player plays app/name with our RTMP client.
func (e *env) player(t *testing.T, app, name string) *rtmp.ClientConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := rtmp.Dial(ctx, e.rtmp+"/"+app, rtmp.ClientConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Play(ctx, name))
	return c
}

func writeAll(t *testing.T, c *rtmp.ClientConn, pkts []*av.Packet) {
	t.Helper()
	for _, p := range pkts {
		require.NoError(t, c.WritePacket(p))
	}
}

// readUntil reads packets from a player until one satisfies ok.
func readUntil(t *testing.T, c *rtmp.ClientConn, ok func(*av.Packet) bool) {
	t.Helper()
	for {
		p, err := c.ReadPacket()
		require.NoError(t, err)
		if ok(p) {
			return
		}
	}
}

// feed publishes headers and n media packets of g, and reads them back at
// player so they have gone through the hub; then it publishes and reads
// one more video frame, so the player's writer reported the bytes of the
// first batch (it calls AddBytes after each write, before the next).
func feed(t *testing.T, pub, player *rtmp.ClientConn, g *mediatest.Generator, n int) {
	t.Helper()
	pkts := append(g.Headers(), g.Packets(n)...)
	writeAll(t, pub, pkts)
	last := pkts[len(pkts)-1]
	readUntil(t, player, func(p *av.Packet) bool { return p.Kind == last.Kind && !p.Header && p.DTS >= last.DTS })
	v := g.NextVideo()
	dts := v.DTS
	writeAll(t, pub, []*av.Packet{v})
	readUntil(t, player, func(p *av.Packet) bool { return p.Kind == av.KindVideo && p.DTS >= dts })
}

// call does an HTTP request and returns status, headers and body.
func (e *env) call(t *testing.T, method, path string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.http.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

// getJSON GETs path, requires 200 and decodes into v.
func (e *env) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	status, hdr, body := e.call(t, http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Equal(t, "application/json", hdr.Get("Content-Type"))
	require.NoError(t, json.Unmarshal(body, v), string(body))
}

// requireError checks a JSON error response.
func requireError(t *testing.T, status int, body []byte, wantStatus int, wantMsg string) {
	t.Helper()
	require.Equal(t, wantStatus, status, string(body))
	var e Error
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	require.True(t, strings.Contains(e.Error, wantMsg), "error %q does not contain %q", e.Error, wantMsg)
}
