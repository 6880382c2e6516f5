package api

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestStreamsClientsSummary(t *testing.T) {
	// Only the sampler's first tick (before the stream exists) and ours:
	// the rate is then the average since the stream started, never 0.
	e := newEnv(t, Config{StatsInterval: time.Hour})
	events := e.watch(t)
	pub := e.publisher(t, "live", "cam")
	waitEvent(t, events, hub.EventPublish)
	player := e.player(t, "live", "cam")
	waitEvent(t, events, hub.EventReaderJoin)

	g := mediatest.New(mediatest.Config{FPS: 25, GOP: 25, Width: 640, Height: 360})
	feed(t, pub, player, g, 120) // > 2 GOPs
	e.api.Sampler().Tick()

	var list []Stream
	e.getJSON(t, "/api/v1/streams", &list)
	require.Len(t, list, 1)
	s := list[0]
	require.Equal(t, "live/cam", s.Key)
	require.Equal(t, "live", s.App)
	require.Equal(t, "cam", s.Name)
	require.True(t, s.Publishing)
	require.NotNil(t, s.Publisher)
	require.Equal(t, "rtmp", s.Publisher.Protocol)
	require.Contains(t, s.Publisher.RemoteAddr, "127.0.0.1:")
	require.NotNil(t, s.Video)
	require.Equal(t, "h264", s.Video.Codec)
	require.Equal(t, 640, s.Video.Width, "from the SPS")
	require.Equal(t, 360, s.Video.Height)
	require.Equal(t, 25.0, s.Video.FPS, "from onMetaData: the SPS has no timing info")
	require.Equal(t, "baseline", s.Video.Profile)
	require.Equal(t, "4.0", s.Video.Level)
	require.NotNil(t, s.Audio)
	require.Equal(t, "aac", s.Audio.Codec)
	require.Equal(t, mediatest.AACSampleRate, s.Audio.SampleRate)
	require.Equal(t, 2, s.Audio.Channels)
	require.Positive(t, s.IngestBitrate)
	require.Positive(t, s.BytesIn)
	require.Positive(t, s.BytesOut)
	require.Equal(t, 1, s.Players)
	require.Equal(t, map[string]int{"rtmp": 1}, s.PlayersByProtocol)
	require.NotNil(t, s.GOP)
	require.Equal(t, 25, s.GOP.Frames)
	require.Equal(t, 1.0, s.GOP.Seconds)

	var one Stream
	e.getJSON(t, "/api/v1/streams/live/cam", &one)
	require.Equal(t, "live/cam", one.Key)
	status, _, body := e.call(t, http.MethodGet, "/api/v1/streams/live/nope", nil)
	requireError(t, status, body, http.StatusNotFound, `stream "live/nope" not found`)

	var clients []Client
	e.getJSON(t, "/api/v1/clients", &clients)
	require.Len(t, clients, 1)
	c := clients[0]
	require.Equal(t, "rtmp", c.Protocol)
	require.Equal(t, "live/cam", c.Stream)
	require.Positive(t, c.Bytes)
	require.Contains(t, c.RemoteAddr, "127.0.0.1:")

	var sum Summary
	e.getJSON(t, "/api/v1/summary", &sum)
	require.Equal(t, 1, sum.Streams)
	require.Equal(t, 1, sum.Publishers)
	require.Equal(t, 1, sum.Players)
	require.Equal(t, s.BytesIn, sum.BytesIn)
	require.GreaterOrEqual(t, sum.BytesOut, c.Bytes)
	require.Positive(t, sum.Goroutines)
	require.NotEmpty(t, sum.Version)

	t.Run("kick client", func(t *testing.T) {
		status, _, body := e.call(t, http.MethodDelete, "/api/v1/clients/"+strconv.FormatUint(c.ID, 10), nil)
		require.Equal(t, http.StatusNoContent, status, string(body))
		left := waitEvent(t, events, hub.EventReaderLeave)
		require.Equal(t, c.ID, left.ReaderID)
		for { // the server closes the player's connection
			if _, err := player.ReadPacket(); err != nil {
				break
			}
		}
		status, _, body = e.call(t, http.MethodDelete, "/api/v1/clients/"+strconv.FormatUint(c.ID, 10), nil)
		requireError(t, status, body, http.StatusNotFound, "not found")
		status, _, body = e.call(t, http.MethodDelete, "/api/v1/clients/abc", nil)
		requireError(t, status, body, http.StatusNotFound, `client "abc" not found`)
	})

	t.Run("kick publisher", func(t *testing.T) {
		status, _, body := e.call(t, http.MethodDelete, "/api/v1/streams/live/cam", nil)
		require.Equal(t, http.StatusNoContent, status, string(body))
		waitEvent(t, events, hub.EventStreamEnd) // no reconnect grace in this hub
		var err error
		for err == nil { // the server closes the publisher's connection
			err = pub.WritePacket(g.Next())
		}
		status, _, body = e.call(t, http.MethodDelete, "/api/v1/streams/live/cam", nil)
		requireError(t, status, body, http.StatusNotFound, `stream "live/cam" has no publisher`)
		e.getJSON(t, "/api/v1/streams", &list)
		require.Empty(t, list)
	})
}

func TestNestedAppKey(t *testing.T) {
	e := newEnv(t, Config{})
	events := e.watch(t)
	e.publisher(t, "a/b", "c")
	waitEvent(t, events, hub.EventPublish)
	var s Stream
	e.getJSON(t, "/api/v1/streams/a/b/c", &s)
	require.Equal(t, "a/b/c", s.Key)
	require.Equal(t, "a/b", s.App)
	require.Equal(t, "c", s.Name)
	require.Nil(t, s.Video, "nothing published yet")
	require.Nil(t, s.GOP)
}

func TestRelays(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	relays := []Relay{
		{ID: 1, Kind: "forward", Stream: "live/cam", Target: "rtmp://a/live/cam", State: "live", Bytes: 10, Since: since, Started: since},
		{ID: 2, Kind: "forward", Stream: "live/cam", Target: "rtmp://b/live/cam", State: "backoff", LastError: "dial: refused",
			Reconnects: 3, Since: since, Started: since},
		{ID: 3, Kind: "pull", Stream: "live/other", Target: "rtmp://origin/live/other", State: "connecting", Since: since, Started: since},
	}
	e := newEnv(t, Config{Relays: func() []Relay { return relays }})
	events := e.watch(t)
	e.publisher(t, "live", "cam")
	waitEvent(t, events, hub.EventPublish)

	var all []Relay
	e.getJSON(t, "/api/v1/relays", &all)
	require.Equal(t, relays, all)
	var s Stream
	e.getJSON(t, "/api/v1/streams/live/cam", &s)
	require.Equal(t, relays[:2], s.Relays)
	var list []Stream
	e.getJSON(t, "/api/v1/streams", &list)
	require.Len(t, list, 1)
	require.Equal(t, relays[:2], list[0].Relays)

	none := newEnv(t, Config{})
	none.getJSON(t, "/api/v1/relays", &all)
	require.Empty(t, all)
	_, _, body := none.call(t, http.MethodGet, "/api/v1/relays", nil)
	require.Equal(t, "[]\n", string(body), "an empty list, not null")
}

func TestUnknownEndpoint(t *testing.T) {
	e := newEnv(t, Config{})
	status, _, body := e.call(t, http.MethodGet, "/api/v1/nope", nil)
	requireError(t, status, body, http.StatusNotFound, "no such endpoint: GET /api/v1/nope")
	status, hdr, body := e.call(t, http.MethodPost, "/api/v1/streams", nil)
	requireError(t, status, body, http.StatusMethodNotAllowed, "method POST not allowed")
	require.Contains(t, hdr.Get("Allow"), "GET")
}

func TestAuth(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		path   string
		header string // Authorization
		status int
		msg    string
	}{
		{name: "loopback without token", path: "/api/v1/summary", status: 200},
		{name: "public bind without token, local read", cfg: Config{RequireToken: true}, path: "/api/v1/summary",
			status: 200},
		{name: "public bind without token, local kick", cfg: Config{RequireToken: true}, path: "DELETE /api/v1/clients/1",
			status: 403, msg: "changes (kicks, recordings, restream targets) need a token; set api.token"},
		{name: "loopback bind without token, kick", path: "DELETE /api/v1/clients/1", status: 404, msg: "not found"},
		{name: "token missing", cfg: Config{Token: "s3cret"}, path: "/api/v1/summary", status: 401, msg: "missing bearer token"},
		{name: "token wrong", cfg: Config{Token: "s3cret"}, path: "/api/v1/summary", header: "Bearer nope", status: 401,
			msg: "invalid bearer token"},
		{name: "token right", cfg: Config{Token: "s3cret"}, path: "/api/v1/summary", header: "Bearer s3cret", status: 200},
		{name: "scheme case-insensitive", cfg: Config{Token: "s3cret", RequireToken: true}, path: "/api/v1/summary",
			header: "bearer s3cret", status: 200},
		{name: "basic is not bearer", cfg: Config{Token: "s3cret"}, path: "/api/v1/summary", header: "Basic s3cret",
			status: 401, msg: "missing bearer token"},
		{name: "query token only for events", cfg: Config{Token: "s3cret"}, path: "/api/v1/summary?token=s3cret",
			status: 401, msg: "missing bearer token"},
		{name: "query token wrong on events", cfg: Config{Token: "s3cret"}, path: "/api/v1/events?token=x",
			status: 401, msg: "invalid bearer token"},
		{name: "kick needs the token", cfg: Config{Token: "s3cret"}, path: "DELETE /api/v1/clients/1", status: 401,
			msg: "missing bearer token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			method, path := http.MethodGet, tc.path
			if m, p, ok := cutMethod(path); ok {
				method, path = m, p
			}
			hdr := map[string]string{}
			if tc.header != "" {
				hdr["Authorization"] = tc.header
			}
			status, h, body := e.call(t, method, path, hdr)
			if tc.status != 200 {
				requireError(t, status, body, tc.status, tc.msg)
				if tc.status == 401 {
					require.Contains(t, h.Get("WWW-Authenticate"), "Bearer")
				}
				return
			}
			require.Equal(t, 200, status, string(body))
		})
	}
}

func TestEventsQueryToken(t *testing.T) {
	e := newEnv(t, Config{Token: "s3cret"})
	c := e.events(t, "?token=s3cret", "")
	ev := c.next(t)
	require.Equal(t, EventStats, ev.name, "a new client gets the current stats first")
}

func TestTokenHandler(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	cases := []struct {
		token, header string
		status        int
	}{
		{"", "", http.StatusTeapot},
		{"m", "", http.StatusUnauthorized},
		{"m", "Bearer x", http.StatusUnauthorized},
		{"m", "Bearer m", http.StatusTeapot},
	}
	for _, tc := range cases {
		t.Run(tc.token+"/"+tc.header, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "/metrics", nil)
			require.NoError(t, err)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := newRecorder()
			TokenHandler(tc.token, ok).ServeHTTP(rec, req)
			require.Equal(t, tc.status, rec.Code)
		})
	}
}

func cutMethod(s string) (method, path string, ok bool) {
	for i := range len(s) {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return "", s, false
}

// Renditions are listed under their source and name it.
func TestStreamRenditions(t *testing.T) {
	e := newEnv(t, Config{})
	src, err := e.hub.Publish("live/cam", hub.PublisherInfo{Protocol: "rtmp"})
	require.NoError(t, err)
	defer src.Close()
	for _, name := range []string{"720p", "360p"} {
		p, err := e.hub.Publish("live/cam_"+name, hub.PublisherInfo{Protocol: "transcode", Source: "live/cam", Rendition: name})
		require.NoError(t, err)
		defer p.Close()
	}
	var list []Stream
	e.getJSON(t, "/api/v1/streams", &list)
	byKey := map[string]Stream{}
	for _, s := range list {
		byKey[s.Key] = s
	}
	require.Equal(t, []string{"live/cam_360p", "live/cam_720p"}, byKey["live/cam"].Renditions)
	require.Empty(t, byKey["live/cam"].Source)
	require.Equal(t, "live/cam", byKey["live/cam_720p"].Source)
	require.Equal(t, "720p", byKey["live/cam_720p"].Rendition)
	require.Empty(t, byKey["live/cam_720p"].Renditions)

	var one Stream
	e.getJSON(t, "/api/v1/streams/live/cam", &one)
	require.Equal(t, []string{"live/cam_360p", "live/cam_720p"}, one.Renditions)
}
