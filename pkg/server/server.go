// Package server is Ripple's composition root. It is the only package that
// knows the config file schema: it translates config.Config into each
// package's own Config, binds the RTMP and HTTP listeners, serves until the
// context ends and then shuts everything down in order (docs/architecture.md §6).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ripplemedia/ripple/pkg/cluster"
	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/httpflv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/ingest"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/netx"
	"github.com/ripplemedia/ripple/pkg/record"
	"github.com/ripplemedia/ripple/pkg/rtmp"
	"github.com/ripplemedia/ripple/pkg/thumb"
	"github.com/ripplemedia/ripple/pkg/transcode"
)

// HTTP server limits. There is deliberately no WriteTimeout: it would cut
// every FLV stream after that long. Players, the event stream and HLS get
// per-write deadlines instead (http.write_timeout). Reading a request is
// bounded by http.read_timeout (headers and body; headers alone by
// readHeaderTimeout); handlers that keep a response open (FLV players, the
// event stream, blocking HLS reloads) lift or extend it themselves.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	// maxHeaderBytes bounds the request line and headers (net/http's
	// default is 1 MiB per connection): queries are at most
	// access.MaxQuery, and nothing Ripple serves needs big headers.
	maxHeaderBytes = 64 << 10
)

// ErrShutdownTimeout is the cause when the HTTP connections did not finish
// within shutdown_timeout; Run then closes them and returns it wrapped.
var ErrShutdownTimeout = errors.New("server: shutdown timed out")

// Server runs the hub, the RTMP server and the HTTP server.
type Server struct {
	cfg config.Config
	log *slog.Logger

	rtmpLn net.Listener
	httpLn net.Listener

	hub  *hub.Hub
	rtmp *rtmp.Server
	flv  *httpflv.Handler
	hls  hlsPart // HLS egress (hls.go)
	// thumbs serves /{app}/{stream}.jpg; nil when thumbnail.enabled is
	// false (media.go).
	thumbs *thumb.Thumbnailer
	rec    *record.Manager // recordings (record.go)
	http   *http.Server

	// panics recovers and counts panics of every component that handles
	// client data (ripple_panics_total).
	panics guard.Recorder
	// httpLim caps HTTP connections in total and per client address
	// (limits.go).
	httpLim netx.ConnLimiter
	limits  limitsPart

	running atomic.Bool
	lc      lifecycle // the parts, in start order (lifecycle.go)
	reload  reloader  // SIGHUP (reload.go)
	ops     ops       // API, readiness (api.go)
	auth    authPart  // auth, hooks, PROXY protocol, X-Forwarded-For (auth.go)
	relay   relayPart // forwards and edge apps (relay.go)
	// cluster is this node's membership in the origin cluster; nil when
	// cluster.redis_url is empty (cluster.go).
	cluster *cluster.Node
	// transcoder runs the rendition ladders; nil when no app has one
	// (transcode.go).
	transcoder *transcode.Manager
	pprof      pprofPart // debug.pprof_listen (pprof.go)
	tls        tlsPart   // RTMPS and HTTPS listeners, certificates (tls.go)
}

// New validates cfg, binds both listeners (port 0 picks a free port; see
// RTMPAddr and HTTPAddr) and builds the components, registering each (add)
// as it is built. log nil discards. On error nothing is left open. Run must
// follow: it owns the listeners.
func New(cfg config.Config, log *slog.Logger) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			s.closeAll() // the one cleanup: whatever was bound or built
		}
	}()
	if cfg.RTMP.Listen != "" { // "" serves RTMPS only
		if s.rtmpLn, err = net.Listen("tcp", cfg.RTMP.Listen); err != nil {
			return nil, fmt.Errorf("server: rtmp.listen %q: %w", cfg.RTMP.Listen, err)
		}
	}
	if cfg.HTTP.Listen != "" { // "" serves HTTPS only
		if s.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
			return nil, fmt.Errorf("server: http.listen %q: %w", cfg.HTTP.Listen, err)
		}
	}
	if err := s.listenTLS(cfg); err != nil { // tls.go
		return nil, err
	}
	if s.pprof, err = listenPprof(cfg.Debug.PprofListen); err != nil {
		return nil, err
	}
	if s.pprof.ln != nil {
		s.add(part{name: "pprof", stage: stageListen, c: s.pprof, serve: s.pprof.serve})
	}
	rtmpPort := portOf(s.RTMPAddr())
	s.initReload(cfg)
	hc := hubConfig(cfg, log)
	hc.Validator = func() hub.PacketValidator { return ingest.New() } // media validated once, at the door
	hc.Policy = s.reload.publishPolicy                                // reloadable: reload.go
	s.hub = hub.New(hc)
	s.add(part{name: "hub", stage: stageHub, c: closeFunc(s.hub.Close)})
	if err := s.initAuth(cfg); err != nil {
		return nil, fmt.Errorf("server: auth: %w", err)
	}
	s.httpLn = s.limitHTTP(cfg, s.httpLn)
	if s.rtmpLn != nil {
		s.rtmpLn = proxyListener(cfg, log, s.rtmpLn, &s.panics)
	}
	s.wrapTLS(cfg)
	if err := s.initCluster(cfg); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if err := s.initRelay(cfg); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.wireCluster()
	if err := s.initTranscode(cfg); err != nil {
		return nil, err
	}
	rc := rtmpConfig(cfg, log)
	rc.Authorize = s.admit // auth, then the cluster claim of a publish
	rc.Panics = &s.panics
	s.rtmp = rtmp.NewServer(rc, s.hub)
	var serveRTMP func() error
	if s.rtmpLn != nil {
		serveRTMP = func() error {
			if err := s.rtmp.Serve(s.rtmpLn); err != nil && !errors.Is(err, rtmp.ErrServerClosed) {
				return fmt.Errorf("server: rtmp on %s: %w", s.RTMPAddr(), err)
			}
			return nil
		}
	}
	s.add(part{name: "rtmp", stage: stageListen, c: s.rtmp, serve: serveRTMP})
	s.flv = httpflv.NewHandler(httpflv.Config{
		Logger:       log,
		AllowOrigin:  cfg.HTTP.AllowOrigin,
		WriteTimeout: cfg.HTTP.WriteTimeout,
		Authorize:    s.auth.admit,
		Panics:       &s.panics,
	}, s.hub)
	s.add(part{name: "http-flv", stage: stageListen, c: s.flv})
	s.hls = newHLS(cfg, log, s)
	s.thumbs = s.newThumbnails(cfg)
	if s.rec, err = s.newRecorder(cfg); err != nil {
		return nil, err
	}
	mux := newMux(s.flv, s.thumbs, rtmpPort, portOf(s.RTMPSAddr()), cfg.Thumbnail.Interval, cfg.HTTP.WriteTimeout)
	s.mountOps(mux)
	s.http = &http.Server{
		Handler:           s.guardHTTP(s.auth.realIP(s.limits.requests(s.serveRecordings(s.hls.wrap(mux))))),
		ConnState:         s.connState,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          httpErrorLog(log.With("proto", listenerHTTP)), // tls.go
	}
	var serveHTTP func() error
	if s.httpLn != nil {
		serveHTTP = func() error {
			if err := s.http.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("server: http on %s: %w", s.HTTPAddr(), err)
			}
			return nil
		}
	}
	s.add(part{name: "http", stage: stageListen, c: s.http, serve: serveHTTP})
	s.serveTLS() // tls.go
	return s, nil
}

// hubConfig maps the hub.* keys and the per-app publish policies.
func hubConfig(cfg config.Config, log *slog.Logger) hub.Config {
	return hub.Config{
		Logger:          log,
		QueueSize:       cfg.Hub.QueueSize,
		QueueMaxBytes:   int(cfg.Hub.QueueMaxBytes),
		MaxOverflows:    cfg.Hub.SlowReaderMaxOverflows,
		OverflowWindow:  cfg.Hub.SlowReaderWindow,
		DisableGOPCache: !cfg.Hub.GOPCache,
		GOPMaxPackets:   cfg.Hub.GOPCacheMaxPackets,
		GOPMaxBytes:     int(cfg.Hub.GOPCacheMaxBytes),
		GOPMaxDuration:  cfg.Hub.GOPCacheMaxDuration,
		MergeWindow:     cfg.Hub.MergeWindow,
		ReconnectGrace:  cfg.Hub.ReconnectGrace,
		MaxStreams:      cfg.Hub.MaxStreams,
		Policy:          policyFunc(cfg),
	}
}

// policyFunc resolves every app's policy once (newPolicyTable). The
// server replaces it with the reloadable table of the same rules.
func policyFunc(cfg config.Config) func(dir string) hub.PublishPolicy {
	return newPolicyTable(cfg).lookup
}

// toPolicy maps a validated policy.
func toPolicy(p config.PublishPolicy) hub.PublishPolicy {
	if p == config.PolicyTakeover {
		return hub.PolicyTakeover
	}
	return hub.PolicyReject
}

func rtmpConfig(cfg config.Config, log *slog.Logger) rtmp.ServerConfig {
	return rtmp.ServerConfig{
		Logger:              log,
		ChunkSize:           int(cfg.RTMP.ChunkSize),
		HandshakeTimeout:    cfg.RTMP.HandshakeTimeout,
		ReadTimeout:         cfg.RTMP.ReadTimeout,
		WriteTimeout:        cfg.RTMP.WriteTimeout,
		MaxMessageSize:      int(cfg.RTMP.MaxMessageSize),
		MaxConnections:      cfg.RTMP.MaxConnections,
		MaxConnectionsPerIP: cfg.RTMP.MaxConnectionsPerIP,
		ConnectTimeout:      cfg.RTMP.ConnectTimeout,
		PlayWait:            cfg.RTMP.PlayWait,
		AckWindow:           uint32(cfg.RTMP.AckWindow), // Validate bounds it to uint32
	}
}

func portOf(a net.Addr) int {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.Port
	}
	return 0
}

// RTMPAddr is the bound RTMP address; nil when rtmp.listen is empty
// (RTMPS only).
func (s *Server) RTMPAddr() net.Addr { return addrOf(s.rtmpLn) }

// HTTPAddr is the bound HTTP address; nil when http.listen is empty
// (HTTPS only).
func (s *Server) HTTPAddr() net.Addr { return addrOf(s.httpLn) }

func addrOf(ln net.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}

// Run starts the parts, serves RTMP and HTTP until ctx ends or a server
// fails, then shuts down: the listeners stop, RTMP sessions end, hub
// streams end (HTTP players drain their queues and see the end of stream),
// and open HTTP connections get shutdown_timeout to finish. It returns nil
// after a clean shutdown, the serve error if a server failed, or an error
// wrapping ErrShutdownTimeout. Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("server: Run called twice")
	}
	s.start()
	g, gctx := errgroup.WithContext(ctx)
	s.ops.serving.Store(true) // the listeners are bound; Serve starts below
	if a := s.pprof.addr(); a != nil {
		s.log.Info("pprof listening", "addr", a.String())
	}
	// Logged before serving (the listeners are bound and queue clients), so
	// whoever reaches the server has seen them.
	started := []any{"rtmp", addrString(s.RTMPAddr()), "http", addrString(s.HTTPAddr())}
	if a := s.RTMPSAddr(); a != nil {
		started = append(started, "rtmps", a.String())
	}
	if a := s.HTTPSAddr(); a != nil {
		started = append(started, "https", a.String())
	}
	s.log.Info("ripple started", started...)
	urls := newStartURLs(s.RTMPAddr(), s.HTTPAddr(), s.hls.m != nil)
	urls.addTLS(s.RTMPSAddr(), s.HTTPSAddr(), s.hls.m != nil)
	s.log.Info("publish to", urls.publishAttrs()...)
	s.log.Info("watch at", urls.watchAttrs()...)
	for _, p := range s.registered() {
		if p.serve != nil {
			g.Go(p.serve)
		}
	}
	g.Go(func() error {
		<-gctx.Done()
		return s.shutdown(ctx)
	})
	return g.Wait()
}
