package relay

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Kind says what a relay does.
type Kind string

// Relay kinds.
const (
	KindForward Kind = "forward" // local stream pushed to a configured destination
	KindPull    Kind = "pull"    // edge: origin stream pulled into the local hub
	KindPush    Kind = "push"    // edge: local publisher pushed up to an origin
)

// State is where a relay is in its life.
type State string

// Relay states.
const (
	StateConnecting State = "connecting" // dialing / handshaking / waiting for the first packet
	StateLive       State = "live"       // media flowing
	StateBackoff    State = "backoff"    // waiting before the next attempt
	StateStopped    State = "stopped"    // done (stream ended, idle, not found, shut down)
)

// Status is a snapshot of one relay, for the API and metrics.
type Status struct {
	ID     uint64 // unique for the manager's life
	Kind   Kind
	Stream string // local stream key, "app/name"
	// Target is the destination (forward) or the current origin (pull,
	// push), expanded, without its query string (tokens stay out of logs
	// and the API).
	Target     string
	State      State
	LastError  string    // the last failure, "" if none yet
	Bytes      uint64    // bytes relayed (pushes: written, RTMP framing included)
	Reconnects uint64    // connection attempts after the first
	Since      time.Time // when State was entered
	Started    time.Time // when the relay started
}

// status is a relay's live state. Counters are atomics so the packet path
// never takes the mutex.
type status struct {
	log *slog.Logger

	bytes      atomic.Uint64
	reconnects atomic.Uint64

	mu     sync.Mutex
	s      Status
	seen   bool   // an attempt was made: the next one is a reconnect
	logged string // target named by the last log line
}

func newStatus(log *slog.Logger, id uint64, kind Kind, key, target string, now time.Time) *status {
	st := &status{log: log.With("relay", string(kind), "stream", key)}
	st.s = Status{ID: id, Kind: kind, Stream: key, Target: target, State: StateConnecting, Since: now, Started: now}
	return st
}

// connecting marks a new connection attempt to target; cause is why the
// previous one ended (nil for the first). A retry of the same target after a
// backoff is logged at Debug: the backoff line already said what failed.
func (st *status) connecting(target string, cause error) {
	st.mu.Lock()
	if st.seen {
		st.reconnects.Add(1)
	}
	st.seen = true
	retry := st.s.State == StateBackoff && st.s.Target == target
	st.s.Target = target
	st.mu.Unlock()
	if retry {
		st.setLevel(StateConnecting, cause, slog.LevelDebug)
		return
	}
	st.set(StateConnecting, cause)
}

// set moves to state, recording err (if any) as the last error, and logs
// one line when the state or the target changes.
func (st *status) set(state State, err error) { st.setLevel(state, err, 0) }

// setLevel is set with a fixed log level (0: Info, or Warn for an error
// while not stopping).
func (st *status) setLevel(state State, err error, fixed slog.Level) {
	st.mu.Lock()
	target, started := st.s.Target, st.s.Started
	changed := st.s.State != state || st.logged != target
	if err != nil {
		st.s.LastError = err.Error()
	}
	if st.s.State != state {
		st.s.State = state
		st.s.Since = time.Now()
	}
	st.logged = target
	st.mu.Unlock()
	if !changed {
		return
	}
	level := slog.LevelInfo
	switch {
	case fixed != 0:
		level = fixed
	case err != nil && state != StateStopped:
		level = slog.LevelWarn
	}
	attrs := []any{"state", string(state), "target", target}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	if state == StateStopped {
		// The relay's close line: the same keys as a connection's.
		attrs = append(attrs, "duration", time.Since(started).Round(time.Millisecond))
	}
	st.log.Log(context.Background(), level, "relay state", attrs...)
}

func (st *status) snapshot() Status {
	st.mu.Lock()
	s := st.s
	st.mu.Unlock()
	s.Bytes = st.bytes.Load()
	s.Reconnects = st.reconnects.Load()
	return s
}

func (st *status) state() State {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.s.State
}
