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

// TargetSource says where a forward's destination comes from.
type TargetSource uint8

// Target sources.
const (
	SourceConfig  TargetSource = iota // apps.NAME.forward (and every pull and edge push)
	SourceHook                        // the on_publish hook's answer (Config.StreamTargets)
	SourceAPI                         // Manager.AddTarget from the API
	SourceCluster                     // a pull from the cluster node that owns the stream
)

// String returns "config", "hook", "api" or "cluster".
func (s TargetSource) String() string {
	switch s {
	case SourceConfig:
		return "config"
	case SourceHook:
		return "hook"
	case SourceAPI:
		return "api"
	case SourceCluster:
		return "cluster"
	}
	return "unknown"
}

// MarshalText makes a TargetSource its name in JSON.
func (s TargetSource) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Status is a snapshot of one relay, for the API and metrics.
type Status struct {
	ID     uint64 // unique for the manager's life
	Kind   Kind
	Source TargetSource // where a forward's destination comes from; SourceConfig otherwise
	Stream string       // local stream key, "app/name"
	// Target is the destination (forward) or the current origin (pull,
	// push), expanded and redacted (Redact): no user info, query or stream
	// key, which stay out of logs and the API.
	Target     string
	State      State
	LastError  string    // the last failure (secrets replaced by ****), "" if none yet
	Bytes      uint64    // bytes relayed (pushes: written, RTMP framing included)
	Bitrate    float64   // bits/s over about the last rateWindow while live, else 0
	Reconnects uint64    // connection attempts after the first
	Since      time.Time // when State was entered
	Started    time.Time // when the relay started
}

// Bitrate sampling: snapshots record (time, bytes) at most once per
// rateStep in a ring of rateSamples, and the rate is taken against the
// newest sample at least rateWindow old (or the oldest one at least
// rateStep old). Nothing happens per packet; a relay whose status is
// rarely asked for gets the average since the last time it was.
const (
	rateStep    = time.Second
	rateWindow  = 5 * time.Second
	rateSamples = 8
)

type rateSample struct {
	at    time.Time
	bytes uint64
}

// status is a relay's live state. Counters are atomics so the packet path
// never takes the mutex.
type status struct {
	log *slog.Logger

	bytes      atomic.Uint64
	reconnects atomic.Uint64

	mu      sync.Mutex
	s       Status
	seen    bool     // an attempt was made: the next one is a reconnect
	logged  string   // target named by the last log line
	secrets []string // scrubbed from errors before they are shown (scrub)
	samples [rateSamples]rateSample
	nsample int // samples taken (the ring's write position mod rateSamples)
}

func newStatus(log *slog.Logger, id uint64, kind Kind, src TargetSource, key, target string, now time.Time) *status {
	l := log.With("relay", string(kind), "id", id, "stream", key)
	if src != SourceConfig {
		l = l.With("source", src.String())
	}
	st := &status{log: l}
	st.s = Status{ID: id, Kind: kind, Source: src, Stream: key, Target: target, State: StateConnecting, Since: now, Started: now}
	return st
}

// connecting marks a new connection attempt to target (redacted); secrets
// are what the attempt's errors must not show (its stream name and query);
// cause is why the previous one ended (nil for the first). A retry of the
// same target after a backoff is logged at Debug: the backoff line already
// said what failed.
func (st *status) connecting(target string, secrets []string, cause error) {
	st.mu.Lock()
	if st.seen {
		st.reconnects.Add(1)
	}
	st.seen = true
	retry := st.s.State == StateBackoff && st.s.Target == target
	st.s.Target = target
	st.mu.Unlock()
	// cause belongs to the previous attempt: scrub it with its secrets.
	cause = st.scrubbed(cause)
	st.mu.Lock()
	st.secrets = secrets
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
	err = st.scrubbed(err)
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

// scrubbed returns err with the current secrets replaced by ****, as an
// error that keeps err for errors.Is; nil stays nil.
func (st *status) scrubbed(err error) error {
	if err == nil {
		return nil
	}
	st.mu.Lock()
	secrets := st.secrets
	st.mu.Unlock()
	msg := err.Error()
	if clean := scrub(msg, secrets); clean != msg {
		return scrubbedError{msg: clean, err: err}
	}
	return err
}

// scrubbedError shows msg but unwraps to the original error.
type scrubbedError struct {
	msg string
	err error
}

func (e scrubbedError) Error() string { return e.msg }
func (e scrubbedError) Unwrap() error { return e.err }

func (st *status) snapshot() Status {
	now := time.Now()
	bytes := st.bytes.Load()
	st.mu.Lock()
	s := st.s
	rate := st.rateLocked(now, bytes)
	st.mu.Unlock()
	s.Bytes = bytes
	s.Reconnects = st.reconnects.Load()
	if s.State == StateLive {
		s.Bitrate = rate
	}
	return s
}

// rateLocked returns the bit rate against the best sample (see rateStep)
// and records (now, bytes) when the newest sample is rateStep old.
func (st *status) rateLocked(now time.Time, bytes uint64) float64 {
	ref := rateSample{at: st.s.Started}
	found := false
	n := min(st.nsample, rateSamples)
	for i := range n { // newest first
		sm := st.samples[(st.nsample-1-i)%rateSamples]
		age := now.Sub(sm.at)
		if age < rateStep {
			continue
		}
		ref, found = sm, true
		if age >= rateWindow {
			break
		}
	}
	if n == 0 || now.Sub(st.samples[(st.nsample-1)%rateSamples].at) >= rateStep {
		st.samples[st.nsample%rateSamples] = rateSample{at: now, bytes: bytes}
		st.nsample++
	}
	d := now.Sub(ref.at)
	if (!found && d < rateStep) || d <= 0 || bytes < ref.bytes {
		return 0
	}
	return float64(bytes-ref.bytes) * 8 / d.Seconds()
}

func (st *status) state() State {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.s.State
}
