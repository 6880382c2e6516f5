package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
)

// vendored is a vendor/ tree holding every pinned library.
func vendored(t *testing.T) fstest.MapFS {
	t.Helper()
	libs, err := pinnedLibs()
	require.NoError(t, err)
	m := fstest.MapFS{}
	for _, l := range libs {
		m[l.path()] = &fstest.MapFile{Data: []byte("/* " + l.Package + " */")}
	}
	return m
}

func TestHandler(t *testing.T) {
	cases := []struct {
		name     string
		vendor   bool // serve with every library in vendor/
		opts     []Option
		method   string
		path     string
		code     int
		ctype    string
		cache    string
		contains []string
	}{
		{name: "page default port", path: "/", code: 200, ctype: "text/html; charset=utf-8", cache: "no-cache",
			contains: []string{"<title>Ripple</title>", `<meta name="ripple-rtmp-port" content="1935">`, `value="live"`, `value="cam1"`, `<script src="app.js">`}},
		{name: "page configured port", opts: []Option{WithRTMPPort(19350)}, path: "/index.html", code: 200,
			contains: []string{`<meta name="ripple-rtmp-port" content="19350">`}},
		{name: "head", method: http.MethodHead, path: "/", code: 200},
		{name: "script", path: "/app.js", code: 200, ctype: "text/javascript; charset=utf-8", contains: []string{"createPlayer", "new Hls("}},
		{name: "style", path: "/style.css", code: 200, ctype: "text/css; charset=utf-8"},
		{name: "vendored library", vendor: true, path: "/vendor/mpegts.js@1.8.2/dist/mpegts.js", code: 200,
			ctype: "text/javascript; charset=utf-8", cache: "public, max-age=31536000, immutable", contains: []string{"/* mpegts.js */"}},
		{name: "library not vendored", path: "/vendor/mpegts.js@1.8.2/dist/mpegts.js", code: 404},
		{name: "other vendor file", vendor: true, path: "/vendor/", code: 404},
		{name: "vendor readme", vendor: true, path: "/vendor/README.md", code: 404},
		{name: "not found", path: "/nope", code: 404},
		{name: "no source", path: "/web.go", code: 404},
		{name: "no package.json", path: "/package.json", code: 404},
		{name: "post refused", method: http.MethodPost, path: "/", code: 405},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			vendor := fstest.MapFS{}
			if tc.vendor {
				vendor = vendored(t)
			}
			rec := httptest.NewRecorder()
			newHandler(vendor, tc.opts...).ServeHTTP(rec, httptest.NewRequest(method, tc.path, nil))
			require.Equal(t, tc.code, rec.Code)
			if tc.ctype != "" {
				require.Equal(t, tc.ctype, rec.Header().Get("Content-Type"))
			}
			if tc.cache != "" {
				require.Equal(t, tc.cache, rec.Header().Get("Cache-Control"))
			}
			for _, s := range tc.contains {
				require.Contains(t, rec.Body.String(), s)
			}
		})
	}
}

var configRE = regexp.MustCompile(`<script id="ripple-config" type="application/json">(.*)</script>`)

// pageConfigOf returns the config the page was given.
func pageConfigOf(t *testing.T, h http.Handler) pageConfig {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	m := configRE.FindStringSubmatch(rec.Body.String())
	require.NotNil(t, m, "config element missing from the page")
	var cfg pageConfig
	require.NoError(t, json.Unmarshal([]byte(m[1]), &cfg))
	return cfg
}

// pageLibs returns the libraries section of the config the page was given.
func pageLibs(t *testing.T, h http.Handler) map[string]libLoad {
	t.Helper()
	return pageConfigOf(t, h).Libs
}

// TestLibrarySource checks the local-or-CDN decision: an embedded file wins,
// a missing one falls back to the CDN at the pinned version with its SRI hash.
func TestLibrarySource(t *testing.T) {
	libs, err := pinnedLibs()
	require.NoError(t, err)
	require.Len(t, libs, 2)

	t.Run("local", func(t *testing.T) {
		got := pageLibs(t, newHandler(vendored(t)))
		require.Len(t, got, len(libs))
		for name, l := range libs {
			require.Equal(t, libLoad{URL: "vendor/" + l.path(), Local: true}, got[name], name)
		}
	})
	t.Run("cdn", func(t *testing.T) {
		got := pageLibs(t, newHandler(fstest.MapFS{}))
		require.Len(t, got, len(libs))
		for name, l := range libs {
			require.Equal(t, libLoad{URL: CDNBase + l.path(), Integrity: l.Integrity}, got[name], name)
		}
	})
	t.Run("partial", func(t *testing.T) {
		v := vendored(t)
		delete(v, libs["hls"].path())
		got := pageLibs(t, newHandler(v))
		require.True(t, got["mpegts"].Local)
		require.False(t, got["hls"].Local)
		require.Equal(t, CDNBase+libs["hls"].path(), got["hls"].URL)
	})
	t.Run("embedded build", func(t *testing.T) {
		// Whatever scripts/web.sh left in vendor/: every library loads from
		// one of the two places, never from nowhere.
		got := pageLibs(t, Handler())
		require.Len(t, got, len(libs))
		for name, l := range got {
			require.Regexp(t, `^(vendor/|`+regexp.QuoteMeta(CDNBase)+`)`, l.URL, name)
		}
	})
}

// TestThumbnailConfig checks what the page is told about thumbnails:
// whether to show them and how often to fetch them again.
func TestThumbnailConfig(t *testing.T) {
	cases := []struct {
		name     string
		opts     []Option
		enabled  bool
		interval float64
	}{
		{name: "default", enabled: true, interval: 5},
		{name: "disabled", opts: []Option{WithThumbnails(false, 10*time.Second)}, enabled: false, interval: 10},
		{name: "interval", opts: []Option{WithThumbnails(true, 2500*time.Millisecond)}, enabled: true, interval: 2.5},
		{name: "zero interval", opts: []Option{WithThumbnails(true, 0)}, enabled: true, interval: 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := pageConfigOf(t, newHandler(fstest.MapFS{}, tc.opts...))
			require.Equal(t, tc.enabled, cfg.Thumbnails)
			require.InDelta(t, tc.interval, cfg.ThumbnailInterval, 1e-9)
		})
	}
}

func TestPinnedLibs(t *testing.T) {
	libs, err := pinnedLibs()
	require.NoError(t, err)
	for name, l := range libs {
		require.True(t, exactVersion(l.Version), "%s: %q", name, l.Version)
		require.Regexp(t, `^sha384-[A-Za-z0-9+/]{64}$`, l.Integrity, name)
	}
}

func TestExactVersion(t *testing.T) {
	cases := []struct {
		v  string
		ok bool
	}{
		{"1.8.2", true}, {"10.0.12", true},
		{"^1.8.2", false}, {"~1.8.2", false}, {"1.8", false}, {"1.8.x", false}, {"", false},
		{"1.8.2-beta.1", false}, {"latest", false}, {"1..2", false},
	}
	for _, tc := range cases {
		t.Run(tc.v, func(t *testing.T) {
			require.Equal(t, tc.ok, exactVersion(tc.v))
		})
	}
}
