package hls

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitFor = 10 * time.Second

const testKey = "live/cam"

// env is a hub, a Manager and a loopback HTTP server in front of it.
type env struct {
	hub    *hub.Hub
	m      *Manager
	srv    *httptest.Server
	events chan hub.Event
	gen    *mediatest.Generator
	pub    *hub.Publisher
	sent   int64 // DTS (ms) of the last packet published

	updates chan int64 // highest DTS listed after each playlist update
}

// settle waits until the muxer has listed media up to within lag ms of
// what was sent.
func (e *env) settle(t *testing.T, lag int64) {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case dts := <-e.updates:
			if dts >= e.sent-lag {
				return
			}
		case <-timeout:
			t.Fatalf("muxer did not reach DTS %d", e.sent-lag)
		}
	}
}

func newEnv(t *testing.T, cfg Config, hc hub.Config) *env {
	t.Helper()
	e := &env{hub: hub.New(hc), events: make(chan hub.Event, 1024), updates: make(chan int64, 4096)}
	cfg.onUpdate = func(_ string, dts int64) {
		select {
		case e.updates <- dts:
		default:
		}
	}
	cancel := e.hub.Watch(func(ev hub.Event) {
		select {
		case e.events <- ev:
		default:
		}
	})
	e.m = New(cfg, e.hub)
	e.m.Start()
	e.srv = httptest.NewServer(e.m)
	t.Cleanup(func() {
		e.srv.Close()
		e.m.Close()
		cancel()
		e.hub.Close()
	})
	return e
}

// waitEvent waits for an event of type typ for key from a reader or
// publisher of protocol proto ("" = any).
func (e *env) waitEvent(t *testing.T, typ hub.EventType, proto string) hub.Event {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case ev := <-e.events:
			if ev.Type == typ && (proto == "" || ev.Reader.Protocol == proto) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", typ)
		}
	}
}

// publish starts a publisher for testKey sending the generator's headers;
// with muxer set it waits for the HLS muxer to subscribe.
func (e *env) publish(t *testing.T, mc mediatest.Config, muxer bool) {
	t.Helper()
	pub, err := e.hub.Publish(testKey, hub.PublisherInfo{Protocol: "test"})
	require.NoError(t, err)
	e.pub = pub
	if e.gen == nil {
		e.gen = mediatest.New(mc)
	}
	for _, p := range e.gen.Headers() {
		require.NoError(t, pub.WritePacket(p))
	}
	if muxer {
		e.waitEvent(t, hub.EventReaderJoin, "hls")
	}
}

// send publishes media until the generator reaches wire DTS until.
func (e *env) send(t *testing.T, until time.Duration) {
	t.Helper()
	for {
		p := e.gen.Next()
		wire := p.DTS
		require.NoError(t, e.pub.WritePacket(p))
		e.sent = p.DTS // rewritten by the hub onto the stream timeline
		if wire >= until.Milliseconds() {
			return
		}
	}
}

// waitSegments waits until the stream's muxer has published n segments
// (some may have been evicted since).
func (e *env) waitSegments(t *testing.T, n int) *media {
	t.Helper()
	mx := e.m.get(testKey)
	require.NotNil(t, mx)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	md := mx.media()
	ok := md.wait(ctx, nil, func() bool { return md.nextMSN >= uint64(n) })
	require.True(t, ok, "%d segments", n)
	return md
}

func (e *env) do(t *testing.T, method, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Empty(t, resp.Header.Values("Set-Cookie"), "no cookies, ever")
	return resp, string(b)
}

func (e *env) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	return e.do(t, http.MethodGet, path, nil)
}

// async runs a GET in a goroutine; the result arrives on the channel.
type result struct {
	resp *http.Response
	body string
	err  error
}

func (e *env) async(path string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		resp, err := e.srv.Client().Get(e.srv.URL + path)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ch <- result{resp: resp, body: string(b), err: err}
	}()
	return ch
}

func wait(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		require.NoError(t, r.err)
		return r
	case <-time.After(waitFor):
		t.Fatal("request did not finish")
		return result{}
	}
}

// pending reports whether ch has not delivered yet.
func pending(ch <-chan result) bool {
	select {
	case r := <-ch:
		_ = r
		return false
	default:
		return true
	}
}

// watchWaits returns a channel that receives a value each time a request
// blocks on md.
func (e *env) watchWaits(md *media) <-chan struct{} {
	ch := make(chan struct{}, 64)
	md.mu.Lock()
	md.onWait = func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	md.mu.Unlock()
	return ch
}

func waitN(t *testing.T, ch <-chan struct{}, n int) {
	t.Helper()
	timeout := time.After(waitFor)
	for range n {
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("fewer than %d requests blocked", n)
		}
	}
}
