package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
)

// pprofPart serves Go's profiler on debug.pprof_listen, its own listener so
// the profiler is never reachable through the public HTTP port.
type pprofPart struct {
	ln  net.Listener
	srv *http.Server
}

// listenPprof binds debug.pprof_listen; a zero pprofPart when it is empty.
func listenPprof(addr string) (pprofPart, error) {
	if addr == "" {
		return pprofPart{}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return pprofPart{}, fmt.Errorf("server: debug.pprof_listen %q: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return pprofPart{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout}}, nil
}

// serve runs until close; nil when pprof is off.
func (p pprofPart) serve() error {
	if p.srv == nil {
		return nil
	}
	if err := p.srv.Serve(p.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: pprof on %s: %w", p.ln.Addr(), err)
	}
	return nil
}

// Close stops the profiler at once: a running CPU profile is cut short.
// The listener is closed too, in case Serve never ran.
func (p pprofPart) Close() error {
	if p.srv != nil {
		_ = p.srv.Close() // nothing to report: diagnostics only
	}
	if p.ln != nil {
		_ = p.ln.Close() // already closed once served
	}
	return nil
}

// addr is the bound address, nil when pprof is off.
func (p pprofPart) addr() net.Addr {
	if p.ln == nil {
		return nil
	}
	return p.ln.Addr()
}
