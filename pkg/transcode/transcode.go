// Package transcode makes adaptive-bitrate renditions of live streams with
// ffmpeg. A ladder is a list of Rungs for one source stream; the whole
// ladder runs in one ffmpeg process (one decode, one encode per rung),
// which reads the source as FLV on its stdin from a hub reader (metadata,
// sequence headers and the GOP cache first, like every reader) and writes
// each rendition as FLV to a pipe of its own (fd 3, 4, ...: no sockets,
// no ports). Each rendition is published into the hub as an ordinary
// stream, "{source}_{name}" ("live/cam1_720p"), whose publisher carries
// hub.PublisherInfo{Protocol: "transcode", Source, Rendition}.
//
// A ladder starts when its source is published, or, for an on-demand
// ladder, on the first viewer of one of its renditions (a hub demand
// handler) and stops Config.IdleTimeout after its renditions' last viewer
// left. It stops when the source stream ends (the renditions end at once);
// while the source is inside its reconnect grace ffmpeg simply waits. An
// ffmpeg that exits, stalls or falls too far behind its source is killed
// and restarted with capped exponential backoff; the renditions keep their
// hub publishers across restarts, so their players stay. Streams published
// by a transcoder (Source set) or by a relay pull are never transcoded.
//
// Timestamps: ffmpeg runs with -copyts, keyframes forced where the
// source has them and millisecond encoder time bases, so a rendition's
// frames carry its source's media times and its keyframes fall on the
// source's. The hub starts every new stream's timeline at 0 at its first
// packet; a rendition started with its source therefore has exactly the
// source's timeline, and one started later is offset by a constant that
// Status reports (docs/transcode.md §3).
//
// Hostile by default: every goroutine that reads ffmpeg's outputs runs
// through Config.Panics (component "transcode"); ffmpeg runs in a process
// group of its own, killed with SIGKILL and always waited for; its stderr
// is read line by line with bounded lines and logged at Debug, rate
// limited; the number of processes is bounded (Config.MaxProcesses) and
// so is every buffer.
package transcode

import (
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/netx"
)

// Protocol is the hub protocol name of a transcoder: the PublisherInfo of
// its renditions and the ReaderInfo of its source readers.
const Protocol = access.ProtoTranscode

// component names the transcoder's goroutines in panic counts.
const component = "transcode"

// Defaults applied by New to zero (or negative) Config fields.
const (
	DefaultMaxProcesses = 4
	DefaultIdleTimeout  = 30 * time.Second
	DefaultBackoffMin   = time.Second //nolint:revive // Min is the minimum, not minutes
	DefaultBackoffMax   = 30 * time.Second
	DefaultStallTimeout = 20 * time.Second
)

// Errors.
var (
	// ErrNoFFmpeg: New did not find the ffmpeg binary.
	ErrNoFFmpeg = errors.New("transcode: ffmpeg not found")
	// ErrClosed: the Manager is closed.
	ErrClosed = errors.New("transcode: closed")
	// ErrTooManyProcesses: a ladder was refused at Config.MaxProcesses.
	ErrTooManyProcesses = errors.New("transcode: too many ffmpeg processes")
)

// Config configures a Manager. Zero values mean the documented defaults.
type Config struct {
	Logger *slog.Logger // nil: discard

	// FFmpeg is the ffmpeg binary, a path or a name looked up in PATH
	// once, by New; "" means "ffmpeg".
	FFmpeg string

	// Ladder returns the rungs for a source stream key and whether they
	// start on demand (the first viewer of a rendition) instead of when
	// the source is published. No rungs: the key is not transcoded. It is
	// called from hub event callbacks and demand requests: it must be
	// quick and must not block.
	Ladder func(key string) (rungs []Rung, onDemand bool)

	// MaxProcesses bounds the ladders (one ffmpeg each) running at once;
	// a ladder beyond it is refused with a log line, and its viewers get
	// hub.ErrStreamNotFound. Default 4.
	MaxProcesses int
	// IdleTimeout stops an on-demand ladder this long after its
	// renditions' last reader left. Default 30s.
	IdleTimeout time.Duration
	// BackoffMin and BackoffMax bound the delay before an ffmpeg that
	// ended unexpectedly is restarted (doubling, with jitter). Defaults 1s
	// and 30s.
	BackoffMin, BackoffMax time.Duration
	// StallTimeout kills (and restarts) an ffmpeg that has been fed for
	// this long after its last output packet, or has not read its input
	// for this long: a hung process. It must exceed the rungs' encoder
	// delay at start. Default 20s.
	StallTimeout time.Duration

	// Panics recovers and counts (component "transcode") panics of the
	// goroutines that read ffmpeg's outputs; nil recovers without counting.
	Panics *guard.Recorder
	// Viewers counts a rendition's viewers for the on-demand idle stop
	// (nil: its hub readers). The server counts players and HLS viewers,
	// not the HLS muxer's reader, which would keep a ladder running for
	// nobody.
	Viewers func(st *hub.StreamInfo) int
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.FFmpeg == "" {
		c.FFmpeg = "ffmpeg"
	}
	if c.MaxProcesses <= 0 {
		c.MaxProcesses = DefaultMaxProcesses
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	c.BackoffMax = max(c.BackoffMax, c.BackoffMin)
	if c.StallTimeout <= 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	return c
}

// Status describes one running ladder.
type Status struct {
	Key      string // the source stream
	OnDemand bool
	Running  bool      // an ffmpeg process is running now
	PID      int       // its process id; 0 when none runs
	Restarts uint64    // ffmpeg restarts after unexpected ends
	Speed    float64   // ffmpeg's last reported speed (1.0: real time); 0 unknown
	Started  time.Time // when the ladder started
	// Renditions in rung order.
	Renditions []RenditionStatus
}

// RenditionStatus describes one rendition of a ladder.
type RenditionStatus struct {
	Name string
	Key  string
	// Live: the rendition is published in the hub.
	Live bool
	// FPS and Bitrate (bits/s) are measured over the last few seconds of
	// the packets published; Frames counts the video frames published.
	FPS     float64
	Bitrate int64
	Frames  uint64
	// Offset is the source's DTS minus the rendition's, in milliseconds:
	// 0 when the rendition started with its source (docs/transcode.md §3).
	Offset int64
}

// Manager runs the ladders of a hub's streams. New builds it, Start makes
// it follow the hub, Close stops every ladder.
type Manager struct {
	cfg  Config
	hub  *hub.Hub
	log  *slog.Logger
	path string // resolved ffmpeg

	refusedLog netx.LogLimiter // refused and invalid ladders (per demand: rate limited)

	mu         sync.Mutex
	started    bool
	closed     bool
	ladders    map[string]*ladder // running, by source key
	renditions map[string]*ladder // running, by rendition key
	dying      map[string]*ladder // stopped but not yet ended, by source key
	procs      int                // ladders holding a process slot (running or dying)
	unwatch    func()
	undemand   func()
	wg         sync.WaitGroup // ladder goroutines and idle timers
}

// New returns a Manager for h; Start makes it act. It fails with an error
// wrapping ErrNoFFmpeg when cfg.FFmpeg cannot be found.
func New(cfg Config, h *hub.Hub) (*Manager, error) {
	cfg = cfg.withDefaults()
	if h == nil {
		return nil, errors.New("transcode: nil hub")
	}
	path, err := exec.LookPath(cfg.FFmpeg)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrNoFFmpeg, cfg.FFmpeg, err)
	}
	return &Manager{
		cfg:        cfg,
		hub:        h,
		log:        cfg.Logger.With("proto", Protocol),
		path:       path,
		ladders:    make(map[string]*ladder),
		renditions: make(map[string]*ladder),
		dying:      make(map[string]*ladder),
	}, nil
}

// Start watches the hub: ladders start when their sources are published
// (those live now included) or on demand. Later calls, and calls after
// Close, do nothing.
func (m *Manager) Start() {
	m.mu.Lock()
	if m.started || m.closed {
		m.mu.Unlock()
		return
	}
	m.started = true
	m.mu.Unlock()
	unwatch := m.hub.Watch(m.onEvent)
	undemand := m.hub.AddDemand(m.demand)
	m.mu.Lock()
	m.unwatch, m.undemand = unwatch, undemand
	closed := m.closed
	m.mu.Unlock()
	if closed {
		// Close ran meanwhile and found nothing to remove.
		unwatch()
		undemand()
		return
	}
	for _, s := range m.hub.Streams() {
		if !isSource(s.Publisher) {
			continue
		}
		if rungs, onDemand := m.ladder(s.Key); len(rungs) > 0 && !onDemand {
			_ = m.start(s.Key, rungs, false, false)
		}
	}
}

// Close kills every ffmpeg (its process group), waits for it and ends the
// renditions. Idempotent; the error is always nil (io.Closer).
func (m *Manager) Close() error {
	m.mu.Lock()
	first := !m.closed
	m.closed = true
	unwatch, undemand := m.unwatch, m.undemand
	ls := make([]*ladder, 0, len(m.ladders))
	for _, l := range m.ladders {
		ls = append(ls, l)
	}
	m.mu.Unlock()
	if first && unwatch != nil {
		unwatch()
		undemand()
	}
	for _, l := range ls {
		m.stop(l, ErrClosed)
	}
	m.wg.Wait()
	return nil
}

// Status returns the running ladders, sorted by source key.
func (m *Manager) Status() []Status {
	m.mu.Lock()
	ls := make([]*ladder, 0, len(m.ladders))
	for _, l := range m.ladders {
		ls = append(ls, l)
	}
	m.mu.Unlock()
	out := make([]Status, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.status())
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func (m *Manager) ladder(key string) ([]Rung, bool) {
	if m.cfg.Ladder == nil {
		return nil, false
	}
	return m.cfg.Ladder(key)
}

// isSource reports whether a stream published by p may be transcoded: not
// a rendition (Source set) and not a relay pull (in a cluster the origin
// transcodes, and its renditions are pulled like any stream).
func isSource(p hub.PublisherInfo) bool {
	return p.Source == "" && p.Protocol != access.ProtoRelay && p.Protocol != Protocol
}

// onEvent runs synchronously in the hub: it subscribes, starts goroutines
// and arms timers, nothing that waits.
func (m *Manager) onEvent(e hub.Event) {
	switch e.Type {
	case hub.EventPublish:
		m.onPublish(e)
	case hub.EventStreamEnd:
		m.mu.Lock()
		l := m.ladders[e.Key]
		m.mu.Unlock()
		if l != nil {
			m.stop(l, errSourceEnded)
		}
	case hub.EventReaderJoin, hub.EventReaderLeave:
		m.onReaders(e)
	}
}

func (m *Manager) onPublish(e hub.Event) {
	if e.Publisher.Protocol == Protocol {
		// One of our renditions came up: an on-demand ladder now waits
		// IdleTimeout for a reader (its viewer is joining, or gave up).
		m.mu.Lock()
		if l := m.renditions[e.Key]; l != nil && l.onDemand {
			m.armIdleLocked(l, m.cfg.IdleTimeout)
		}
		m.mu.Unlock()
		return
	}
	if !isSource(e.Publisher) {
		if e.Resumed {
			// A relay or a rendition took over a transcoded key.
			m.mu.Lock()
			l := m.ladders[e.Key]
			m.mu.Unlock()
			if l != nil {
				m.stop(l, errNotSource)
			}
		}
		return
	}
	rungs, onDemand := m.ladder(e.Key)
	if len(rungs) == 0 || onDemand {
		return
	}
	// A new stream instance (not Resumed): nothing is written before the
	// watchers return, so a reader subscribed now sees the stream from its
	// first packet, and the renditions can share its timeline.
	_ = m.start(e.Key, rungs, false, !e.Resumed)
}

// start starts a ladder for key unless one runs. fresh subscribes to key
// at once, for a stream that has just been published (onPublish);
// otherwise the ladder's goroutine subscribes.
func (m *Manager) start(key string, rungs []Rung, onDemand, fresh bool) error {
	if err := ValidateLadder(key, rungs); err != nil {
		if n, ok := m.refusedLog.Allow(); ok {
			m.log.Warn("transcoding ladder invalid", "stream", key, "err", err, "suppressed", n)
		}
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	if m.ladders[key] != nil {
		m.mu.Unlock()
		return nil
	}
	if m.procs >= m.cfg.MaxProcesses {
		n := m.procs
		m.mu.Unlock()
		if s, ok := m.refusedLog.Allow(); ok {
			m.log.Warn("transcoding refused", "stream", key, "processes", n, "limit", m.cfg.MaxProcesses, "suppressed", s)
		}
		return fmt.Errorf("%w: %d running, limit %d", ErrTooManyProcesses, n, m.cfg.MaxProcesses)
	}
	l := newLadder(m, key, rungs, onDemand)
	if prev := m.dying[key]; prev != nil {
		l.prev = prev.done // its renditions must end before ours publish
	}
	m.ladders[key] = l
	for _, r := range l.outs {
		m.renditions[r.key] = l
	}
	m.procs++
	m.wg.Add(1)
	if onDemand {
		// A demand whose viewer gave up before the first rendition
		// came: players wait about this long for a demanded stream.
		m.armIdleLocked(l, max(m.cfg.IdleTimeout, demandStartTimeout))
	}
	m.mu.Unlock()
	if fresh {
		if rd, err := m.hub.Subscribe(key, hub.ReaderInfo{Protocol: Protocol}); err == nil {
			l.first, l.fresh = rd, true
		}
	}
	m.log.Info("transcoding started", "stream", key, "rungs", len(rungs), "on_demand", onDemand)
	go l.run()
	return nil
}

// stop asks l to stop with cause; it ends on its own goroutine.
func (m *Manager) stop(l *ladder, cause error) {
	m.mu.Lock()
	if l.stopped {
		m.mu.Unlock()
		return
	}
	m.forgetLocked(l)
	m.dying[l.key] = l
	m.mu.Unlock()
	l.cancel(cause)
}

// forgetLocked removes l from the running ladders.
func (m *Manager) forgetLocked(l *ladder) {
	l.stopped = true
	if m.ladders[l.key] == l {
		delete(m.ladders, l.key)
	}
	for _, r := range l.outs {
		if m.renditions[r.key] == l {
			delete(m.renditions, r.key)
		}
	}
	m.disarmIdleLocked(l)
}

// ended is called by l's goroutine last: l's process is gone and its
// renditions have ended.
func (m *Manager) ended(l *ladder) {
	m.mu.Lock()
	if !l.stopped {
		m.forgetLocked(l) // ended on its own (the source is gone)
	}
	if m.dying[l.key] == l {
		delete(m.dying, l.key)
	}
	m.procs--
	m.mu.Unlock()
}
