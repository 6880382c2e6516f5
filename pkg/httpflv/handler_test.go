package httpflv

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitFor = 5 * time.Second

// env is a hub, a handler and a loopback server in front of it.
type env struct {
	hub *hub.Hub
	h   *Handler
	srv *httptest.Server
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	hb := hub.New(hub.Config{})
	h := NewHandler(cfg, hb)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		h.Close()
		hb.Close()
	})
	return &env{hub: hb, h: h, srv: srv}
}

func (e *env) url(path string) string { return e.srv.URL + path }

func (e *env) publish(t *testing.T, key string) *hub.Publisher {
	t.Helper()
	p, err := e.hub.Publish(key, hub.PublisherInfo{Protocol: "test"})
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}

// write publishes pkts in order.
func write(t *testing.T, p *hub.Publisher, pkts ...*av.Packet) {
	t.Helper()
	for _, pk := range pkts {
		require.NoError(t, p.WritePacket(pk))
	}
}

// waitReaders waits until key has n readers.
func (e *env) waitReaders(t *testing.T, key string, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		info, ok := e.hub.Stream(key)
		return ok && info.Readers == n
	}, waitFor, 2*time.Millisecond, "stream %s readers != %d", key, n)
}

func TestHTTPStatus(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.publish(t, "live/on")
	write(t, p, metaPacket(metaAV...), videoSeq(0), audioSeq(0))

	cases := []struct {
		name, method, path string
		hdr                map[string]string
		code               int
		want               map[string]string
	}{
		{"options", http.MethodOptions, "/live/on.flv", map[string]string{"Origin": "https://a.example", "Access-Control-Request-Headers": "range"}, http.StatusNoContent,
			map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS"}},
		{"head live", http.MethodHead, "/live/on.flv", nil, http.StatusOK,
			map[string]string{"Content-Type": "video/x-flv", "Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"}},
		{"head missing", http.MethodHead, "/live/off.flv", nil, http.StatusNotFound, map[string]string{"Cache-Control": "no-cache"}},
		{"get missing", http.MethodGet, "/live/off.flv", nil, http.StatusNotFound,
			map[string]string{"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"}},
		{"get missing nested app", http.MethodGet, "/a/b/c.flv?token=x", nil, http.StatusNotFound, nil},
		{"post", http.MethodPost, "/live/on.flv", nil, http.StatusMethodNotAllowed, map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{"no app", http.MethodGet, "/on.flv", nil, http.StatusBadRequest, nil},
		{"dot segment", http.MethodGet, "/live/..%2Fx.flv", nil, http.StatusBadRequest, nil},
		{"bad char", http.MethodGet, "/live/a%20b.flv", nil, http.StatusBadRequest, nil},
		{"not flv", http.MethodGet, "/live/on.m3u8", nil, http.StatusNotFound, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, e.url(tc.path), nil)
			require.NoError(t, err)
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, tc.code, resp.StatusCode, "body %q", body)
			for k, v := range tc.want {
				require.Equal(t, v, resp.Header.Get(k), k)
			}
			if tc.code >= 400 && tc.method != http.MethodHead {
				require.NotEmpty(t, body, "errors carry a short body")
				require.Less(t, len(body), 64)
			}
		})
	}
	require.Equal(t, 0, mustStream(t, e.hub, "live/on").Readers, "no request left a reader behind")
}

func mustStream(t *testing.T, h *hub.Hub, key string) hub.StreamInfo {
	t.Helper()
	info, ok := h.Stream(key)
	require.True(t, ok, "stream %s live", key)
	return info
}

func TestCORSOrigins(t *testing.T) {
	e := newEnv(t, Config{AllowOrigin: "https://a.example, https://b.example"})
	cases := []struct {
		name, origin, want string
		creds              bool
	}{
		{"listed", "https://b.example", "https://b.example", true},
		{"listed case", "HTTPS://A.example", "HTTPS://A.example", true},
		{"other", "https://evil.example", "", false},
		{"none", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodOptions, e.url("/live/x.flv"), nil)
			require.NoError(t, err)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, http.StatusNoContent, resp.StatusCode)
			require.Equal(t, tc.want, resp.Header.Get("Access-Control-Allow-Origin"))
			require.Equal(t, "Origin", resp.Header.Get("Vary"))
			require.Equal(t, tc.creds, resp.Header.Get("Access-Control-Allow-Credentials") == "true")
		})
	}
}

// readFLV parses an FLV stream until EOF and returns its header and tags.
func readFLV(t *testing.T, r io.Reader) (flv.FileHeader, []flv.Tag) {
	t.Helper()
	fr := flv.NewReader(r)
	fh, err := fr.ReadHeader()
	require.NoError(t, err)
	var tags []flv.Tag
	for {
		tag, err := fr.ReadTag()
		if errors.Is(err, io.EOF) {
			require.Zero(t, fr.SizeMismatches(), "PreviousTagSize = 11 + DataSize after every tag")
			return fh, tags
		}
		require.NoError(t, err)
		tags = append(tags, tag)
	}
}

// checkTags checks the FLV tag order a player needs: onMetaData, sequence
// headers, then media starting at a keyframe, timestamps monotonic per track.
func checkTags(t *testing.T, tags []flv.Tag, hasAudio, hasVideo bool) {
	t.Helper()
	require.NotEmpty(t, tags)
	require.Equal(t, flv.TagScript, tags[0].Type, "onMetaData first")
	require.True(t, bytes.Contains(tags[0].Body, []byte("onMetaData")))
	i := 1
	if hasVideo {
		require.Equal(t, flv.TagVideo, tags[i].Type, "video sequence header")
		require.Equal(t, []byte{0x17, 0}, tags[i].Body[:2])
		i++
	}
	if hasAudio {
		require.Equal(t, flv.TagAudio, tags[i].Type, "audio sequence header")
		require.Equal(t, []byte{0xaf, 0}, tags[i].Body[:2])
		i++
	}
	if hasVideo {
		require.Equal(t, flv.TagVideo, tags[i].Type)
		require.Equal(t, []byte{0x17, 1}, tags[i].Body[:2], "first frame is a keyframe")
	}
	last := map[uint8]uint32{}
	for _, tag := range tags {
		switch tag.Type {
		case flv.TagAudio:
			require.True(t, hasAudio, "audio tag in a stream flagged without audio")
		case flv.TagVideo:
			require.True(t, hasVideo, "video tag in a stream flagged without video")
		}
		require.GreaterOrEqual(t, tag.Timestamp, last[tag.Type], "timestamps monotonic per track")
		last[tag.Type] = tag.Timestamp
	}
}

func TestHTTPFLVBody(t *testing.T) {
	cases := []struct {
		name         string
		audio, video bool
	}{
		{name: "audio+video", audio: true, video: true},
		{name: "video only", video: true},
		{name: "audio only", audio: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			p := e.publish(t, "live/cam")
			primed, live := streamPackets(tc.audio, tc.video)
			write(t, p, primed...)

			resp, err := http.Get(e.url("/live/cam.flv"))
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "video/x-flv", resp.Header.Get("Content-Type"))
			require.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
			require.Equal(t, "no", resp.Header.Get("X-Accel-Buffering"))
			require.Equal(t, []string{"chunked"}, resp.TransferEncoding)
			require.EqualValues(t, -1, resp.ContentLength)

			e.waitReaders(t, "live/cam", 1)
			write(t, p, live...)
			p.Close() // no reconnect grace: the body ends after the queue drains

			fh, tags := readFLV(t, resp.Body)
			require.Equal(t, tc.audio, fh.HasAudio, "audio flag")
			require.Equal(t, tc.video, fh.HasVideo, "video flag")
			checkTags(t, tags, tc.audio, tc.video)
			require.Len(t, tags, len(primed)+len(live), "every packet delivered")
		})
	}
}

// streamPackets returns the packets of a stream already running (metadata,
// headers, the first GOP of 1 s) and live packets that follow (two more
// GOPs), from the synthetic publisher.
func streamPackets(audio, video bool) (primed, live []*av.Packet) {
	g := mediatest.New(mediatest.Config{NoAudio: !audio, NoVideo: !video, FPS: 30, GOP: 30})
	primed = g.Headers()
	for {
		pk := g.Next()
		if pk.DTS >= 1000 {
			live = append(live, pk)
			break
		}
		primed = append(primed, pk)
	}
	for live[len(live)-1].DTS < 3000 {
		live = append(live, g.Next())
	}
	return primed, live
}

func readHeader(r io.Reader) (flv.FileHeader, error) {
	return flv.NewReader(r).ReadHeader()
}

// ?track=N plays the rendition {stream}_tN of a multitrack publish; track
// 0 is the stream itself; anything else is refused before any lookup.
func TestTrackQuery(t *testing.T) {
	e := newEnv(t, Config{})
	e.publish(t, "live/mt")
	e.publish(t, "live/mt_t2")
	for _, tc := range []struct {
		query string
		code  int
	}{
		{"?track=2", http.StatusOK}, // live/mt_t2
		{"?track=0", http.StatusOK}, // live/mt
		{"?track=1", http.StatusNotFound},
		{"?track=256", http.StatusBadRequest},
		{"?track=x", http.StatusBadRequest},
	} {
		req, err := http.NewRequest(http.MethodHead, e.url("/live/mt.flv"+tc.query), nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, tc.code, resp.StatusCode, tc.query)
	}
}
