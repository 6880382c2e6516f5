// Package web serves Ripple's player page: index.html, app.js and style.css
// embedded in the binary, with no build step. The page derives every play URL
// from its own location; only the RTMP port, which the browser cannot know,
// is filled in by the server.
package web

import (
	"bytes"
	"embed"
	"net/http"
	"strconv"
	"time"
)

//go:embed index.html app.js style.css
var files embed.FS

// DefaultRTMPPort is the port the page shows when none is given.
const DefaultRTMPPort = 1935

const portMeta = `<meta name="ripple-rtmp-port" content=`

type options struct {
	rtmpPort int
}

// Option configures Handler.
type Option func(*options)

// WithRTMPPort sets the RTMP port shown in the page's rtmp:// URLs.
func WithRTMPPort(port int) Option {
	return func(o *options) { o.rtmpPort = port }
}

// Handler serves the page at "/" (and "/index.html") and its assets; any
// other path is 404. The page is rendered once, here.
func Handler(opts ...Option) http.Handler {
	o := options{rtmpPort: DefaultRTMPPort}
	for _, opt := range opts {
		opt(&o)
	}
	// The page ships with the default port so it also works opened as a
	// file; the server only rewrites that one attribute (TestHandler checks
	// the marker is present).
	page, _ := files.ReadFile("index.html") // embedded: cannot fail
	page = bytes.Replace(page, []byte(portMeta+`"1935"`), []byte(portMeta+`"`+strconv.Itoa(o.rtmpPort)+`"`), 1)
	return &handler{page: page, assets: http.FileServerFS(files)}
}

type handler struct {
	page   []byte
	assets http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/", "/index.html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(h.page))
	case "/app.js", "/style.css":
		w.Header().Set("Cache-Control", "no-cache")
		h.assets.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}
