// Package web serves Ripple's web page: the live streams with their viewers,
// thumbnails and record buttons, and the recordings (from the HTTP API and
// its events), a player for HTTP-FLV, WebSocket-FLV, HLS and recorded files,
// and the play URLs. index.html, app.js and style.css are embedded as they
// are, with no build step.
//
// The player libraries (mpegts.js, hls.js) are pinned in package.json and
// never committed. scripts/web.sh installs them with npm and copies the files
// named in libs.json under vendor/, which this package embeds when present.
// The handler decides once, when it is built, where each library loads from:
// the embedded copy (served at vendor/PACKAGE@VERSION/FILE) or, when that
// file is missing, the CDN at the same path and version, with the
// Subresource Integrity hash from libs.json.
package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
)

//go:embed index.html app.js style.css package.json libs.json vendor
var files embed.FS

// DefaultRTMPPort is the port the page shows when none is given.
const DefaultRTMPPort = 1935

// CDNBase is where the libraries load from without a local build: jsDelivr
// serves npm packages at CDNBase + "PACKAGE@VERSION/FILE", byte for byte as
// published, so the integrity hashes in libs.json hold for both sources.
const CDNBase = "https://cdn.jsdelivr.net/npm/"

// configMarker is the empty config in index.html that the handler fills in.
const configMarker = `<script id="ripple-config" type="application/json">{}</script>`

// portMeta carries the RTMP port, which the browser cannot know.
const portMeta = `<meta name="ripple-rtmp-port" content=`

// DefaultThumbnailInterval is how often the page refreshes a stream's
// thumbnail when WithThumbnails does not say.
const DefaultThumbnailInterval = 5 * time.Second

type options struct {
	rtmpPort          int
	rtmpsPort         int // 0: no RTMPS listener
	thumbnails        bool
	thumbnailInterval time.Duration
}

// Option configures Handler.
type Option func(*options)

// WithRTMPPort sets the RTMP port shown in the page's rtmp:// URLs.
func WithRTMPPort(port int) Option {
	return func(o *options) { o.rtmpPort = port }
}

// WithRTMPS says the server has an RTMPS listener on port: the page then
// shows rtmps://host:port/app/stream beside the RTMP URL and in the OBS hint.
// port 0 (the default) shows none.
func WithRTMPS(port int) Option {
	return func(o *options) { o.rtmpsPort = port }
}

// WithThumbnails says whether the server answers GET /{app}/{stream}.jpg
// and how often the page fetches each live stream's thumbnail again
// (DefaultThumbnailInterval when interval is not positive). Without this
// option the page shows thumbnails every DefaultThumbnailInterval.
func WithThumbnails(enabled bool, interval time.Duration) Option {
	return func(o *options) {
		o.thumbnails = enabled
		o.thumbnailInterval = interval
	}
}

// pageConfig is the JSON app.js reads from the #ripple-config element.
type pageConfig struct {
	Libs map[string]libLoad `json:"libs"`
	// Thumbnails is false when the server has no thumbnails: the page then
	// shows none and never asks for one.
	Thumbnails bool `json:"thumbnails"`
	// ThumbnailInterval is the refresh period of a thumbnail, in seconds.
	ThumbnailInterval float64 `json:"thumbnail_interval_seconds"`
	// RTMPSPort is the RTMPS listener's port; absent when there is none.
	RTMPSPort int `json:"rtmps_port,omitempty"`
}

type libLoad struct {
	URL       string `json:"url"`
	Integrity string `json:"integrity,omitempty"` // CDN loads only
	Local     bool   `json:"local"`
}

// Handler serves the page at "/" (and "/index.html"), its assets and the
// embedded libraries under "/vendor/"; any other path is 404. The page is
// rendered once, here.
func Handler(opts ...Option) http.Handler {
	vendor, _ := fs.Sub(files, "vendor") // a valid directory name: cannot fail
	return newHandler(vendor, opts...)
}

func newHandler(vendor fs.FS, opts ...Option) *handler {
	o := options{rtmpPort: DefaultRTMPPort, thumbnails: true, thumbnailInterval: DefaultThumbnailInterval}
	for _, opt := range opts {
		opt(&o)
	}
	if o.thumbnailInterval <= 0 {
		o.thumbnailInterval = DefaultThumbnailInterval
	}
	cfg := pageConfig{Libs: map[string]libLoad{}, Thumbnails: o.thumbnails, ThumbnailInterval: o.thumbnailInterval.Seconds(),
		RTMPSPort: o.rtmpsPort}
	h := &handler{vendor: http.FileServerFS(vendor)}
	if libs, err := pinnedLibs(); err == nil {
		for name, l := range libs {
			rel := l.path()
			if _, err := fs.Stat(vendor, rel); err == nil {
				cfg.Libs[name] = libLoad{URL: "vendor/" + rel, Local: true}
				h.local = append(h.local, "/vendor/"+rel)
			} else {
				cfg.Libs[name] = libLoad{URL: CDNBase + rel, Integrity: l.Integrity}
			}
		}
	} else {
		// Only a broken libs.json/package.json gets here (TestPinnedLibs
		// guards it): the page still lists streams, and says the player
		// library is not configured.
		cfg.Libs = nil
	}
	js, _ := json.Marshal(cfg) // plain structs: cannot fail; escapes "<" for the script element
	page, _ := files.ReadFile("index.html")
	page = bytes.Replace(page, []byte(configMarker),
		[]byte(strings.Replace(configMarker, "{}", string(js), 1)), 1)
	h.page = bytes.Replace(page, []byte(portMeta+`"1935"`), []byte(portMeta+`"`+strconv.Itoa(o.rtmpPort)+`"`), 1)
	return h
}

type handler struct {
	page   []byte
	vendor http.Handler
	local  []string // URL paths of the embedded libraries
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch p := r.URL.Path; {
	case p == "/" || p == "/index.html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(h.page))
	case p == "/app.js" || p == "/style.css":
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, files, p[1:])
	case h.isLocal(p):
		// The path carries the package version: the bytes never change.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		http.StripPrefix("/vendor", h.vendor).ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (h *handler) isLocal(p string) bool {
	for _, l := range h.local {
		if p == l {
			return true
		}
	}
	return false
}

// pinnedLib is one entry of libs.json.
type pinnedLib struct {
	Package   string `json:"package"`
	File      string `json:"file"`
	Integrity string `json:"integrity"`
	Version   string `json:"-"` // from package.json
}

// path is PACKAGE@VERSION/FILE, the same under vendor/ and on the CDN.
func (l pinnedLib) path() string { return l.Package + "@" + l.Version + "/" + l.File }

// pinnedLibs reads libs.json and takes each package's version from
// package.json, which must pin it exactly (a range would let the local build
// and the CDN drift apart).
func pinnedLibs() (map[string]pinnedLib, error) {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	var libs map[string]pinnedLib
	for name, v := range map[string]any{"package.json": &pkg, "libs.json": &libs} {
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return nil, fmt.Errorf("web: %s: %w", name, err)
		}
	}
	for name, l := range libs {
		v := pkg.Dependencies[l.Package]
		if !exactVersion(v) {
			return nil, fmt.Errorf("web: package.json: %s version %q is not an exact x.y.z version", l.Package, v)
		}
		if l.File == "" || !strings.HasPrefix(l.Integrity, "sha384-") {
			return nil, fmt.Errorf("web: libs.json: %s needs a file and a sha384 integrity", name)
		}
		l.Version = v
		libs[name] = l
	}
	return libs, nil
}

func exactVersion(v string) bool {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}
