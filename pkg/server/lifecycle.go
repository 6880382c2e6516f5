package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Shutdown stages: where a component's stop step runs in the drain (see
// shutdown). Components wired in their own files (relays, HLS, hooks)
// register steps with onShutdown instead of editing the sequence.
type stage uint8

const (
	// stageBeforeHub runs once the listeners stopped accepting and the
	// HTTP-FLV players were told, before the hub closes: sources that would
	// otherwise republish or reconnect into a closing hub (relay pulls and
	// pushes) stop here.
	stageBeforeHub stage = iota
	// stageAfterHub runs after the hub closed (every publisher and reader
	// ended): HLS muxers finish their last segment, hook queues flush.
	stageAfterHub
)

// stopStep is one registered shutdown step. fn gets the shutdown_timeout
// context and must return by the time it ends.
type stopStep struct {
	stage stage
	name  string
	fn    func(ctx context.Context) error
}

// lifecycle is the Server's shutdown bookkeeping.
type lifecycle struct {
	mu    sync.Mutex
	steps []stopStep
}

// onShutdown registers fn to run at stage st of the drain, in registration
// order within a stage. Call it from New (before Run).
func (s *Server) onShutdown(st stage, name string, fn func(ctx context.Context) error) {
	s.lc.mu.Lock()
	defer s.lc.mu.Unlock()
	s.lc.steps = append(s.lc.steps, stopStep{stage: st, name: name, fn: fn})
}

func (s *Server) stepsAt(st stage) []stopStep {
	s.lc.mu.Lock()
	defer s.lc.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(s.lc.steps), func(x stopStep) bool { return x.stage != st })
}

// shutdown drains the server; parent is Run's context, already done, whose
// values (not cancellation) carry over. The order is what lets SIGTERM end
// every client cleanly (docs/architecture.md §6):
//
//  1. Not ready: /readyz answers 503. With shutdown_delay, everything keeps
//     serving that long so load balancers stop sending new clients first.
//  2. Both listeners stop accepting at once (http.Server.Shutdown and
//     rtmp.Server.Shutdown); idle RTMP connections end; HTTP-FLV players
//     end their body with the last chunk, WebSocket players get 1001.
//  3. Steps of stageBeforeHub (relays).
//  4. The hub closes: each RTMP publisher gets onStatus "server shutting
//     down", each RTMP player StreamEOF + Play.UnpublishNotify, then their
//     connections close; other hub readers (HLS segmenters) end.
//  5. Steps of stageAfterHub (HLS, hooks), while in-flight HTTP requests
//     (HLS segments, API) finish under http.Server.Shutdown.
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
	s.stopOps() // not serving; end the SSE streams Shutdown would wait for
	s.pprof.close()
	ctx, cancel := context.WithTimeoutCause(context.WithoutCancel(parent), timeout,
		fmt.Errorf("%w after %s", ErrShutdownTimeout, timeout))
	defer cancel()

	httpDone := make(chan error, 1)
	go func() { httpDone <- s.http.Shutdown(ctx) }()
	rtmpDone := make(chan error, 1)
	go func() { rtmpDone <- s.rtmp.Shutdown(ctx) }()
	// Before the hub closes, so players see the server going away rather
	// than their stream ending.
	s.flv.Drain()
	flvDone := make(chan error, 1)
	go func() { flvDone <- s.flv.Shutdown(ctx) }()

	errs := s.runSteps(ctx, stageBeforeHub)
	s.hub.Close()
	s.hls.close() // muxers stop; blocked playlist requests return
	errs = append(errs, s.runSteps(ctx, stageAfterHub)...)

	if err := <-rtmpDone; err != nil {
		errs = append(errs, fmt.Errorf("rtmp: %w", err))
	}
	if err := <-flvDone; err != nil {
		errs = append(errs, fmt.Errorf("http-flv: %w", err))
	}
	if err := <-httpDone; err != nil {
		s.http.Close() // cut what is left
		errs = append(errs, fmt.Errorf("http: %w", err))
	}
	if len(errs) > 0 {
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

// runSteps runs the steps of stage st in order; a step still running when
// ctx ends is abandoned (it must not hold the process: exit follows).
func (s *Server) runSteps(ctx context.Context, st stage) []error {
	var errs []error
	for _, step := range s.stepsAt(st) {
		done := make(chan error, 1)
		go func() { done <- step.fn(ctx) }()
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", step.name, err))
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("%s: %w", step.name, context.Cause(ctx)))
		}
	}
	return errs
}
