package hls

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// firstURI returns the first line of a playlist that is not a tag.
func uris(pl string) []string {
	var out []string
	for l := range strings.SplitSeq(pl, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func TestHTTPMPEGTS(t *testing.T) {
	e := newEnv(t, Config{}, hub.Config{})
	e.publish(t, mediatest.Config{}, true)
	e.send(t, 7*time.Second)
	e.waitSegments(t, 3)

	t.Run("playlist", func(t *testing.T) {
		resp, body := e.get(t, "/live/cam.m3u8")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		h := resp.Header
		require.Equal(t, "application/vnd.apple.mpegurl", h.Get("Content-Type"))
		require.Equal(t, "public, max-age=1", h.Get("Cache-Control"), "half the 2 s target")
		require.NotEmpty(t, h.Get("ETag"))
		require.NotEmpty(t, h.Get("Last-Modified"))
		require.Equal(t, "*", h.Get("Access-Control-Allow-Origin"))
		require.True(t, strings.HasPrefix(body, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"), body)
		require.Contains(t, body, "#EXT-X-PROGRAM-DATE-TIME:")
		for _, u := range uris(body) {
			require.Regexp(t, `^cam/[0-9a-z]+-[0-9]+\.ts$`, u)
		}

		resp2, body2 := e.do(t, http.MethodGet, "/live/cam.m3u8", map[string]string{"If-None-Match": h.Get("ETag")})
		require.Equal(t, http.StatusNotModified, resp2.StatusCode)
		require.Empty(t, body2)

		resp3, body3 := e.do(t, http.MethodHead, "/live/cam.m3u8", nil)
		require.Equal(t, http.StatusOK, resp3.StatusCode)
		require.Empty(t, body3)
		require.Equal(t, strconv.Itoa(len(body)), resp3.Header.Get("Content-Length"))
		require.Equal(t, h.Get("ETag"), resp3.Header.Get("ETag"))

		// The same playlist as /cam/media.m3u8, with relative URIs.
		resp4, body4 := e.get(t, "/live/cam/media.m3u8")
		require.Equal(t, http.StatusOK, resp4.StatusCode)
		require.Equal(t, strings.ReplaceAll(body, "\ncam/", "\n"), body4)
	})

	t.Run("segment", func(t *testing.T) {
		_, pl := e.get(t, "/live/cam.m3u8")
		u := uris(pl)[0]
		resp, body := e.get(t, "/live/"+u)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		h := resp.Header
		require.Equal(t, "video/mp2t", h.Get("Content-Type"))
		require.Equal(t, "public, max-age=86400, immutable", h.Get("Cache-Control"))
		require.Equal(t, `"`+strings.TrimPrefix(u, "cam/")+`"`, h.Get("ETag"))
		require.NotEmpty(t, h.Get("Last-Modified"))
		require.Equal(t, byte(0x47), body[0])
		require.Zero(t, len(body)%188, "whole TS packets")

		resp2, _ := e.do(t, http.MethodGet, "/live/"+u, map[string]string{"If-None-Match": h.Get("ETag")})
		require.Equal(t, http.StatusNotModified, resp2.StatusCode)
		resp3, _ := e.do(t, http.MethodGet, "/live/"+u, map[string]string{"If-Modified-Since": h.Get("Last-Modified")})
		require.Equal(t, http.StatusNotModified, resp3.StatusCode)
		resp4, body4 := e.do(t, http.MethodGet, "/live/"+u, map[string]string{"Range": "bytes=0-187"})
		require.Equal(t, http.StatusPartialContent, resp4.StatusCode)
		require.Equal(t, body[:188], body4)
		resp5, body5 := e.do(t, http.MethodHead, "/live/"+u, nil)
		require.Equal(t, http.StatusOK, resp5.StatusCode)
		require.Empty(t, body5)
		require.Equal(t, strconv.Itoa(len(body)), resp5.Header.Get("Content-Length"))
	})

	t.Run("not found", func(t *testing.T) {
		for _, p := range []string{
			"/live/nope.m3u8", "/live/cam/nope.ts", "/live/cam/0-0.ts", "/cam.m3u8", "/live/nope/x.ts",
			"/live/../cam.m3u8", "/live/cam", "/live/cam/other.m3u8",
		} {
			resp, _ := e.get(t, p)
			require.Equal(t, http.StatusNotFound, resp.StatusCode, p)
			require.Equal(t, "public, max-age=2", resp.Header.Get("Cache-Control"), p)
		}
	})

	t.Run("methods and CORS", func(t *testing.T) {
		resp, _ := e.do(t, http.MethodOptions, "/live/cam.m3u8", map[string]string{
			"Origin": "https://player.example", "Access-Control-Request-Method": "GET",
		})
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
		require.Equal(t, "GET, HEAD, OPTIONS", resp.Header.Get("Access-Control-Allow-Methods"))
		require.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), "Range")

		resp2, _ := e.do(t, http.MethodPost, "/live/cam.m3u8", nil)
		require.Equal(t, http.StatusMethodNotAllowed, resp2.StatusCode)
		require.Equal(t, "GET, HEAD, OPTIONS", resp2.Header.Get("Allow"))
	})
}

func TestHTTPFMP4(t *testing.T) {
	e := newEnv(t, Config{Variant: VariantFMP4}, hub.Config{})
	e.publish(t, mediatest.Config{}, true)
	e.send(t, 7*time.Second)
	e.waitSegments(t, 3)

	resp, body := e.get(t, "/live/cam.m3u8")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/vnd.apple.mpegurl", resp.Header.Get("Content-Type"))
	require.Equal(t, "public, max-age=1", resp.Header.Get("Cache-Control"))
	require.Regexp(t, `#EXT-X-STREAM-INF:BANDWIDTH=[1-9][0-9]*,AVERAGE-BANDWIDTH=[1-9][0-9]*,CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"\ncam/media\.m3u8\n$`, body)

	resp, body = e.get(t, "/live/cam/media.m3u8")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "#EXT-X-VERSION:7\n")
	m := regexpFind(t, `#EXT-X-MAP:URI="([^"]+)"`, body)
	resp, init := e.get(t, "/live/cam/"+m)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "video/mp4", resp.Header.Get("Content-Type"))
	require.Equal(t, "public, max-age=86400, immutable", resp.Header.Get("Cache-Control"))
	require.Equal(t, "ftyp", init[4:8])

	u := uris(body)[0]
	require.Regexp(t, `^[0-9a-z]+-0\.m4s$`, u)
	resp, seg := e.get(t, "/live/cam/"+u)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "video/mp4", resp.Header.Get("Content-Type"))
	require.Equal(t, "public, max-age=86400, immutable", resp.Header.Get("Cache-Control"))
	require.Equal(t, "moof", seg[4:8])
}

func regexpFind(t *testing.T, re, s string) string {
	t.Helper()
	m := regexpMust(re).FindStringSubmatch(s)
	require.Len(t, m, 2, "%s in %s", re, s)
	return m[1]
}

func TestHTTPLowLatency(t *testing.T) {
	e := newEnv(t, Config{Variant: VariantLowLatency}, hub.Config{})
	e.publish(t, mediatest.Config{}, true)
	e.send(t, 5*time.Second)
	md := e.waitSegments(t, 2)
	// Everything sent must be muxed before the next part is named below:
	// the last packet sent is the keyframe at 5 s, which closes the part
	// before it (listing media up to 4967 ms) and can close nothing more.
	// Within 300 ms, as before, the muxer could still be behind by a part,
	// publish the hinted part after the hint was read, and answer the
	// "blocking" request at once.
	e.settle(t, 100)

	resp, body := e.get(t, "/live/cam/media.m3u8")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "public, max-age=1", resp.Header.Get("Cache-Control"))
	require.Contains(t, body, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES")
	hint := regexpFind(t, `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"`, body)

	md.mu.Lock()
	msn, nparts := md.nextMSN, len(md.parts)
	md.mu.Unlock()

	t.Run("blocking reload", func(t *testing.T) {
		waiting := e.watchWaits(md)
		blocked := e.async("/live/cam/media.m3u8?_HLS_msn=" + strconv.FormatUint(msn, 10) + "&_HLS_part=" + strconv.Itoa(nparts+1))
		hinted := e.async("/live/cam/" + hint)
		waitN(t, waiting, 2)
		require.True(t, pending(blocked), "held until the part exists")
		require.True(t, pending(hinted), "held until the hinted part exists")
		e.send(t, 8*time.Second)
		e.settle(t, 300)
		r := wait(t, blocked)
		require.Equal(t, http.StatusOK, r.resp.StatusCode)
		require.Equal(t, "public, max-age=6", r.resp.Header.Get("Cache-Control"), "3 target durations")
		require.Contains(t, r.body, md.partName(msn, nparts+1))
		h := wait(t, hinted)
		require.Equal(t, http.StatusOK, h.resp.StatusCode)
		require.Equal(t, "video/mp4", h.resp.Header.Get("Content-Type"))
		require.Equal(t, "public, max-age=86400, immutable", h.resp.Header.Get("Cache-Control"))
	})

	t.Run("bad directives", func(t *testing.T) {
		md.mu.Lock()
		next := md.nextMSN
		md.mu.Unlock()
		for _, q := range []string{
			"_HLS_part=1", "_HLS_msn=x", "_HLS_msn=1&_HLS_part=-2",
			"_HLS_msn=" + strconv.FormatUint(next+10, 10),
		} {
			resp, _ := e.get(t, "/live/cam/media.m3u8?"+q)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
		}
	})

	t.Run("times out after three target durations", func(t *testing.T) {
		md.mu.Lock()
		next := md.nextMSN
		md.mu.Unlock()
		start := time.Now()
		resp, body := e.get(t, "/live/cam/media.m3u8?_HLS_msn="+strconv.FormatUint(next+1, 10))
		require.GreaterOrEqual(t, time.Since(start), 6*time.Second)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "no-cache", resp.Header.Get("Cache-Control"), "an unsatisfied answer must not be cached")
		require.Contains(t, body, "#EXTM3U")
	})

	t.Run("close releases blocked requests", func(t *testing.T) {
		md.mu.Lock()
		next := md.nextMSN
		md.mu.Unlock()
		waiting := e.watchWaits(md)
		blocked := e.async("/live/cam/media.m3u8?_HLS_msn=" + strconv.FormatUint(next+1, 10))
		waitN(t, waiting, 1)
		e.m.Close()
		r := wait(t, blocked)
		require.Equal(t, http.StatusServiceUnavailable, r.resp.StatusCode)
		require.Equal(t, "no-store", r.resp.Header.Get("Cache-Control"))
	})
}

func regexpMust(re string) *regexp.Regexp { return regexp.MustCompile(re) }
