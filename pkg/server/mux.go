package server

import (
	"net/http"
	"strings"

	"github.com/ripplemedia/ripple/web"
)

// newMux routes the HTTP listener:
//
//	/healthz        200 "ok" (liveness)
//	/{path...}.flv  HTTP-FLV and WebSocket-FLV (httpflv parses app/stream)
//	/               the player page and its assets
//
// Go 1.22 patterns cannot match a suffix, so "/" dispatches on it.
func newMux(flv http.Handler, rtmpPort int) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n")) // a failed write means the client left: nothing to do
	})
	mux.Handle("/", suffixRouter{flv: flv, page: web.Handler(web.WithRTMPPort(rtmpPort))})
	return mux
}

type suffixRouter struct {
	flv, page http.Handler
}

func (rt suffixRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, ".flv") {
		rt.flv.ServeHTTP(w, r)
		return
	}
	rt.page.ServeHTTP(w, r)
}
