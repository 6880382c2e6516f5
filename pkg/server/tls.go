package server

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"

	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/internal/netx"
	"github.com/ripplemedia/ripple/pkg/internal/tlsx"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// tlsPart holds the TLS listeners (RTMPS, HTTPS) and their certificates
// (docs/tls.md). A listener is nil when its rtmp.tls.listen or
// http.tls.listen is empty.
type tlsPart struct {
	rtmpsLn, httpsLn     net.Listener // the raw TCP listeners, then wrapped
	rtmpsAddr, httpsAddr net.Addr
	rtmpCert, httpCert   *tlsx.Cert
}

// httpALPN is the one application protocol HTTPS announces: HTTP/1.1 only.
// HTTP/2 would move HTTP-FLV off its hijacked writer and WebSocket-FLV onto
// RFC 8441, which it does not speak (docs/tls.md §3).
var httpALPN = []string{"http/1.1"}

// listenTLS binds the TLS listeners that are configured and loads their
// certificates: a file that cannot be loaded is a config error naming its
// key. The listeners are wrapped later (wrapTLS), once the caps exist.
func (s *Server) listenTLS(cfg config.Config) error {
	var err error
	if t := cfg.RTMP.TLS; t.Enabled() {
		if s.tls.rtmpCert, err = s.loadCert("rtmp.tls", t); err != nil {
			return err
		}
		if s.tls.rtmpsLn, err = net.Listen("tcp", t.Listen); err != nil {
			return fmt.Errorf("server: rtmp.tls.listen %q: %w", t.Listen, err)
		}
		s.tls.rtmpsAddr = s.tls.rtmpsLn.Addr()
	}
	if t := cfg.HTTP.TLS; t.Enabled() {
		if s.tls.httpCert, err = s.loadCert("http.tls", t); err != nil {
			return err
		}
		if s.tls.httpsLn, err = net.Listen("tcp", t.Listen); err != nil {
			return fmt.Errorf("server: http.tls.listen %q: %w", t.Listen, err)
		}
		s.tls.httpsAddr = s.tls.httpsLn.Addr()
	}
	// The files of a listener that is on can change while running; the
	// rest of rtmp.tls and http.tls needs a restart.
	var keys []string
	if s.tls.rtmpCert != nil {
		keys = append(keys, "rtmp.tls.cert_file", "rtmp.tls.key_file")
	}
	if s.tls.httpCert != nil {
		keys = append(keys, "http.tls.cert_file", "http.tls.key_file")
	}
	if keys != nil {
		s.onEveryReload("tls", keys, s.reloadCerts)
	}
	return nil
}

// loadCert loads one listener's pair and registers its watcher as a part
// (Start polls the files, Close stops it).
func (s *Server) loadCert(prefix string, t config.TLS) (*tlsx.Cert, error) {
	c, err := tlsx.New(tlsx.Config{
		CertFile: t.CertFile,
		KeyFile:  t.KeyFile,
		Logger:   s.log.With("tls", prefix),
	})
	if err != nil {
		return nil, certError(prefix, err)
	}
	s.add(part{name: prefix + " certificate", stage: stageAfterHub, c: c})
	return c, nil
}

// certError names the key of the file a load error blames.
func certError(prefix string, err error) error {
	key := prefix + ".cert_file"
	if le, ok := errors.AsType[*tlsx.LoadError](err); ok && le.File == tlsx.FileKey {
		key = prefix + ".key_file"
	}
	return fmt.Errorf("config: %s: %w", key, err)
}

// reloadCerts is the "tls" reload part. SIGHUP re-reads the certificate
// files even when no key changed (a renewal replaces the files in place),
// and a changed path loads the new file. All or nothing: if a pair fails,
// the listeners keep serving what they had (a listener turned on or off
// needs a restart).
func (s *Server) reloadCerts(cfg config.Config) error {
	for _, c := range []struct {
		prefix string
		cert   *tlsx.Cert
		t      config.TLS
	}{
		{"rtmp.tls", s.tls.rtmpCert, cfg.RTMP.TLS},
		{"http.tls", s.tls.httpCert, cfg.HTTP.TLS},
	} {
		if c.cert == nil || !c.t.Enabled() {
			continue
		}
		if err := c.cert.SetFiles(c.t.CertFile, c.t.KeyFile); err != nil {
			return certError(c.prefix, err)
		}
	}
	return nil
}

// wrapTLS puts the TLS listeners behind their wrappers, in the order the
// plain ones have: raw TCP → PROXY protocol (RTMPS, with
// rtmp.proxy_protocol) → the connection caps shared with the plain
// listener → TLS. RTMPS counts against the RTMP server's caps when it
// accepts (before the first TLS byte); HTTPS against s.httpLim. Called after
// limitHTTP.
func (s *Server) wrapTLS(cfg config.Config) {
	if s.tls.rtmpsLn != nil {
		ln := proxyListener(cfg, s.log, s.tls.rtmpsLn, &s.panics)
		s.tls.rtmpsLn = tls.NewListener(ln, s.tls.rtmpCert.ServerConfig())
	}
	if s.tls.httpsLn != nil {
		ln := netx.NewLimitListener(s.tls.httpsLn, &s.httpLim, s.limits.log)
		s.tls.httpsLn = tls.NewListener(ln, s.tls.httpCert.ServerConfig(httpALPN...))
	}
}

// serveTLS registers the parts serving the TLS listeners: the RTMP server
// and the HTTP server, each on a second listener.
func (s *Server) serveTLS() {
	if s.tls.rtmpsLn != nil {
		s.add(part{name: "rtmps", stage: stageListen, c: closeFunc(func() {}), serve: func() error {
			if err := s.rtmp.Serve(s.tls.rtmpsLn); err != nil && !errors.Is(err, rtmp.ErrServerClosed) {
				return fmt.Errorf("server: rtmps on %s: %w", s.tls.rtmpsAddr, err)
			}
			return nil
		}})
	}
	if s.tls.httpsLn != nil {
		s.add(part{name: "https", stage: stageListen, c: closeFunc(func() {}), serve: func() error {
			if err := s.http.Serve(s.tls.httpsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("server: https on %s: %w", s.tls.httpsAddr, err)
			}
			return nil
		}})
	}
}

// RTMPSAddr is the bound RTMPS address; nil when rtmp.tls.listen is empty.
func (s *Server) RTMPSAddr() net.Addr { return s.tls.rtmpsAddr }

// HTTPSAddr is the bound HTTPS address; nil when http.tls.listen is empty.
func (s *Server) HTTPSAddr() net.Addr { return s.tls.httpsAddr }

// httpErrorLog is the HTTP server's ErrorLog: net/http's own lines at Warn,
// except "TLS handshake error" (a plain request on the HTTPS port, a
// scanner, a client that distrusts the certificate), which anyone can cause
// once per connection: at most one a second.
func httpErrorLog(log *slog.Logger) *log.Logger {
	return newFilteredLog(log, slog.LevelWarn)
}

type handshakeLogWriter struct {
	next  *log.Logger
	log   *slog.Logger
	limit netx.LogLimiter
}

func newFilteredLog(l *slog.Logger, level slog.Level) *log.Logger {
	w := &handshakeLogWriter{next: slog.NewLogLogger(l.Handler(), level), log: l}
	return log.New(w, "", 0)
}

var tlsHandshakeLine = []byte("http: TLS handshake error from ")

func (w *handshakeLogWriter) Write(p []byte) (int, error) {
	if rest, ok := bytes.CutPrefix(p, tlsHandshakeLine); ok {
		if n, ok := w.limit.Allow(); ok {
			remote, reason, _ := bytes.Cut(bytes.TrimSpace(rest), []byte(": "))
			w.log.Warn("tls handshake failed", "remote", string(remote), "err", string(reason), "suppressed", n)
		}
		return len(p), nil
	}
	w.next.Print(string(p))
	return len(p), nil
}

// addrString is a.String(), or "" for a listener that is off.
func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
