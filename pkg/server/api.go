package server

import (
	"net"
	"net/http"
	"sync/atomic"

	"github.com/ripplemedia/ripple/pkg/api"
	"github.com/ripplemedia/ripple/pkg/metrics"
	"github.com/ripplemedia/ripple/pkg/relay"
)

// ops holds the operator endpoints' state: the API (with its sampler and
// event streams), readiness and the HTTP connection count.
type ops struct {
	api *api.API

	serving  atomic.Bool  // both listeners are being served
	draining atomic.Bool  // set by SetDraining (SIGTERM handling)
	httpConn atomic.Int64 // open HTTP connections not taken over by a player
}

// mountOps builds the API and routes /api/v1/, /readyz and /metrics (/healthz
// is in newMux). A non-loopback HTTP bind without api.token leaves the API
// to reads from this machine (api.Config.RequireToken) and says so once
// here.
func (s *Server) mountOps(mux *http.ServeMux) {
	// Open only when every HTTP listener (plain, TLS) is on loopback.
	loopback := true
	for _, a := range []net.Addr{s.HTTPAddr(), s.HTTPSAddr()} {
		if a != nil && !isLoopback(a) {
			loopback = false
		}
	}
	s.ops.api = api.New(api.Config{
		Logger:        s.log.With("proto", "api"),
		Token:         s.cfg.API.Token,
		RequireToken:  !loopback,
		StatsInterval: s.cfg.API.EventsStatsInterval,
		KeepAlive:     s.cfg.API.EventsKeepAlive,
		WriteTimeout:  s.cfg.HTTP.WriteTimeout,
		Connections:   s.connections,
		Relays:        s.apiRelays(),
		Recorder:      apiRecorder{s.rec},
		Forwarder:     apiForwarder{s.relay.m, s.hub},
		Redact:        relay.Redact,
		HLSViewers:    s.hls.viewers(),
		Cluster:       s.clusterStatus(),
		Transcode:     s.transcodeStatus(),
	}, s.hub)
	// Its event streams end with the listeners: http.Server.Shutdown would
	// wait for them.
	s.add(part{name: "api", stage: stageListen, c: s.ops.api})
	if !loopback && s.cfg.API.Token == "" {
		s.log.Warn("api answers only reads from this machine: api.token is not set", "http", addrString(s.HTTPAddr()),
			"hint", "set api.token to use the api from elsewhere or to kick")
	}
	mux.Handle(api.Prefix+"/", s.ops.api)
	mux.HandleFunc("GET /readyz", s.readyz)

	sampler := s.ops.api.Sampler()
	collector := metrics.NewCollector(metrics.Config{
		Rate: func(key string) (float64, float64, bool) {
			r, ok := sampler.Rate(key)
			return r.Bitrate, r.FPS, ok
		},
		Connections: s.connections,
		Relays:      s.metricsRelays(),
		Panics:      s.panicCounts,
		Refused:     s.refused,
		Recording: func() metrics.Recording {
			st := s.rec.Stats()
			return metrics.Recording{Active: st.Active, Bytes: st.Bytes, Errors: st.Errors}
		},
		Thumbnails: s.thumbStats,
		Players:    s.ops.api.Players, // HLS viewers, not the muxer's reader
		Cluster:    s.clusterMetrics(),
		Transcode:  s.transcodeMetrics(),
	}, s.hub)
	// Open unless api.metrics_token is set: scrapers rarely carry secrets,
	// and the metrics hold no viewer addresses.
	mux.Handle("GET /metrics", api.TokenHandler(s.cfg.API.MetricsToken, metrics.Handler(collector)))
}

// isLoopback reports whether a is a loopback address; the unspecified
// address (":8080") listens on every interface and is not.
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// connState counts the HTTP connections net/http still manages.
func (s *Server) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		s.ops.httpConn.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.ops.httpConn.Add(-1)
	}
}

func (s *Server) connections() map[string]int {
	return map[string]int{
		listenerRTMP: s.rtmp.Conns(),
		listenerHTTP: int(s.ops.httpConn.Load()),
	}
}

// SetDraining marks the server as draining (or not): /readyz then answers
// 503 so load balancers stop sending new viewers, while everything already
// connected keeps running. The SIGTERM path sets it before shutting down.
func (s *Server) SetDraining(draining bool) {
	if s.ops.draining.Swap(draining) != draining {
		s.log.Info("readiness changed", "draining", draining)
	}
}

// Ready reports whether the listeners are being served, the server is
// not draining and, in a cluster, the registry was reached (what /readyz
// answers).
func (s *Server) Ready() bool {
	return s.ops.serving.Load() && !s.ops.draining.Load() && (s.cluster == nil || s.cluster.Ready())
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case s.ops.draining.Load():
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("draining\n"))
	case !s.ops.serving.Load():
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not serving\n"))
	case s.cluster != nil && !s.cluster.Ready():
		// A node that never reached the registry cannot find the others'
		// streams: keep players away until it has.
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("cluster registry not reached yet\n"))
	default:
		_, _ = w.Write([]byte("ready\n")) // a failed write means the client left
	}
}
