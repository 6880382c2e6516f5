package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/ripplemedia/ripple/pkg/internal/netx"
	"github.com/ripplemedia/ripple/pkg/thumb"
	"github.com/ripplemedia/ripple/web"
)

// newMux routes the HTTP listener:
//
//	/healthz        200 "ok" (liveness)
//	/{path...}.flv  HTTP-FLV and WebSocket-FLV (httpflv parses app/stream)
//	/{path...}.jpg  the stream's thumbnail (404 when thumbnails are off)
//	/               the player page and its assets
//
// Go 1.22 patterns cannot match a suffix, so "/" dispatches on it.
func newMux(flv http.Handler, thumbs *thumb.Thumbnailer, rtmpPort, rtmpsPort int, thumbEvery, writeTimeout time.Duration) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n")) // a failed write means the client left: nothing to do
	})
	page := web.Handler(web.WithRTMPPort(rtmpPort), web.WithRTMPS(rtmpsPort), web.WithThumbnails(thumbs != nil, thumbEvery))
	rt := suffixRouter{flv: flv, jpg: http.NotFoundHandler(), page: page}
	if thumbs != nil {
		rt.jpg = netx.WriteDeadlines(thumbs, writeTimeout)
	}
	mux.Handle("/", rt)
	return mux
}

type suffixRouter struct {
	flv, jpg, page http.Handler
}

func (rt suffixRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, ".flv"):
		rt.flv.ServeHTTP(w, r)
	case strings.HasSuffix(r.URL.Path, ".jpg") && strings.Count(r.URL.Path, "/") >= 2:
		rt.jpg.ServeHTTP(w, r)
	default:
		rt.page.ServeHTTP(w, r)
	}
}
