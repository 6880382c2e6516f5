package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/internal/logtest"
)

// fakeForwarder stands in for pkg/relay (tested on its own and adapted in
// pkg/server): this tests the API's mapping of it. It redacts like the
// relay does, everything after the last "/".
type fakeForwarder struct {
	mu      sync.Mutex
	live    map[string]bool
	targets map[string][]Relay
	raw     map[uint64]string // id → URL as added, to check what reached it
	nextID  uint64
	max     int
	failAdd error // returned by Add when set
}

func newFakeForwarder(live ...string) *fakeForwarder {
	f := &fakeForwarder{live: map[string]bool{}, targets: map[string][]Relay{}, raw: map[uint64]string{}, max: 2}
	for _, k := range live {
		f.live[k] = true
	}
	return f
}

func fakeRedact(url string) string {
	i := strings.LastIndexByte(url, '/')
	if i < 0 {
		return "****"
	}
	return url[:i+1] + "****"
}

func (f *fakeForwarder) List(key string) ([]Relay, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live[key] {
		return nil, ErrNotLive
	}
	return append([]Relay(nil), f.targets[key]...), nil
}

func (f *fakeForwarder) Add(key, url string) (Relay, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case !f.live[key]:
		return Relay{}, ErrNotLive
	case f.failAdd != nil:
		return Relay{}, f.failAdd
	case !strings.HasPrefix(url, "rtmp://") && !strings.HasPrefix(url, "rtmps://"):
		// Like url.Error, the relay's text may quote the URL.
		return Relay{}, fmt.Errorf("%w: %q: scheme must be rtmp or rtmps", ErrInvalidTarget, url)
	case len(f.targets[key]) >= f.max:
		return Relay{}, fmt.Errorf("%w: %d per stream", ErrTooManyTargets, f.max)
	}
	f.nextID++
	r := Relay{ID: f.nextID, Kind: "forward", Stream: key, Target: fakeRedact(url), State: "connecting", Source: "api"}
	f.targets[key] = append(f.targets[key], r)
	f.raw[r.ID] = url
	return r, nil
}

func (f *fakeForwarder) Remove(key string, id uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live[key] {
		return ErrNotLive
	}
	for i, r := range f.targets[key] {
		if r.ID == id {
			f.targets[key] = append(f.targets[key][:i], f.targets[key][i+1:]...)
			return nil
		}
	}
	return ErrNoTarget
}

// send does a request with a body and returns status and body.
func (e *env) send(t *testing.T, method, path, body string, hdr map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.http.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// lockedBuffer collects output written from several goroutines.
type lockedBuffer = logtest.Buffer

func TestForwards(t *testing.T) {
	const key1 = "rtmp://a.rtmp.youtube.com/live2/SECRET1"
	const key2 = "rtmps://live-api-s.facebook.com:443/rtmp/SECRET2"
	fw := newFakeForwarder("live/cam", "a/b/cam")
	var logs lockedBuffer
	e := newEnv(t, Config{Forwarder: fw, Redact: fakeRedact, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	const base = "/api/v1/streams/live/cam/forwards"

	var list []Relay
	e.getJSON(t, base, &list)
	require.Empty(t, list)
	require.NotNil(t, list, "an empty array, not null")

	status, body := e.send(t, "POST", base, `{"url": "`+key1+`"}`, nil)
	require.Equal(t, http.StatusCreated, status, string(body))
	var added Relay
	require.NoError(t, json.Unmarshal(body, &added))
	require.Equal(t, Relay{ID: 1, Kind: "forward", Stream: "live/cam", Target: "rtmp://a.rtmp.youtube.com/live2/****",
		State: "connecting", Source: "api"}, added)
	require.Equal(t, key1, fw.raw[1], "the URL reaches the forwarder as sent")

	status, body = e.send(t, "POST", base, `{"url": "`+key2+`", "note": "ignored"}`, nil)
	require.Equal(t, http.StatusCreated, status, string(body))
	e.getJSON(t, base, &list)
	require.Len(t, list, 2)
	require.Equal(t, []uint64{1, 2}, []uint64{list[0].ID, list[1].ID})

	status, body = e.send(t, "POST", base, `{"url": "rtmp://h/app/SECRET3"}`, nil)
	requireError(t, status, body, http.StatusConflict, "too many restream targets: 2 per stream")

	// Nested apps and the stream "forwards" of app "live".
	status, body = e.send(t, "POST", "/api/v1/streams/a/b/cam/forwards", `{"url": "rtmp://h/app/SECRET4"}`, nil)
	require.Equal(t, http.StatusCreated, status, string(body))
	status, _, body = e.call(t, "GET", "/api/v1/streams/live/forwards", nil)
	requireError(t, status, body, http.StatusNotFound, `stream "live/forwards" not found`)
	status, body = e.send(t, "POST", "/api/v1/streams/live/forwards", `{"url": "rtmp://h/a/b"}`, nil)
	requireError(t, status, body, http.StatusMethodNotAllowed, "method POST not allowed")

	status, body = e.send(t, "POST", "/api/v1/streams/live/gone/forwards", `{"url": "rtmp://h/app/SECRET5"}`, nil)
	requireError(t, status, body, http.StatusNotFound, `stream "live/gone" is not live`)
	status, _, body = e.call(t, "GET", "/api/v1/streams/live/gone/forwards", nil)
	requireError(t, status, body, http.StatusNotFound, `stream "live/gone" is not live`)

	for _, tc := range []struct{ name, body, msg string }{
		{"not_json", `rtmp://h/a/SECRET6`, `body must be a JSON object {"url": "rtmp://..."}`},
		{"no_url", `{"target": "rtmp://h/a/SECRET6"}`, `body must be a JSON object`},
		{"url_not_string", `{"url": 7}`, `body must be a JSON object`},
		{"bad_scheme", `{"url": "http://h/a/SECRET6"}`, `invalid restream target: "http://h/a/****": scheme must be rtmp or rtmps`},
		{"bad_scheme_quoted", `{"url": "http://h/a\"/SECRET6"}`, `/****": scheme must be rtmp or rtmps`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.send(t, "POST", base, tc.body, nil)
			requireError(t, status, body, http.StatusBadRequest, tc.msg)
			require.NotContains(t, string(body), "SECRET6", "the submitted URL is never echoed")
		})
	}
	status, body = e.send(t, "POST", base, `{"url": "rtmp://h/a/`+strings.Repeat("k", maxForwardBody)+`"}`, nil)
	requireError(t, status, body, http.StatusRequestEntityTooLarge, "body over 8192 bytes")

	// A Forwarder failure of another kind is a 500, still redacted.
	fw.failAdd = errors.New(`relay: dial "rtmp://h/a/SECRET7": boom`)
	status, body = e.send(t, "POST", base, `{"url": "rtmp://h/a/SECRET7"}`, nil)
	requireError(t, status, body, http.StatusInternalServerError, `relay: dial "rtmp://h/a/****": boom`)
	fw.failAdd = nil

	status, _, body = e.call(t, "DELETE", base+"/1", nil)
	require.Equal(t, http.StatusNoContent, status, string(body))
	status, _, body = e.call(t, "DELETE", base+"/1", nil)
	requireError(t, status, body, http.StatusNotFound, `stream "live/cam" has no such restream target`)
	status, _, body = e.call(t, "DELETE", "/api/v1/streams/live/gone/forwards/1", nil)
	requireError(t, status, body, http.StatusNotFound, `stream "live/gone" is not live`)
	e.getJSON(t, base, &list)
	require.Len(t, list, 1)
	require.Equal(t, uint64(2), list[0].ID)

	// Not a target id: the path is a stream key, and DELETE kicks it.
	status, _, body = e.call(t, "DELETE", base+"/x", nil)
	requireError(t, status, body, http.StatusNotFound, `stream "live/cam/forwards/x" has no publisher`)
	status, _, body = e.call(t, "DELETE", "/api/v1/streams/live/forwards/2", nil)
	requireError(t, status, body, http.StatusNotFound, `stream "live/forwards/2" has no publisher`)

	out := logs.String()
	require.Contains(t, out, "restream target added by the API")
	require.Contains(t, out, "target=rtmp://a.rtmp.youtube.com/live2/****")
	require.Contains(t, out, "restream target removed by the API")
	for _, s := range []string{"SECRET1", "SECRET2", "SECRET3", "SECRET4", "SECRET5", "SECRET6", "SECRET7"} {
		require.NotContains(t, out, s, "raw targets are never logged")
	}
}

// Without a forwarder the endpoints say why; changes need the token.
func TestForwardsUnavailableAndAuth(t *testing.T) {
	e := newEnv(t, Config{})
	status, _, body := e.call(t, "GET", "/api/v1/streams/live/cam/forwards", nil)
	requireError(t, status, body, http.StatusNotImplemented, "restreaming is not available on this server")
	status, body = e.send(t, "POST", "/api/v1/streams/live/cam/forwards", `{"url": "rtmp://h/a/b"}`, nil)
	requireError(t, status, body, http.StatusNotImplemented, "restreaming is not available on this server")
	status, _, body = e.call(t, "DELETE", "/api/v1/streams/live/cam/forwards/1", nil)
	requireError(t, status, body, http.StatusNotImplemented, "restreaming is not available on this server")

	fw := newFakeForwarder("live/cam")
	e = newEnv(t, Config{Forwarder: fw, Token: "tok"})
	status, body = e.send(t, "POST", "/api/v1/streams/live/cam/forwards", `{"url": "rtmp://h/a/b"}`, nil)
	requireError(t, status, body, http.StatusUnauthorized, "missing bearer token")
	status, _, body = e.call(t, "DELETE", "/api/v1/streams/live/cam/forwards/1", nil)
	requireError(t, status, body, http.StatusUnauthorized, "missing bearer token")
	status, body = e.send(t, "POST", "/api/v1/streams/live/cam/forwards", `{"url": "rtmp://h/a/b"}`,
		map[string]string{"Authorization": "Bearer tok"})
	require.Equal(t, http.StatusCreated, status, string(body))
	var added Relay
	require.NoError(t, json.Unmarshal(body, &added))
	require.Equal(t, "rtmp://h/a/****", added.Target)

	e = newEnv(t, Config{Forwarder: fw, RequireToken: true})
	status, body = e.send(t, "POST", "/api/v1/streams/live/cam/forwards", `{"url": "rtmp://h/a/c"}`, nil)
	requireError(t, status, body, http.StatusForbidden, "changes (kicks, recordings, restream targets) need a token")
}

func TestForwardPaths(t *testing.T) {
	for _, tc := range []struct {
		path  string
		list  string // key when a list/add path, else ""
		key   string // key when a target path, else ""
		id    uint64
		isOne bool
	}{
		{path: "live/cam/forwards", list: "live/cam"},
		{path: "a/b/cam/forwards", list: "a/b/cam"},
		{path: "live/forwards"},
		{path: "forwards"},
		{path: "live/cam"},
		{path: "live/cam/forwards/7", key: "live/cam", id: 7, isOne: true},
		{path: "a/b/cam/forwards/18446744073709551615", key: "a/b/cam", id: 1<<64 - 1, isOne: true},
		{path: "live/cam/forwards/-1"},
		{path: "live/cam/forwards/x"},
		{path: "live/cam/forwards/"},
		{path: "live/forwards/7"},
		{path: "live/cam/record/7"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			k, ok := forwardsKey(tc.path)
			require.Equal(t, tc.list != "", ok)
			require.Equal(t, tc.list, map[bool]string{true: k}[ok])
			k, id, ok := forwardKey(tc.path)
			require.Equal(t, tc.isOne, ok)
			if ok {
				require.Equal(t, tc.key, k)
				require.Equal(t, tc.id, id)
			}
		})
	}
}
