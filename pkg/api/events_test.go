package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// sse is one parsed Server-Sent Event.
type sse struct {
	id, name, data string
}

// sseClient reads an event stream in a goroutine (which never calls
// require) and hands events to the test over a channel.
type sseClient struct {
	resp   *http.Response
	events chan sse
	err    chan error // the read loop's end (io.EOF when the server ended it)
	cancel context.CancelFunc
}

// events opens /api/v1/events with query and, if not empty, Last-Event-ID.
func (e *env) events(t *testing.T, query, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.http.URL+"/api/v1/events"+query, nil)
	require.NoError(t, err)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := e.http.Client().Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	c := &sseClient{resp: resp, events: make(chan sse, 1024), err: make(chan error, 1), cancel: cancel}
	go c.loop()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-c.err //nolint:errcheck // waits for the loop to end, whatever its error
	})
	return c
}

func (c *sseClient) loop() {
	sc := bufio.NewScanner(c.resp.Body)
	var ev sse
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.name != "" {
				c.events <- ev
			}
			ev = sse{}
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.name = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
	c.err <- sc.Err()
	close(c.events)
}

// next returns the next event.
func (c *sseClient) next(t *testing.T) sse {
	t.Helper()
	select {
	case ev, ok := <-c.events:
		require.True(t, ok, "event stream ended")
		return ev
	case <-time.After(waitTimeout):
		t.Fatal("no event")
	}
	return sse{}
}

// lifecycle returns the next n events that are not stats, within one
// waitTimeout overall (stats keep arriving: they must not extend it).
func (c *sseClient) lifecycle(t *testing.T, n int) []sse {
	t.Helper()
	deadline := time.After(waitTimeout)
	var out []sse
	for len(out) < n {
		select {
		case ev, ok := <-c.events:
			require.True(t, ok, "event stream ended after %d of %d events", len(out), n)
			if ev.name != EventStats {
				out = append(out, ev)
			}
		case <-deadline:
			t.Fatalf("got %d of %d lifecycle events: %v", len(out), n, names(out))
		}
	}
	return out
}

func names(evs []sse) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.name
	}
	return out
}

func TestEventsOrderAndResume(t *testing.T) {
	e := newEnv(t, Config{StatsInterval: 50 * time.Millisecond})
	c := e.events(t, "", "")
	require.Equal(t, "text/event-stream", c.resp.Header.Get("Content-Type"))
	require.Equal(t, "no-cache", c.resp.Header.Get("Cache-Control"))
	require.Equal(t, "no", c.resp.Header.Get("X-Accel-Buffering"))

	hubEvents := e.watch(t)
	pub := e.publisher(t, "live", "cam")
	player := e.player(t, "live", "cam")
	waitEvent(t, hubEvents, hub.EventReaderJoin)
	require.NoError(t, player.Close())
	waitEvent(t, hubEvents, hub.EventReaderLeave)
	require.NoError(t, pub.Close())
	waitEvent(t, hubEvents, hub.EventStreamEnd)

	got := c.lifecycle(t, 5)
	require.Equal(t, []string{EventStreamPublished, EventPlayerJoined, EventPlayerLeft,
		EventStreamUnpublished, EventStreamEnded}, names(got))
	var ids []uint64
	for _, ev := range got {
		id, err := strconv.ParseUint(ev.id, 10, 64)
		require.NoError(t, err, "lifecycle events carry an id")
		ids = append(ids, id)
	}
	for i := 1; i < len(ids); i++ {
		require.Equal(t, ids[i-1]+1, ids[i], "ids are consecutive")
	}
	var se StreamEvent
	require.NoError(t, json.Unmarshal([]byte(got[0].data), &se))
	require.Equal(t, "live/cam", se.Key)
	require.Equal(t, "rtmp", se.Publisher.Protocol)
	var pe PlayerEvent
	require.NoError(t, json.Unmarshal([]byte(got[1].data), &pe))
	require.Equal(t, 1, pe.Players)
	require.Equal(t, "rtmp", pe.Protocol)
	require.NotZero(t, pe.ClientID)

	// Stats keep coming, without ids.
	for {
		ev := c.next(t)
		if ev.name == EventStats {
			require.Empty(t, ev.id)
			var st StatsEvent
			require.NoError(t, json.Unmarshal([]byte(ev.data), &st))
			break
		}
	}

	t.Run("resume after the second event", func(t *testing.T) {
		r := e.events(t, "", got[1].id)
		again := r.lifecycle(t, 3)
		require.Equal(t, names(got[2:]), names(again))
		require.Equal(t, got[2].id, again[0].id)
	})
	t.Run("resume by query", func(t *testing.T) {
		r := e.events(t, "?last_event_id="+got[3].id, "")
		require.Equal(t, got[4].id, r.lifecycle(t, 1)[0].id)
	})
	t.Run("resume from an older process", func(t *testing.T) {
		r := e.events(t, "", "1")
		first := r.lifecycle(t, 1)[0]
		require.Equal(t, EventResync, first.name)
		require.Equal(t, names(got), names(r.lifecycle(t, 5)), "then the whole backlog")
	})
}

func TestEventsBacklogOverflow(t *testing.T) {
	e := newEnv(t, Config{EventsBacklog: 4})
	hubEvents := e.watch(t) // registered after the API's: it runs second
	// Three publish/unpublish/end rounds: 9 events, the ring keeps 4.
	for range 3 {
		pub := e.publisher(t, "live", "cam")
		waitEvent(t, hubEvents, hub.EventPublish)
		require.NoError(t, pub.Close())
		waitEvent(t, hubEvents, hub.EventStreamEnd)
	}
	first := e.api.broker.first // the id of the first event
	want := []string{EventStreamEnded, EventStreamPublished, EventStreamUnpublished, EventStreamEnded}

	// Resuming after the first event: events 2 to 5 are gone.
	r := e.events(t, "", strconv.FormatUint(first, 10))
	got := r.lifecycle(t, 5)
	require.Equal(t, EventResync, got[0].name)
	require.Empty(t, got[0].id, "resync is not resumable")
	require.Equal(t, want, names(got[1:]))
	for i, ev := range got[1:] {
		require.Equal(t, strconv.FormatUint(first+5+uint64(i), 10), ev.id)
	}

	// Resuming within the ring: no resync.
	r = e.events(t, "", strconv.FormatUint(first+6, 10))
	require.Equal(t, want[2:], names(r.lifecycle(t, 2)))
}

func TestEventsEndOnClose(t *testing.T) {
	e := newEnv(t, Config{KeepAlive: 20 * time.Millisecond})
	c := e.events(t, "", "")
	require.Equal(t, EventStats, c.next(t).name)
	e.api.Close()
	select {
	case _, ok := <-c.events:
		require.False(t, ok, "no event after close")
	case <-time.After(waitTimeout):
		t.Fatal("event stream not ended by Close")
	}
	require.NoError(t, <-c.err, "clean end of body")
	c.err <- nil // for the cleanup

	status, _, body := e.call(t, http.MethodGet, "/api/v1/events", nil)
	requireError(t, status, body, http.StatusServiceUnavailable, "server shutting down")
}

func TestEventsKeepAlive(t *testing.T) {
	e := newEnv(t, Config{KeepAlive: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.http.URL+"/api/v1/events", nil)
	require.NoError(t, err)
	resp, err := e.http.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if sc.Text() == ": keep-alive" {
			return
		}
	}
	t.Fatalf("no keep-alive comment: %v", sc.Err())
}

func TestSamplerRates(t *testing.T) {
	h := hub.New(hub.Config{})
	defer h.Close()
	p, err := h.Publish("live/a", hub.PublisherInfo{Protocol: "test"})
	require.NoError(t, err)
	var ticks []map[string]Rate
	s := NewSampler(h, time.Hour, func(_ []hub.StreamInfo, r map[string]Rate) { ticks = append(ticks, r) })
	s.Close() // drive it by hand from here on (the first tick ran in NewSampler)
	ticks = ticks[:0]
	now := time.Now()
	s.now = func() time.Time { return now }

	g := mediatest.New(mediatest.Config{NoAudio: true, FPS: 30, GOP: 30, KeySize: 1000, FrameSz: 1000})
	for _, pk := range append(g.Headers(), g.Packets(30)...) {
		require.NoError(t, p.WritePacket(pk))
	}
	s.Tick()
	before, _ := h.Stream("live/a")
	for _, pk := range g.Packets(60) {
		require.NoError(t, p.WritePacket(pk))
	}
	after, _ := h.Stream("live/a")
	now = now.Add(2 * time.Second)
	s.Tick()
	r, ok := s.Rate("live/a")
	require.True(t, ok)
	require.Equal(t, 30.0, r.FPS)
	require.Equal(t, float64(after.BytesIn-before.BytesIn)*8/2, r.Bitrate)
	require.Len(t, ticks, 2)
	require.Equal(t, r, ticks[1]["live/a"])

	p.Close()
	s.Tick()
	_, ok = s.Rate("live/a")
	require.False(t, ok, "ended streams are forgotten")
}

// TestEventsStalledClient checks the per-write deadline: a client that
// stops reading is dropped after WriteTimeout, not kept forever.
func TestEventsStalledClient(t *testing.T) {
	e := newEnv(t, Config{WriteTimeout: 200 * time.Millisecond})
	left := make(chan struct{}, 1)
	e.api.broker.mu.Lock()
	e.api.broker.left = left
	e.api.broker.mu.Unlock()
	conn, err := net.Dial("tcp", e.http.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)

	// Never read: publish until the socket buffers are full and a write
	// blocks past its deadline.
	big := strings.Repeat("x", 64<<10)
	deadline := time.After(waitTimeout)
	for {
		e.api.broker.publish("filler", map[string]string{"pad": big})
		select {
		case <-left:
			return
		case <-deadline:
			t.Fatal("stalled client still subscribed")
		default:
		}
	}
}
