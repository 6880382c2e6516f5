package server

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/netx"
	"github.com/ripplemedia/ripple/pkg/metrics"
)

// limitsPart holds the per-request limits of the HTTP listener.
type limitsPart struct {
	log        *slog.Logger
	refusedLog netx.LogLimiter // "request refused", once a second at most
	wrongProto netx.LogLimiter // TLS on the plain HTTP port, once a second at most
}

// Listener names, as the connection and refusal metrics, the API's
// connection counts and the HTTP panic component spell them.
const (
	listenerRTMP = access.ProtoRTMP
	listenerHTTP = "http"
)

// limitHTTP caps the HTTP listener's connections (http.max_connections,
// http.max_connections_per_ip; trusted proxies are exempt from the
// per-address cap, they carry many clients each). The wrapper keeps TCP
// connections writev-capable for the FLV players that take them over.
func (s *Server) limitHTTP(cfg config.Config, ln net.Listener) net.Listener {
	s.limits.log = s.log.With("proto", listenerHTTP)
	s.httpLim = netx.ConnLimiter{
		Max:   cfg.HTTP.MaxConnections,
		PerIP: cfg.HTTP.MaxConnectionsPerIP,
		Exempt: func(a netip.Addr) bool {
			t := s.auth.trusted.Load()
			return t != nil && t.Contains(a)
		},
	}
	if ln == nil { // http.listen "": HTTPS only (wrapTLS shares the caps)
		return nil
	}
	l := netx.NewLimitListener(ln, &s.httpLim, s.limits.log)
	l.FirstByte = s.limits.plainHTTPFirstByte
	return l
}

// tlsRecordHandshake is the first byte of a TLS ClientHello (the record
// type, RFC 8446 §5.1); no HTTP request starts with it.
const tlsRecordHandshake = 0x16

// plainHTTPFirstByte refuses a TLS handshake on the plain HTTP port with one
// log line (a second at most) that says where TLS is served, instead of
// net/http's silent 400.
func (l *limitsPart) plainHTTPFirstByte(b byte, remote net.Addr) bool {
	if b != tlsRecordHandshake {
		return true
	}
	if n, ok := l.wrongProto.Allow(); ok {
		l.log.Info("TLS handshake on the plain HTTP port: closed (HTTPS is http.tls.listen)",
			"remote", remote.String(), "suppressed", n)
	}
	return false
}

// maxBody bounds a request body (the API reads small JSON documents at
// most).
const maxBody = 1 << 20

// errBodyNotAllowed refuses a GET, HEAD or OPTIONS request that declares a
// body: none of Ripple's endpoints reads one (RFC 9110 §9.3.1 gives it no
// meaning), and the streaming ones (FLV players, the event stream, blocking
// HLS reloads) lift the request read timeout, so a body that never comes
// must not be waited for.
var errBodyNotAllowed = errors.New("a request body is not allowed with this method")

// requests applies the limits every HTTP request shares, before any handler
// runs: a query over access.MaxQuery gets 414 (auth caches, hook sessions
// and relays never see one), a body on GET/HEAD/OPTIONS 400, and other
// bodies are capped at maxBody. Reading headers and body is bounded by
// http.read_timeout (http.Server.ReadTimeout).
func (l *limitsPart) requests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := access.CheckQuery(r.URL.RawQuery); err != nil {
			l.refuse(w, r, http.StatusRequestURITooLong, err)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
				l.refuse(w, r, http.StatusBadRequest, errBodyNotAllowed)
				return
			}
		default:
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		next.ServeHTTP(w, r)
	})
}

// refuse answers a request the limits refuse, logged at most once a second,
// and closes the connection.
func (l *limitsPart) refuse(w http.ResponseWriter, r *http.Request, status int, err error) {
	if n, ok := l.refusedLog.Allow(); ok {
		l.log.Info("request refused", "remote", r.RemoteAddr, "path", r.URL.Path, "status", status,
			"err", err, "suppressed", n)
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Connection", "close")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(err.Error() + "\n")) // the client may be gone
}

// guardHTTP runs every HTTP handler behind the panic guard (component
// "http"): net/http would recover a handler's panic itself, but neither count
// it nor log it like every other component. The request's connection is
// then aborted (http.ErrAbortHandler: net/http closes it without logging a
// second stack). Hijacked players run in goroutines of their own, guarded
// by httpflv.
func (s *Server) guardHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := s.panics.Run(listenerHTTP, func() error {
			next.ServeHTTP(w, r)
			return nil
		})
		if guard.Log(s.limits.log, err, "path", r.URL.Path, "remote", r.RemoteAddr) {
			panic(http.ErrAbortHandler)
		}
	})
}

// refused reports the connections the caps refused, for metrics.
func (s *Server) refused() []metrics.Refusal {
	var out []metrics.Refusal
	add := func(proto string, total, perIP uint64) {
		out = append(out,
			metrics.Refusal{Protocol: proto, Reason: "max_connections", Count: total},
			metrics.Refusal{Protocol: proto, Reason: "max_connections_per_ip", Count: perIP})
	}
	t, p := s.httpLim.Refused()
	add(listenerHTTP, t, p)
	t, p = s.rtmp.Refused()
	add(listenerRTMP, t, p)
	return out
}

// panicCounts reports the recovered panics, for metrics.
func (s *Server) panicCounts() []metrics.Count {
	cs := s.panics.Counts()
	out := make([]metrics.Count, len(cs))
	for i, c := range cs {
		out[i] = metrics.Count{Name: c.Component, Value: c.Panics}
	}
	return out
}
