// Package guard is Ripple's one panic boundary. Every goroutine that
// touches client data or media (an RTMP connection, a hijacked HTTP-FLV or
// WS-FLV player, an HLS muxer, a relay, a hook worker) runs its body through
// a Recorder: a panic there becomes a *PanicError carrying the stack, the
// component that panicked ends as if it had failed, the recovery is counted
// per component (ripple_panics_total{component}), and the process and
// every other stream go on — as net/http's conn.serve recovers per
// connection and mediamtx recovers per path and muxer.
//
// The caller logs the error once, at Error level with the stack (its close
// line); Go does that itself for goroutines that have no close line.
package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
)

// PanicError is a recovered panic.
type PanicError struct {
	Component string
	Value     any
	Stack     []byte
}

// Error names the component and the panic value; it avoids the text
// "panic:", which marks a crash of the process in logs.
func (e *PanicError) Error() string {
	return fmt.Sprintf("%s: recovered panic (%v)", e.Component, e.Value)
}

// Recorder recovers panics and counts them per component. The zero value
// is ready; a nil *Recorder recovers too but counts nothing. Safe for
// concurrent use.
type Recorder struct {
	mu     sync.Mutex
	counts map[string]uint64
}

// Run calls f and returns its error, or a *PanicError if f panicked.
func (r *Recorder) Run(component string, f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Component: component, Value: v, Stack: debug.Stack()}
			r.add(component)
		}
	}()
	return f()
}

// Go runs f on a new goroutine through Run and logs a panic as one Error
// line with the stack, for goroutines without a close line of their own.
// log nil discards.
func (r *Recorder) Go(component string, log *slog.Logger, f func()) {
	go r.Do(component, log, f)
}

// Do is Go on the calling goroutine.
func (r *Recorder) Do(component string, log *slog.Logger, f func()) {
	err := r.Run(component, func() error { f(); return nil })
	if err != nil {
		Log(log, err)
	}
}

// Log logs err at Error level with its stack if it is a *PanicError and
// reports whether it was one. log nil discards.
//
//nolint:contextcheck // slog wants a context only for handler values; a recover has none to give
func Log(log *slog.Logger, err error, attrs ...any) bool {
	pe, ok := AsPanic(err)
	if !ok {
		return false
	}
	if log != nil {
		attrs = append(attrs, "component", pe.Component, "err", err, "stack", string(pe.Stack))
		log.Log(context.Background(), slog.LevelError, "panic recovered", attrs...)
	}
	return true
}

// AsPanic returns err as a *PanicError if it is (or wraps) one.
func AsPanic(err error) (*PanicError, bool) {
	var pe *PanicError
	if errors.As(err, &pe) {
		return pe, true
	}
	return nil, false
}

func (r *Recorder) add(component string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if r.counts == nil {
		r.counts = make(map[string]uint64)
	}
	r.counts[component]++
	r.mu.Unlock()
}

// Count is one component's number of recovered panics.
type Count struct {
	Component string
	Panics    uint64
}

// Counts returns the recovered panics per component, sorted by component.
func (r *Recorder) Counts() []Count {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	out := make([]Count, 0, len(r.counts))
	for c, n := range r.counts {
		out = append(out, Count{Component: c, Panics: n})
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Component < out[j].Component })
	return out
}
