// Package hub is the stream registry and fan-out core. A publisher writes
// immutable *av.Packet values into a Stream; every player, segmenter or relay
// is a Reader with its own bounded queue. Publish never blocks and never does
// I/O: a reader that cannot keep up drops to the next keyframe (sequence
// headers and metadata are never dropped) and is evicted if it stays behind.
//
// The hub knows nothing about protocols: it only sees Publishers and Readers.
// Nor about codecs: a Config.Validator (pkg/ingest) checks each publisher's
// packets before they enter a stream, and the hub drops and counts the
// ones it rejects (validate.go).
//
// Lock order: Hub.mu, then stream.mu, then Reader.mu. Nothing is logged and
// no I/O is done while a stream lock is held.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by the hub.
var (
	ErrStreamBusy      = errors.New("hub: stream already published")
	ErrStreamNotFound  = errors.New("hub: stream not found")
	ErrTooManyStreams  = errors.New("hub: too many streams")
	ErrReplaced        = errors.New("hub: publisher replaced by a new publisher")
	ErrPublisherClosed = errors.New("hub: publisher closed")
	ErrSlowReader      = errors.New("hub: reader evicted: too slow")
	ErrClosed          = errors.New("hub: closed")
	ErrInvalidKey      = errors.New("hub: invalid stream key")
	// ErrKicked ends a publisher removed by an operator (KickPublisher).
	ErrKicked = errors.New("hub: publisher kicked")
)

// PublishPolicy decides what happens when a second publisher arrives for a
// stream that is live.
type PublishPolicy uint8

const (
	// PolicyReject refuses the new publisher with ErrStreamBusy (default).
	PolicyReject PublishPolicy = iota
	// PolicyTakeover ends the current publisher (its WritePacket returns
	// ErrReplaced and Done is closed) and hands the stream, with its
	// readers, to the new one.
	PolicyTakeover
)

// Defaults applied by New to zero (or negative) Config fields, for use
// without pkg/config. Each equals the config default of its hub.* key
// (pkg/server checks this).
const (
	DefaultQueueSize      = 1024
	DefaultMaxOverflows   = 3
	DefaultOverflowWindow = 30 * time.Second
	DefaultGOPMaxPackets  = 3000
	DefaultGOPMaxBytes    = 16 << 20
	// DefaultQueueMaxBytes bounds the media bytes a reader's queue pins:
	// twice the default GOP cache, so a late joiner's replay fits.
	DefaultQueueMaxBytes  = 32 << 20
	DefaultGOPMaxDuration = 10 * time.Second

	// MaxOverflowsLimit caps Config.MaxOverflows: a reader that overflows
	// keeps the time of its last MaxOverflows overflows.
	MaxOverflowsLimit = 1024
)

// Config configures a Hub. Zero values mean the documented defaults.
type Config struct {
	Logger *slog.Logger // nil: discard

	// QueueSize is each reader's queue length in packets, rounded up to a
	// power of two. Default 1024.
	QueueSize int
	// QueueMaxBytes bounds the media bytes queued for one reader (packets
	// are shared, but a reader that does not drain keeps them alive); a
	// queue past it overflows like a full one. Headers and metadata are
	// not counted. A reader primed with a GOP cache larger than half of it
	// gets room for the cache plus half. Default DefaultQueueMaxBytes.
	QueueMaxBytes int
	// MaxOverflows evicts a reader that overflows its queue this many times
	// within OverflowWindow. Defaults 3 and 30s; MaxOverflows is capped at
	// MaxOverflowsLimit.
	MaxOverflows   int
	OverflowWindow time.Duration

	// The GOP cache keeps the last GOP so late joiners start at a keyframe
	// immediately; it is on unless DisableGOPCache is set. Bounded by
	// packets, bytes and duration (defaults 3000, 16 MiB, 10s); a GOP
	// exceeding any bound is not cached (late joiners then wait for the
	// next keyframe). Audio-only streams cache a short window of audio
	// (at most 1s, and within the same bounds).
	DisableGOPCache bool
	GOPMaxPackets   int
	GOPMaxBytes     int
	GOPMaxDuration  time.Duration

	// ReconnectGrace keeps a stream's readers attached for this long after
	// its publisher leaves; a publisher returning in time continues the
	// stream (fresh sequence headers, continuous timestamps). 0 ends the
	// stream immediately. Default applied by config, not here.
	ReconnectGrace time.Duration

	// MaxStreams limits the number of live streams; 0 means unlimited.
	MaxStreams int

	// Policy returns the publish policy for a stream key's app ("live" for
	// "live/cam1"). nil means PolicyReject for all.
	Policy func(app string) PublishPolicy

	// MergeWindow > 0 wakes a stream's readers at most once per window, so
	// each player writes a window's worth of media at once (SRS's merged
	// writes): far fewer writes per player for up to MergeWindow of added
	// latency. 0 (the default) wakes them per video frame (flush.go).
	MergeWindow time.Duration

	// Validator, if set, makes one PacketValidator per Publisher (a
	// resumed or takeover publisher gets a fresh one) that checks every
	// packet before it enters the stream (validate.go). nil, or a nil
	// PacketValidator, means no validation.
	Validator func() PacketValidator
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	c.QueueSize = nextPow2(c.QueueSize)
	if c.QueueMaxBytes <= 0 {
		c.QueueMaxBytes = DefaultQueueMaxBytes
	}
	if c.MaxOverflows <= 0 {
		c.MaxOverflows = DefaultMaxOverflows
	}
	c.MaxOverflows = min(c.MaxOverflows, MaxOverflowsLimit)
	if c.OverflowWindow <= 0 {
		c.OverflowWindow = DefaultOverflowWindow
	}
	if c.GOPMaxPackets <= 0 {
		c.GOPMaxPackets = DefaultGOPMaxPackets
	}
	if c.GOPMaxBytes <= 0 {
		c.GOPMaxBytes = DefaultGOPMaxBytes
	}
	if c.GOPMaxDuration <= 0 {
		c.GOPMaxDuration = DefaultGOPMaxDuration
	}
	if c.ReconnectGrace < 0 {
		c.ReconnectGrace = 0
	}
	if c.MaxStreams < 0 {
		c.MaxStreams = 0
	}
	c.MergeWindow = max(c.MergeWindow, 0)
	return c
}

// nextPow2 returns the smallest power of two >= n (n >= 1), capped at 1<<30.
func nextPow2(n int) int {
	p := 1
	for p < n && p < 1<<30 {
		p <<= 1
	}
	return p
}

// PublisherInfo describes who publishes (for logs and the API).
type PublisherInfo struct {
	Protocol   string // access.ProtoRTMP, access.ProtoRelay, ...
	RemoteAddr string
	Query      string // raw query string of the publish URL, without '?'
	// Source is, for a rendition, the key of the stream it renders
	// ("live/cam1" for "live/cam1_720p": a transcoder's output or a track
	// of a multitrack publish), and Rendition its name ("720p", "t1");
	// both empty for every other publisher.
	Source, Rendition string
	// SourceClock says a rendition's timestamps are on its source's wire
	// clock (the tracks of a multitrack publish): the rendition takes the
	// source's offset and so its timeline. Without it a rendition's
	// timestamps are already its source's stream times (a transcoder fed
	// by a reader of the source) and are kept as they are. Either way the
	// source and its renditions share one timeline, so their keyframes,
	// and HLS segments, line up.
	SourceClock bool
}

// ReaderInfo describes a reader (for logs and the API).
type ReaderInfo struct {
	Protocol   string // a protocol name: access.ProtoRTMP, ProtoHTTPFLV, ProtoWSFLV, ProtoHLS, ProtoRelay
	RemoteAddr string
	// Query is the raw query string of the play URL, without '?' (an auth
	// token an edge relay passes upstream); never part of the key.
	Query string
}

// stopper is the part of *time.Timer the hub uses; tests inject fakes.
type stopper interface{ Stop() bool }

// Hub is the registry of streams by key ("app/name").
type Hub struct {
	cfg Config
	log *slog.Logger

	// Test hooks; time.Now and time.AfterFunc in production.
	now       func() time.Time
	afterFunc func(time.Duration, func()) stopper
	newTimer  func(time.Duration, func()) resetter

	timers sync.WaitGroup // grace timers armed or running

	mu      sync.Mutex
	closed  bool
	streams map[string]*stream
	waiters map[string]*waiter

	// Client registry counters (clients.go).
	nextID       atomic.Uint64 // last reader id handed out
	bytesOut     atomic.Uint64 // Reader.AddBytes over all readers ever
	endedBytesIn atomic.Uint64 // BytesIn of streams that ended
	invalid      atomic.Uint64 // packets a PacketValidator rejected, all streams ever

	watch    watchers
	demandMu sync.Mutex
	demand   func(key string, info ReaderInfo) error
	// demands are the AddDemand handlers, asked first, by id (the order
	// they were added).
	demands    map[uint64]func(key string, info ReaderInfo) error
	nextDemand uint64
}

// waiter is shared by all WaitStream calls on one key.
type waiter struct {
	ch  chan struct{} // closed when the key goes live or the hub closes
	err error         // nil (live) or ErrClosed; written before ch is closed
	n   int           // WaitStream calls still waiting
}

// New returns a Hub.
func New(cfg Config) *Hub {
	cfg = cfg.withDefaults()
	return &Hub{
		cfg:       cfg,
		log:       cfg.Logger,
		now:       time.Now,
		afterFunc: func(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) },
		newTimer:  func(d time.Duration, f func()) resetter { return time.AfterFunc(d, f) },
		streams:   make(map[string]*stream),
		waiters:   make(map[string]*waiter),
	}
}

func (h *Hub) policy(app string) PublishPolicy {
	if h.cfg.Policy == nil {
		return PolicyReject
	}
	return h.cfg.Policy(app)
}

// Publish claims key for a new publisher. With PolicyReject it fails with
// ErrStreamBusy if the key is live (a stream inside its reconnect grace is
// not live: the new publisher resumes it). ErrTooManyStreams past MaxStreams.
// ErrInvalidKey if !ValidKey(key).
func (h *Hub) Publish(key string, info PublisherInfo) (*Publisher, error) {
	if !ValidKey(key) {
		return nil, fmt.Errorf("%w %q", ErrInvalidKey, key)
	}
	// Made before the locks: the factory is caller code.
	v := h.newValidator()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	s := h.streams[key]
	if s == nil {
		if limit := h.cfg.MaxStreams; limit > 0 && len(h.streams) >= limit {
			n := len(h.streams)
			h.mu.Unlock()
			return nil, fmt.Errorf("%w: %d live, limit %d", ErrTooManyStreams, n, limit)
		}
		s = newStream(h, key)
		if info.Source != "" {
			s.ts.anchor = renditionAnchor(h.streams[info.Source], info.SourceClock)
		}
		p := newPublisher(s, info, v)
		s.mu.Lock()
		s.attachLocked(p, false)
		s.mu.Unlock()
		h.streams[key] = s
		if w := h.waiters[key]; w != nil {
			delete(h.waiters, key)
			close(w.ch)
		}
		h.mu.Unlock()
		h.log.Info("publish started", "stream", key, "proto", info.Protocol, "remote", info.RemoteAddr)
		h.emit(Event{Type: EventPublish, Key: key, Publisher: info})
		return p, nil
	}

	s.mu.Lock()
	old := s.pub
	if old != nil && h.policy(s.app) != PolicyTakeover {
		s.mu.Unlock()
		h.mu.Unlock()
		return nil, ErrStreamBusy
	}
	if old != nil {
		old.detachLocked(ErrReplaced, true)
	} else {
		s.stopGraceLocked()
	}
	p := newPublisher(s, info, v)
	s.attachLocked(p, true)
	readers := len(s.readers)
	s.mu.Unlock()
	h.mu.Unlock()
	h.emit(Event{Type: EventPublish, Key: key, Resumed: true, Publisher: info, Readers: readers})
	if old != nil {
		h.log.Info("publisher replaced", "stream", key, "proto", info.Protocol, "remote", info.RemoteAddr,
			"old_remote", old.info.RemoteAddr)
	} else {
		h.log.Info("publish resumed", "stream", key, "proto", info.Protocol, "remote", info.RemoteAddr)
	}
	return p, nil
}

// renditionAnchor returns the first-session offset of a rendition of src
// (nil: the source is not live; it then starts at its first timestamp).
// The source's lock is taken under the rendition's: a source never locks
// its renditions, so the order cannot cycle.
func renditionAnchor(src *stream, sourceClock bool) func(ext int64) int64 {
	return func(ext int64) int64 {
		if !sourceClock {
			return 0 // already the source's stream times
		}
		if src != nil {
			src.mu.Lock()
			off, ok := src.ts.offset, src.ts.anchored
			src.mu.Unlock()
			if ok {
				return off
			}
		}
		return -ext
	}
}

// Subscribe attaches a reader to the live stream key (a stream within its
// reconnect grace counts as live). Under the stream lock the reader's queue
// is primed with metadata, sequence headers and the GOP cache, then the
// reader receives live packets: no gap, no duplicate. ErrStreamNotFound if
// the key is not live.
func (h *Hub) Subscribe(key string, info ReaderInfo) (*Reader, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	s := h.streams[key]
	if s == nil {
		h.mu.Unlock()
		return nil, ErrStreamNotFound
	}
	s.mu.Lock()
	h.mu.Unlock()
	r := s.addReaderLocked(info)
	readers := len(s.readers)
	s.mu.Unlock()
	h.emit(Event{Type: EventReaderJoin, Key: key, Reader: info, ReaderID: r.id, Readers: readers})
	return r, nil
}

// WaitStream blocks until key is live or ctx ends (returns ctx.Err()).
// It returns ErrClosed if the hub is or gets closed.
func (h *Hub) WaitStream(ctx context.Context, key string) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	if _, ok := h.streams[key]; ok {
		h.mu.Unlock()
		return nil
	}
	w := h.waiters[key]
	if w == nil {
		w = &waiter{ch: make(chan struct{})}
		h.waiters[key] = w
	}
	w.n++
	h.mu.Unlock()

	select {
	case <-w.ch:
		return w.err
	case <-ctx.Done():
		h.mu.Lock()
		w.n--
		if w.n == 0 && h.waiters[key] == w {
			delete(h.waiters, key)
		}
		h.mu.Unlock()
		return ctx.Err()
	}
}

// Streams returns a snapshot of all live streams, sorted by key.
func (h *Hub) Streams() []StreamInfo {
	h.mu.Lock()
	ss := make([]*stream, 0, len(h.streams))
	for _, s := range h.streams {
		ss = append(ss, s)
	}
	h.mu.Unlock()
	out := make([]StreamInfo, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.info())
	}
	slices.SortFunc(out, func(a, b StreamInfo) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// Stream returns a snapshot of one stream.
func (h *Hub) Stream(key string) (StreamInfo, bool) {
	h.mu.Lock()
	s := h.streams[key]
	h.mu.Unlock()
	if s == nil {
		return StreamInfo{}, false
	}
	return s.info(), true
}

// Close ends every stream: publishers get ErrClosed, readers drain and get
// io.EOF. It waits for running grace timers. Idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	var ended []string
	if !h.closed {
		h.closed = true
		for key, s := range h.streams {
			ended = append(ended, key)
			s.mu.Lock()
			if s.pub != nil {
				s.pub.detachLocked(ErrClosed, true)
				s.pub = nil
			}
			s.stopGraceLocked()
			s.endLocked()
			s.mu.Unlock()
			delete(h.streams, key)
		}
		for key, w := range h.waiters {
			w.err = ErrClosed
			close(w.ch)
			delete(h.waiters, key)
		}
	}
	h.mu.Unlock()
	for _, key := range ended {
		h.emit(Event{Type: EventStreamEnd, Key: key})
	}
	h.timers.Wait()
}

// expire ends s when its reconnect grace (armed as generation gen) runs out
// without a new publisher.
func (h *Hub) expire(s *stream, gen uint64) {
	h.mu.Lock()
	s.mu.Lock()
	ended := false
	if s.pub == nil && !s.ended && s.graceGen == gen {
		s.graceTimer = nil
		s.endLocked()
		if h.streams[s.key] == s {
			delete(h.streams, s.key)
		}
		ended = true
	}
	s.mu.Unlock()
	h.mu.Unlock()
	if ended {
		h.log.Info("stream ended", "stream", s.key, "cause", "reconnect grace expired")
		h.emit(Event{Type: EventStreamEnd, Key: s.key})
	}
}
