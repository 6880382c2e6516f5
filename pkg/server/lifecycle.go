package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ripplemedia/ripple/pkg/api"
	"github.com/ripplemedia/ripple/pkg/cluster"
	"github.com/ripplemedia/ripple/pkg/hls"
	"github.com/ripplemedia/ripple/pkg/httpflv"
	"github.com/ripplemedia/ripple/pkg/record"
	"github.com/ripplemedia/ripple/pkg/relay"
	"github.com/ripplemedia/ripple/pkg/rtmp"
	"github.com/ripplemedia/ripple/pkg/thumb"
	"github.com/ripplemedia/ripple/pkg/transcode"
)

// Every long-lived part of the server (the hub, the RTMP server, the
// HTTP-FLV handler, HLS, the relays, the auth hook worker, the API, the
// HTTP servers) has the lifecycle of net/http's Server, with the same
// verbs meaning the same in every package:
//
//	New(cfg, deps...)   builds the part and checks its config; it does not
//	                    act yet (a worker that only serves the part's own
//	                    calls, like auth's hook queue, may already run, and
//	                    a listener wrapper accepts at once, like net.Listen)
//	Start()             begins acting on its own: hub watches, samplers
//	Serve(ln) error     accepts clients on ln until the part stops
//	Drain()             begins a graceful stop and returns at once: no new
//	                    clients or work, the open ones are asked to end
//	Shutdown(ctx) error stops gracefully and returns by the time ctx ends,
//	                    with ctx's cause if it was cut short
//	Close() error       ends everything at once and waits; idempotent
//
// A part has Close and whichever of the others it needs; the server finds
// them by interface, so a part with a verb of another signature would be
// missed: the guards below keep the packages' parts in line.
type (
	starter    interface{ Start() }
	drainer    interface{ Drain() }
	shutdowner interface {
		Shutdown(ctx context.Context) error
	}
)

var (
	_ interface {
		drainer
		shutdowner
		io.Closer
	} = (*rtmp.Server)(nil)
	_ interface {
		drainer
		shutdowner
		io.Closer
	} = (*httpflv.Handler)(nil)
	_ interface {
		shutdowner
		io.Closer
	} = (*http.Server)(nil)
	_ interface {
		starter
		shutdowner
		io.Closer
	} = (*relay.Manager)(nil)
	_ interface {
		starter
		shutdowner
		io.Closer
	} = (*authPart)(nil)
	_ interface {
		starter
		io.Closer
	} = (*hls.Manager)(nil)
	_ interface {
		starter
		io.Closer
	} = (*api.API)(nil)
	_ interface {
		starter
		shutdowner
		io.Closer
	} = (*record.Manager)(nil)
	_ io.Closer = (*thumb.Thumbnailer)(nil)
	_ interface {
		starter
		io.Closer
	} = (*transcode.Manager)(nil)
	_ interface {
		starter
		io.Closer
	} = (*cluster.Node)(nil)
)

// stage is where a part stops in the drain (see shutdown). The stages run
// in this order, and the parts of a stage in reverse registration order.
// After stageListen, each part stops with Shutdown(ctx) if it has one,
// else Close, one after the other.
type stage uint8

const (
	// stageListen: the parts that take clients (the HTTP and RTMP servers,
	// the HTTP-FLV handler, the API's event streams, pprof) stop taking
	// them and ask the open ones to end (Drain), then wait for them
	// (Shutdown) in the background while the later stages run. A part with
	// neither is closed.
	stageListen stage = iota
	// stageBeforeHub: sources that would otherwise republish or reconnect
	// into a closing hub (relay pulls and pushes) stop.
	stageBeforeHub
	// stageHub: the hub closes, ending every publisher and reader.
	stageHub
	// stageAfterHub: parts that finish what the hub's close produced stop:
	// HLS muxers their last segment, the hook queue its notifications.
	stageAfterHub
)

// part is one registered long-lived component.
type part struct {
	name  string
	stage stage
	// c is the part itself: Close, and any of Start, Drain and Shutdown.
	c io.Closer
	// serve, if set, accepts clients until the part stops; Run runs it.
	serve func() error
}

// lifecycle is the Server's registry of parts.
type lifecycle struct {
	mu    sync.Mutex
	parts []part
}

// add registers a part once, as soon as it is built, so in dependency order:
// a part only uses parts registered before it. Run starts the parts in this
// order; the drain stops them stage by stage in reverse; closeAll closes
// them all in reverse. Call it from New (before Run).
func (s *Server) add(p part) {
	s.lc.mu.Lock()
	defer s.lc.mu.Unlock()
	s.lc.parts = append(s.lc.parts, p)
}

func (s *Server) registered() []part {
	s.lc.mu.Lock()
	defer s.lc.mu.Unlock()
	return slices.Clone(s.lc.parts)
}

// start starts every part that has Start, in registration order.
func (s *Server) start() {
	for _, p := range s.registered() {
		if st, ok := p.c.(starter); ok {
			st.Start()
		}
	}
}

// closeAll closes every part, last registered first, then the listeners
// no part serves yet: the cleanup of a New that fails half way.
func (s *Server) closeAll() {
	parts := s.registered()
	slices.Reverse(parts)
	for _, p := range parts {
		_ = p.c.Close() // nothing was served yet: nothing to report
	}
	for _, ln := range []net.Listener{s.rtmpLn, s.httpLn, s.tls.rtmpsLn, s.tls.httpsLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

// closeFunc makes a Close without a result (hub.Hub's) an io.Closer.
type closeFunc func()

func (f closeFunc) Close() error {
	f()
	return nil
}

// shutdown drains the server; parent is Run's context, already done, whose
// values (not cancellation) carry over. The order is what lets SIGTERM end
// every client cleanly (docs/architecture.md §6):
//
//  1. Not ready: /readyz answers 503. With shutdown_delay, everything keeps
//     serving that long so load balancers stop sending new clients first.
//  2. stageListen: the listeners stop accepting at once; idle RTMP
//     connections end; HTTP-FLV players end their body with the last
//     chunk, WebSocket players get 1001; the API's event streams end.
//  3. stageBeforeHub (relays).
//  4. stageHub: the hub closes: each RTMP publisher gets onStatus "server
//     shutting down", each RTMP player StreamEOF + Play.UnpublishNotify,
//     then their connections close; other hub readers (HLS segmenters) end.
//  5. stageAfterHub (HLS, hooks), while in-flight HTTP requests (HLS
//     segments, API) finish under http.Server.Shutdown.
//
// All of 2–5 share one shutdown_timeout; whatever is left when it ends is
// closed, and shutdown returns an error wrapping ErrShutdownTimeout.
func (s *Server) shutdown(parent context.Context) error {
	cause := context.Cause(parent)
	s.SetDraining(true)
	// The delay is for a requested stop; when a listener failed (parent
	// not done) there is nothing to wait for.
	if d := s.cfg.ShutdownDelay; d > 0 && parent.Err() != nil {
		s.log.Info("ripple draining", "cause", cause, "delay", d)
		t := time.NewTimer(d)
		<-t.C // a second SIGTERM/SIGINT exits at once (cmd/ripple)
	}
	timeout := s.cfg.ShutdownTimeout
	s.log.Info("ripple stopping", "cause", cause, "timeout", timeout)
	s.ops.serving.Store(false)
	ctx, cancel := context.WithTimeoutCause(context.WithoutCancel(parent), timeout,
		fmt.Errorf("%w after %s", ErrShutdownTimeout, timeout))
	defer cancel()

	if errs := s.stopParts(ctx); len(errs) > 0 {
		if ctx.Err() != nil {
			// One cause for everything that was cut: the grace ran out.
			// What was still open is detail for the operator, not the error.
			s.log.Warn("shutdown grace ran out, closed what was left", "err", errors.Join(errs...))
			return context.Cause(ctx)
		}
		return fmt.Errorf("server: shutdown: %w", errors.Join(errs...))
	}
	s.log.Info("ripple stopped")
	return nil
}

// stopParts runs the stages of the drain within ctx. A part whose Shutdown
// fails (ctx ended first) is closed: what it left is cut.
func (s *Server) stopParts(ctx context.Context) []error {
	parts := s.registered()
	slices.Reverse(parts)
	type waiting struct {
		p    part
		done chan error
	}
	var errs []error
	fail := func(p part, err error) {
		_ = p.c.Close() // idempotent; its error adds nothing to err
		errs = append(errs, fmt.Errorf("%s: %w", p.name, err))
	}
	var listening []waiting
	for _, p := range parts {
		if p.stage != stageListen {
			continue
		}
		// Drain before the hub closes, so clients see the server going away
		// rather than their stream ending.
		if d, ok := p.c.(drainer); ok {
			d.Drain()
		}
		if sd, ok := p.c.(shutdowner); ok {
			w := waiting{p: p, done: make(chan error, 1)}
			go func() { w.done <- sd.Shutdown(ctx) }()
			listening = append(listening, w)
		} else if err := p.c.Close(); err != nil {
			fail(p, err)
		}
	}
	for st := stageBeforeHub; st <= stageAfterHub; st++ {
		for _, p := range parts {
			if p.stage != st {
				continue
			}
			var err error
			if sd, ok := p.c.(shutdowner); ok {
				err = sd.Shutdown(ctx)
			} else {
				err = p.c.Close()
			}
			if err != nil {
				fail(p, err)
			}
		}
	}
	for _, w := range listening {
		if err := <-w.done; err != nil {
			fail(w.p, err)
		}
	}
	return errs
}
