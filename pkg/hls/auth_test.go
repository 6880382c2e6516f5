package hls

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// tokenError is a refusal with its own status.
type tokenError struct{ status int }

func (e tokenError) Error() string   { return "bad token" }
func (e tokenError) HTTPStatus() int { return e.status }

// gate is a fake access.Func: it admits a query whose token is "good"
// (refusing a missing token with 401, a wrong one with 403) and records
// every request.
type gate struct {
	mu   sync.Mutex
	reqs []access.Request
}

func (g *gate) authorize(_ context.Context, r access.Request) error {
	g.mu.Lock()
	g.reqs = append(g.reqs, r)
	g.mu.Unlock()
	q, _ := url.ParseQuery(r.Query) // what parses, as url.URL.Query
	switch {
	case q.Get("token") == "":
		return tokenError{http.StatusUnauthorized}
	case q.Get("token") != "good":
		return errors.New("forbidden token")
	}
	return nil
}

func (g *gate) take() []access.Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.reqs
	g.reqs = nil
	return r
}

func (g *gate) objects() []string {
	var out []string
	for _, r := range g.take() {
		out = append(out, r.Object)
	}
	return out
}

var mapURI = regexp.MustCompile(`URI="([^"]+)"`)

// listed returns every URI a playlist lists: URI lines and URI attributes
// (EXT-X-MAP, EXT-X-PART, EXT-X-PRELOAD-HINT).
func listed(pl string) []string {
	out := uris(pl)
	for _, m := range mapURI.FindAllStringSubmatch(pl, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestAuthScopeAll(t *testing.T) {
	var g gate
	lb := &logBuf{}
	e := newEnv(t, Config{Variant: VariantLowLatency, Authorize: g.authorize, Logger: newLogger(lb)}, hub.Config{})
	e.publish(t, mediatest.Config{}, true)
	e.send(t, 5*time.Second)
	md := e.waitSegments(t, 2)
	e.settle(t, 100)
	md.mu.Lock()
	seg, part, init := md.segments[0].name, md.segments[0].parts[0].name, md.nextInit
	next := md.nextMSN
	md.mu.Unlock()
	g.take()

	t.Run("refused without a valid token", func(t *testing.T) {
		paths := []string{
			"/live/cam.m3u8", "/live/cam/media.m3u8", "/live/cam/" + seg, "/live/cam/" + part, "/live/cam/" + init,
			"/live/cam/media.m3u8?_HLS_msn=" + strconv.FormatUint(next+1, 10), // would block: refused at once
			"/live/nope.m3u8", "/live/nope/media.m3u8", "/live/cam/nope.m4s",
		}
		start := time.Now()
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			for _, p := range paths {
				resp, body := e.do(t, method, p, nil)
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode, method+" "+p)
				require.Equal(t, "no-store", resp.Header.Get("Cache-Control"), p)
				if method == http.MethodGet {
					require.Equal(t, "bad token\n", body, p)
				}
				resp, body = e.do(t, method, p+sep(p)+"token=bad", nil)
				require.Equal(t, http.StatusForbidden, resp.StatusCode, method+" "+p)
				if method == http.MethodGet {
					require.Equal(t, "forbidden token\n", body, p)
				}
			}
		}
		reqs := g.take()
		require.Len(t, reqs, 4*9)
		for _, r := range reqs {
			require.Equal(t, access.Play, r.Action)
			require.Equal(t, access.ProtoHLS, r.Protocol)
			require.NotEmpty(t, r.RemoteAddr)
			require.NotContains(t, r.Query, "_HLS_")
		}
		require.Equal(t, "live/cam", reqs[0].Key)
		require.Equal(t, access.ObjectPlaylist, reqs[0].Object)
		require.Equal(t, access.ObjectMedia, reqs[2].Object)
		require.Equal(t, access.ObjectFile, reqs[4].Object)
		require.Equal(t, "live/nope", reqs[12].Key)
		// 36 refusals, at most one line a second (plus the first).
		lines := lb.count("play refused")
		require.GreaterOrEqual(t, lines, 1)
		require.LessOrEqual(t, lines, int(time.Since(start)/time.Second)+1, lb.String())

		// A CORS preflight carries no token and is not checked.
		resp, _ := e.do(t, http.MethodOptions, "/live/cam/media.m3u8", map[string]string{
			"Origin": "https://player.example", "Access-Control-Request-Method": "GET",
		})
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		require.Empty(t, g.take())
	})

	t.Run("the token reaches every uri and round-trips", func(t *testing.T) {
		resp, top := e.get(t, "/live/cam.m3u8?token=good")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "private, max-age=1", resp.Header.Get("Cache-Control"))
		require.Equal(t, []string{"cam/media.m3u8?token=good"}, uris(top))

		// The player's URL for the media playlist, with a blocking reload
		// directive added as players do.
		mpath := "/live/" + uris(top)[0] + "&_HLS_msn=" + strconv.FormatUint(next, 10) + "&_HLS_part=0"
		resp, pl := e.get(t, mpath)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.True(t, strings.HasPrefix(resp.Header.Get("Cache-Control"), "private, "))
		reqs := g.take()
		require.Equal(t, "token=good", reqs[len(reqs)-1].Query, "directives are not the token's business")
		all := listed(pl)
		require.NotEmpty(t, all)
		kinds := map[string]bool{}
		for _, u := range all {
			require.True(t, strings.HasSuffix(u, "?token=good"), u)
			switch {
			case strings.Contains(pl, `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="`+u+`"`):
				kinds["hint"] = true
				continue // published later: fetched below
			case strings.Contains(u, "-init"):
				kinds["map"] = true
			case strings.Count(u, ".") == 2:
				kinds["part"] = true
			default:
				kinds["segment"] = true
			}
			resp, _ := e.get(t, "/live/cam/"+u)
			require.Equal(t, http.StatusOK, resp.StatusCode, u)
			require.Equal(t, "private, max-age=86400, immutable", resp.Header.Get("Cache-Control"), u)
			resp, _ = e.do(t, http.MethodHead, "/live/cam/"+u, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, "HEAD "+u)
		}
		require.Equal(t, map[string]bool{"hint": true, "map": true, "part": true, "segment": true}, kinds)
		require.Equal(t, access.ObjectMedia, reqs[len(reqs)-1].Object)
		require.Contains(t, g.objects(), access.ObjectFile)

		hint := regexpFind(t, `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"`, pl)
		held := e.async("/live/cam/" + hint)
		e.send(t, 8*time.Second)
		r := wait(t, held)
		require.Equal(t, http.StatusOK, r.resp.StatusCode)
	})

	t.Run("queries are re-encoded", func(t *testing.T) {
		// Bytes that would end an attribute or a line come back escaped.
		resp, pl := e.get(t, "/live/cam/media.m3u8?token=good&note=%22%2C%0A%3C%20x&z=1")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		const q = "?note=%22%2C%0A%3C+x&token=good&z=1"
		for _, u := range listed(pl) {
			require.True(t, strings.HasSuffix(u, q), u)
		}
		for line := range strings.SplitSeq(strings.TrimSuffix(pl, "\n"), "\n") {
			require.True(t, strings.HasPrefix(line, "#") || strings.HasSuffix(line, q), "no line was broken: %q", line)
		}
		require.Equal(t, strings.Count(pl, "#EXTINF:"), len(uris(pl)))
		u := uris(pl)[0]
		resp, _ = e.get(t, "/live/cam/"+u)
		require.Equal(t, http.StatusOK, resp.StatusCode)

		resp, _ = e.get(t, "/live/cam/media.m3u8?token=good&bad=%zz")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		resp, _ = e.get(t, "/live/cam.m3u8?token=good&x=1;y=2")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})

	t.Run("playlists are not shared between viewers", func(t *testing.T) {
		_, a := e.get(t, "/live/cam/media.m3u8?token=good&viewer=a")
		_, b := e.get(t, "/live/cam/media.m3u8?token=good&viewer=b")
		require.NotContains(t, a, "viewer=b")
		require.NotContains(t, b, "viewer=a")
		require.Contains(t, b, "viewer=b")
		_, plain := e.get(t, "/live/cam/media.m3u8?token=good")
		require.NotContains(t, plain, "viewer=")
	})
}

func sep(p string) string {
	if strings.Contains(p, "?") {
		return "&"
	}
	return "?"
}

func TestAuthScopeEntry(t *testing.T) {
	var g gate
	e := newEnv(t, Config{Variant: VariantFMP4, Authorize: g.authorize, AuthScope: AuthScopeEntry}, hub.Config{})
	e.publish(t, mediatest.Config{}, true)
	e.send(t, 5*time.Second)
	e.waitSegments(t, 2)
	g.take()

	resp, _ := e.get(t, "/live/cam.m3u8")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, top := e.get(t, "/live/cam.m3u8?token=good")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "public, max-age=1", resp.Header.Get("Cache-Control"))
	require.Equal(t, []string{"cam/media.m3u8"}, uris(top), "URIs untouched: CDN-cacheable")
	require.Equal(t, []string{access.ObjectPlaylist, access.ObjectPlaylist}, g.objects())

	resp, pl := e.get(t, "/live/cam/media.m3u8")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, u := range listed(pl) {
		require.NotContains(t, u, "?")
		resp, _ := e.get(t, "/live/cam/"+u)
		require.Equal(t, http.StatusOK, resp.StatusCode, u)
		require.Equal(t, "public, max-age=86400, immutable", resp.Header.Get("Cache-Control"))
	}
	require.Empty(t, g.objects(), "only the entry playlist is checked")
}

// TestAuthScopeAllOpenStream: under AuthScopeAll, a stream no play rule
// restricts (Config.Restricted false) keeps shared URIs and public caching:
// viewers' queries (an analytics tag, a stale token) never leak into the
// playlists or split a CDN's cache.
func TestAuthScopeAllOpenStream(t *testing.T) {
	var g gate
	e := newEnv(t, Config{Variant: VariantFMP4, Authorize: g.authorize,
		Restricted: func(key string) bool { return key != "live/cam" }}, hub.Config{})
	e.publish(t, mediatest.Config{}, true)
	e.send(t, 5*time.Second)
	e.waitSegments(t, 2)
	g.take()

	resp, top := e.get(t, "/live/cam.m3u8?token=good")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "public, max-age=1", resp.Header.Get("Cache-Control"))
	require.Equal(t, []string{"cam/media.m3u8"}, uris(top))
	resp, pl := e.get(t, "/live/cam/media.m3u8?token=good")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, u := range listed(pl) {
		require.NotContains(t, u, "?")
	}
}

// TestAuthOnDemand: a request that would start an on-demand muxer or an
// edge pull is checked first in both scopes; refused, it starts nothing.
func TestAuthOnDemand(t *testing.T) {
	for _, scope := range []AuthScope{AuthScopeAll, AuthScopeEntry} {
		t.Run(scope.String(), func(t *testing.T) {
			var g gate
			e := newEnv(t, Config{OnDemand: true, Authorize: g.authorize, AuthScope: scope}, hub.Config{})
			var mu sync.Mutex
			var demanded []string
			e.hub.SetDemand(func(key string, info hub.ReaderInfo) error {
				mu.Lock()
				defer mu.Unlock()
				demanded = append(demanded, key+" "+info.Query)
				return hub.ErrStreamNotFound
			})
			for _, p := range []string{"/live/other.m3u8", "/live/other/media.m3u8"} {
				resp, _ := e.get(t, p)
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode, p)
			}
			mu.Lock()
			require.Empty(t, demanded, "no edge pull without the token")
			mu.Unlock()

			e.publish(t, mediatest.Config{}, false)
			for _, p := range []string{"/live/cam.m3u8", "/live/cam/media.m3u8"} {
				resp, _ := e.get(t, p)
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode, p)
				require.Nil(t, e.m.get(testKey), "no muxer without the token")
			}

			resp, _ := e.get(t, "/live/other/media.m3u8?token=good&_HLS_msn=1")
			require.Equal(t, http.StatusNotFound, resp.StatusCode)
			mu.Lock()
			require.Equal(t, []string{"live/other token=good"}, demanded)
			mu.Unlock()

			first := e.async("/live/cam/media.m3u8?token=good")
			e.waitEvent(t, hub.EventReaderJoin, "hls")
			e.send(t, 5*time.Second)
			r := wait(t, first)
			require.Equal(t, http.StatusOK, r.resp.StatusCode)
		})
	}
}

// TestAuthClientLeft: a client that left during the check gets nothing
// written.
func TestAuthClientLeft(t *testing.T) {
	h := hub.New(hub.Config{})
	defer h.Close()
	m := New(Config{Authorize: func(ctx context.Context, _ access.Request) error {
		<-ctx.Done()
		return ctx.Err()
	}}, h)
	m.Start()
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest(http.MethodGet, "/live/cam.m3u8?token=x", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	cancel()
	m.ServeHTTP(rec, req)
	require.Empty(t, rec.Body.String())
	require.Empty(t, rec.Header().Get("Cache-Control"))
	require.False(t, rec.Flushed)
}

func TestStripDirectives(t *testing.T) {
	for in, want := range map[string]string{
		"":                                  "",
		"token=a":                           "token=a",
		"_HLS_msn=3&token=a&_HLS_part=1":    "token=a",
		"token=a%2Bb&_HLS_skip=YES&e=9":     "token=a%2Bb&e=9",
		"%5FHLS_msn=1&sig=x%20y":            "sig=x%20y",
		"_HLS_msn=1":                        "",
		"a=1&&b=2":                          "a=1&&b=2",
		"x_HLS_=1&_hls_msn=2":               "x_HLS_=1&_hls_msn=2",
		"sig=%zz&_HLS_msn=1":                "sig=%zz",
		"token=a;_HLS_msn=1":                "token=a;_HLS_msn=1",
		"_HLS_msn=1&_HLS_part=2&_HLS_skip=": "",
	} {
		require.Equal(t, want, stripDirectives(in), in)
	}
}
