package record

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// get sends a request to h and returns the response, body read.
func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, "http://ripple.test/", nil)
	req.URL.Path = target // as it arrives, not cleaned
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, body
}

func TestHandler(t *testing.T) {
	e := newEnv(t, Rule{Enabled: true}, graceZero)
	e.mu.Lock()
	e.rules["live/flv"] = Rule{Enabled: true, Format: FormatFLV}
	// A name that does not say the format (no {ext}): it is sniffed.
	e.rules["live/rec"] = Rule{Enabled: true, Format: FormatFLV, Path: "recordings/{app}/{stream}/{time}.rec"}
	e.mu.Unlock()
	var names = map[string]string{}
	for _, key := range []string{testKey, "live/secret", "live/flv", "live/rec"} {
		g := mediatest.New(mediatest.Config{})
		pub := e.publish(key)
		write(t, pub, append(g.Headers(), g.Packets(200)...)...)
		pub.Close()
		done := e.wait(EventDone)
		names[key] = done.Recording.Name
	}
	h := e.m.Handler(func(r *http.Request, key string) bool {
		return key != "live/secret" || r.URL.Query().Get("token") == "ok"
	})
	file, err := os.ReadFile(filepath.Join(e.dir, "recordings", filepath.FromSlash(names[testKey])))
	require.NoError(t, err)

	t.Run("get", func(t *testing.T) {
		res, body := get(t, h, http.MethodGet, "/recordings/"+names[testKey], nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, file, body)
		require.Equal(t, "video/mp4", res.Header.Get("Content-Type"))
		require.Equal(t, "bytes", res.Header.Get("Accept-Ranges"))
		require.NotEmpty(t, res.Header.Get("Last-Modified"))
		require.Empty(t, res.Header.Get("Cache-Control"))
		etag := res.Header.Get("ETag")
		require.True(t, strings.HasPrefix(etag, `"`+strconv.FormatInt(int64(len(file)), 16)+"-"), etag)

		res, body = get(t, h, http.MethodGet, "/recordings/"+names[testKey], map[string]string{"Range": "bytes=100-199"})
		require.Equal(t, http.StatusPartialContent, res.StatusCode)
		require.Equal(t, file[100:200], body)
		require.Equal(t, "bytes 100-199/"+strconv.Itoa(len(file)), res.Header.Get("Content-Range"))

		res, _ = get(t, h, http.MethodGet, "/recordings/"+names[testKey], map[string]string{"If-None-Match": etag})
		require.Equal(t, http.StatusNotModified, res.StatusCode)
		res, body = get(t, h, http.MethodGet, "/recordings/"+names[testKey], map[string]string{"Range": "bytes=0-9", "If-Range": etag})
		require.Equal(t, http.StatusPartialContent, res.StatusCode)
		require.Equal(t, file[:10], body)
		res, body = get(t, h, http.MethodGet, "/recordings/"+names[testKey], map[string]string{"Range": "bytes=0-9", "If-Range": `"other"`})
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, file, body)

		res, body = get(t, h, http.MethodHead, "/recordings/"+names[testKey], nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, strconv.Itoa(len(file)), res.Header.Get("Content-Length"))
		require.Empty(t, body)

		res, _ = get(t, h, http.MethodGet, "/recordings/"+names["live/flv"], nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "video/x-flv", res.Header.Get("Content-Type"))

		res, _ = get(t, h, http.MethodPost, "/recordings/"+names[testKey], nil)
		require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
		require.Equal(t, "GET, HEAD", res.Header.Get("Allow"))
	})

	// A file whose name does not say its format is served with the type
	// its first bytes give.
	t.Run("sniffed", func(t *testing.T) {
		res, body := get(t, h, http.MethodGet, "/recordings/"+names["live/rec"], nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "FLV", string(body[:3]))
		require.Equal(t, "video/x-flv", res.Header.Get("Content-Type"))
	})

	t.Run("authorize", func(t *testing.T) {
		res, _ := get(t, h, http.MethodGet, "/recordings/"+names["live/secret"], nil)
		require.Equal(t, http.StatusForbidden, res.StatusCode)
		res, _ = get(t, h, http.MethodGet, "/recordings/live/secret/20991231T000000Z.mp4", nil)
		require.Equal(t, http.StatusForbidden, res.StatusCode, "refused before the file is looked for")
		req := httptest.NewRequest(http.MethodGet, "/recordings/"+names["live/secret"]+"?token=ok", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		res, _ = get(t, e.m.Handler(nil), http.MethodGet, "/recordings/"+names["live/secret"], nil)
		require.Equal(t, http.StatusOK, res.StatusCode, "nil authorize allows")
	})

	t.Run("not found", func(t *testing.T) {
		outside := filepath.Join(e.dir, "outside")
		require.NoError(t, os.MkdirAll(outside, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(outside, "20261207T153000Z.mp4"), file, 0o644))
		camDir := filepath.Join(e.dir, "recordings", "live", "cam")
		require.NoError(t, os.Symlink(outside, filepath.Join(e.dir, "recordings", "live", "evil")))
		require.NoError(t, os.Symlink(filepath.Join(camDir, filepath.Base(names[testKey])),
			filepath.Join(camDir, "20261207T000000Z.mp4")))
		require.NoError(t, os.MkdirAll(filepath.Join(camDir, "20261207T000001Z.mp4"), 0o755))
		for _, p := range []string{
			"/recordings/live/cam/20991231T000000Z.mp4",                 // no such file
			"/recordings/" + strings.TrimSuffix(names[testKey], ".mp4"), // not a name of the template
			"/recordings/../outside/20261207T153000Z.mp4",
			"/recordings/live/cam/../../../outside/20261207T153000Z.mp4",
			"/recordings//" + filepath.ToSlash(outside) + "/20261207T153000Z.mp4",
			"/recordings/live/evil/20261207T153000Z.mp4", // a directory symlink leaving the root
			"/recordings/live/cam/20261207T000000Z.mp4",  // a symlink, even inside the root
			"/recordings/live/cam/20261207T000001Z.mp4",  // a directory
			"/recordings/live\\cam\\" + filepath.Base(names[testKey]),
			"/recordings/",
			"/recordings",
			"/" + names[testKey],
		} {
			res, _ := get(t, h, http.MethodGet, p, nil)
			require.Equal(t, http.StatusNotFound, res.StatusCode, p)
		}
	})
}

// TestHandlerInProgress serves a file while it is written: up to its last
// complete fragment, not cached.
func TestHandlerInProgress(t *testing.T) {
	e := newEnv(t, Rule{Enabled: true})
	g := mediatest.New(mediatest.Config{})
	pub := e.publish(testKey)
	e.writeSync(testKey, pub, append(g.Headers(), g.Packets(300)...)...)
	recs, err := e.m.Recordings("", "")
	require.NoError(t, err)
	require.Len(t, recs, 1)
	rec := recs[0]
	require.True(t, rec.InProgress)
	fi, err := os.Stat(rec.Path)
	require.NoError(t, err)
	require.Equal(t, fi.Size(), rec.Size, "fragments are written whole")

	h := e.m.Handler(nil)
	res, body := get(t, h, http.MethodGet, "/recordings/"+rec.Name, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "no-cache", res.Header.Get("Cache-Control"))
	require.Len(t, body, int(rec.Size))
	tmp := filepath.Join(t.TempDir(), "prefix.mp4")
	require.NoError(t, os.WriteFile(tmp, body, 0o644))
	p := ffprobe(t, tmp)
	require.InDelta(t, rec.Duration.Seconds(), p.end("video"), 0.05)

	// Bytes past the committed size (as a crash mid-write would leave) are
	// not served.
	a := e.m.activeAt(rec.Path)
	require.NotNil(t, a)
	a.size.Add(-100)
	res, body = get(t, h, http.MethodGet, "/recordings/"+rec.Name, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Len(t, body, int(rec.Size)-100)
	a.size.Add(100)
	pub.Close()
}
