// Package thumb serves a live stream's latest keyframe as a JPEG:
// GET /{app...}/{stream}.jpg.
//
// A decode takes a short-lived hub reader (access.ProtoThumbnail), which
// the hub primes with the sequence headers and the cached GOP, keeps the
// first video keyframe and closes the reader at once. The keyframe and its
// decoder configuration become a small file (input.go) that the real
// ffmpeg, run as a subprocess, turns into one JPEG: no codec library is
// linked. Each stream's image is cached: a stream is decoded at most once
// per Config.Interval, concurrent requests share one decode, and
// Config.MaxConcurrent bounds the decodes of all streams (a request that
// finds them all busy gets its stream's stale image if there is one, or
// ErrBusy).
//
// Hostile by default: every decode runs through Config.Panics, its input
// is bounded (MaxInputBytes) and so are ffmpeg's output (MaxOutputBytes),
// its stderr and its run time (Config.Timeout); ffmpeg runs in a process
// group of its own that is killed after it exits, on timeout and on Close,
// and is always waited for. The cache is bounded by entries
// (Config.MaxStreams) and bytes (Config.MaxCacheBytes), and an entry is
// dropped when its stream ends. The design, the codecs and the HTTP
// statuses are described in docs/thumbnails.md (§1 a decode, §2 bounds,
// §3 cache and HTTP).
package thumb

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image/jpeg"
	"log/slog"
	"net/http"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/netx"
)

// Defaults applied by New to zero (or negative) Config fields.
const (
	DefaultInterval      = 5 * time.Second
	DefaultMaxConcurrent = 2
	DefaultTimeout       = 5 * time.Second
	DefaultMaxStreams    = 1000
	DefaultMaxCacheBytes = 64 << 20

	// MaxInputBytes caps what one decode feeds ffmpeg (the keyframe and its
	// sequence header); a larger keyframe is refused (ErrTooLarge). The
	// hub's GOP cache bound (16 MiB by default) already limits keyframes
	// that reach a late joiner.
	MaxInputBytes = 16 << 20
)

// componentThumbnail names the decodes in panic counts.
const componentThumbnail = "thumbnail"

// Errors of Get. The HTTP handler maps each to a status (handler.go).
var (
	// ErrNotLive: the stream is not live (or ended during the decode).
	ErrNotLive = errors.New("thumb: stream not live")
	// ErrNoVideo: the stream carries no video.
	ErrNoVideo = errors.New("thumb: stream has no video")
	// ErrUnavailable: no ffmpeg binary was found at New.
	ErrUnavailable = errors.New("thumb: ffmpeg unavailable")
	// ErrBusy: every decode slot is taken and no image is cached.
	ErrBusy = errors.New("thumb: too many decodes running")
	// ErrNoKeyframe: no video keyframe arrived within Config.Timeout.
	ErrNoKeyframe = errors.New("thumb: no keyframe within the timeout")
	// ErrUnsupportedCodec: the keyframe's codec has no decoder input
	// (E-RTMP codecs other than avc1, hvc1, av01 and vp09).
	ErrUnsupportedCodec = errors.New("thumb: video codec not supported")
	// ErrTooLarge: the keyframe exceeds MaxInputBytes.
	ErrTooLarge = errors.New("thumb: keyframe too large")
	// ErrDecode: ffmpeg failed, timed out, or wrote no JPEG.
	ErrDecode = errors.New("thumb: decode failed")
	// ErrClosed: the Thumbnailer is closed.
	ErrClosed = errors.New("thumb: closed")
)

// Config configures a Thumbnailer. Zero values mean the documented
// defaults.
type Config struct {
	Logger *slog.Logger // nil: discard
	// FFmpeg is the ffmpeg binary, a path or a name looked up in PATH;
	// "" means "ffmpeg". It is resolved once, by New.
	FFmpeg string
	// Interval is the shortest time between two decodes of one stream;
	// requests in between get the cached image (or the cached error).
	// Default DefaultInterval.
	Interval time.Duration
	// MaxConcurrent bounds the decodes running at once over all streams.
	// Default DefaultMaxConcurrent.
	MaxConcurrent int
	// Timeout bounds each of a decode's two waits: for a keyframe from the
	// hub, and for ffmpeg (killed then). Default DefaultTimeout.
	Timeout time.Duration
	// MaxStreams bounds the cached entries (least recently used dropped
	// first). Default DefaultMaxStreams.
	MaxStreams int
	// MaxCacheBytes bounds the JPEG bytes cached over all streams (least
	// recently used dropped first). Default DefaultMaxCacheBytes.
	MaxCacheBytes int
	// Width scales pictures wider than it down to it (aspect kept); 0
	// keeps the stream's size.
	Width int
	// Authorize admits a request for a stream key (play admission); nil
	// admits every request. When set, images are sent with
	// Cache-Control: private, since a shared cache would hand them to
	// viewers who were never admitted.
	Authorize func(r *http.Request, key string) bool
	// Panics recovers and counts (component "thumbnail") panics of the
	// decodes; nil recovers without counting.
	Panics *guard.Recorder
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.FFmpeg == "" {
		c.FFmpeg = "ffmpeg"
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = DefaultMaxStreams
	}
	if c.MaxCacheBytes <= 0 {
		c.MaxCacheBytes = DefaultMaxCacheBytes
	}
	c.Width = max(c.Width, 0)
	return c
}

// Stats are a Thumbnailer's counters since New, for metrics.
type Stats struct {
	Decodes   uint64 // decodes started (one per stream per Interval at most)
	Failures  uint64 // decodes that ended without an image
	CacheHits uint64 // requests answered from the cache (stale images and cached failures included)
	Busy      uint64 // requests refused with ErrBusy
	Cached    int    // cache entries now
	CacheSize int    // JPEG bytes cached now
}

// Thumbnailer decodes and caches thumbnails of a hub's streams. Safe for
// concurrent use.
type Thumbnailer struct {
	cfg     Config
	log     *slog.Logger
	hub     *hub.Hub
	dec     decoder
	missing error // why ffmpeg is unavailable; nil when found

	ctx     context.Context // ends with Close; parent of every decode
	cancel  context.CancelCauseFunc
	unwatch func()
	sem     chan struct{} // one token per running decode
	wg      sync.WaitGroup
	now     func() time.Time

	mu      sync.Mutex
	closed  bool
	entries map[string]*entry
	lru     list.List // of *entry, most recently used first
	bytes   int       // len(jpeg) over entries

	decodes, failures, hits, busy atomic.Uint64
	failLog                       netx.LogLimiter

	// Test hooks: testHookDecode runs at the start of every decode inside
	// its panic guard, testHookJoin when a request joins a running decode.
	testHookDecode func(key string)
	testHookJoin   func()
}

var _ http.Handler = (*Thumbnailer)(nil)

// image is one decoded thumbnail. Immutable once made.
type image struct {
	jpeg   []byte
	taken  time.Time // when the keyframe was taken from the hub
	etag   string    // strong, quoted: a hash of jpeg
	width  int
	height int
}

// entry is one stream's cache state, guarded by Thumbnailer.mu.
type entry struct {
	key  string
	elem *list.Element
	img  *image    // the last decode's image, nil if it failed
	err  error     // the last decode's error
	at   time.Time // when the last decode ended; zero before the first
	call *call     // the decode running now, if any
}

// call is one decode, shared by every request that waits for it.
type call struct {
	done chan struct{} // closed when img and err are set
	img  *image
	err  error
}

// New returns a Thumbnailer for the streams of h. It resolves
// Config.FFmpeg once; without it every request fails with ErrUnavailable
// (HTTP 501) and one Warn line says so here.
func New(cfg Config, h *hub.Hub) *Thumbnailer {
	cfg = cfg.withDefaults()
	t := &Thumbnailer{
		cfg:     cfg,
		log:     cfg.Logger.With("proto", access.ProtoThumbnail),
		hub:     h,
		sem:     make(chan struct{}, cfg.MaxConcurrent),
		now:     time.Now,
		entries: make(map[string]*entry),
	}
	t.ctx, t.cancel = context.WithCancelCause(context.Background())
	path, err := exec.LookPath(cfg.FFmpeg)
	if err != nil {
		t.missing = fmt.Errorf("%w: %w", ErrUnavailable, err)
		t.log.Warn("thumbnails disabled: ffmpeg not found", "ffmpeg", cfg.FFmpeg, "err", err)
	}
	t.dec = decoder{path: path, width: cfg.Width}
	t.unwatch = h.Watch(t.onEvent)
	return t
}

// Available returns nil when ffmpeg was found at New, otherwise why not
// (an error wrapping ErrUnavailable).
func (t *Thumbnailer) Available() error { return t.missing }

// Stats returns the counters.
func (t *Thumbnailer) Stats() Stats {
	t.mu.Lock()
	n, size := len(t.entries), t.bytes
	t.mu.Unlock()
	return Stats{
		Decodes:   t.decodes.Load(),
		Failures:  t.failures.Load(),
		CacheHits: t.hits.Load(),
		Busy:      t.busy.Load(),
		Cached:    n,
		CacheSize: size,
	}
}

// Close kills the running decodes (their ffmpeg process groups), waits for
// them and stops watching the hub; later requests get ErrClosed.
// Idempotent; the error is always nil (io.Closer).
func (t *Thumbnailer) Close() error {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.cancel(ErrClosed)
	t.unwatch()
	t.wg.Wait()
	t.mu.Lock()
	for _, e := range t.entries {
		t.removeLocked(e)
	}
	t.mu.Unlock()
	return nil
}

// onEvent drops a stream's entry when the stream ends, or when a new
// publisher resumes or takes it over (its encoder may differ). It runs on
// the hub's goroutines and only takes t.mu briefly.
func (t *Thumbnailer) onEvent(ev hub.Event) {
	if ev.Type != hub.EventStreamEnd && (ev.Type != hub.EventPublish || !ev.Resumed) {
		return
	}
	t.mu.Lock()
	if e := t.entries[ev.Key]; e != nil {
		t.removeLocked(e)
	}
	t.mu.Unlock()
}

// Get returns the latest keyframe of the live stream key as a JPEG and when
// it was taken: from the cache when the stream was decoded less than
// Config.Interval ago, otherwise from a new decode (shared with concurrent
// callers). Errors wrap ErrNotLive, ErrNoVideo, ErrUnavailable, ErrBusy,
// ErrNoKeyframe, ErrUnsupportedCodec, ErrTooLarge, ErrDecode or ErrClosed,
// or are ctx's. A decode outlives ctx (its result is cached); ctx only
// bounds the wait. The JPEG is shared: do not modify it.
func (t *Thumbnailer) Get(ctx context.Context, key string) (jpeg []byte, taken time.Time, err error) {
	img, err := t.get(ctx, key)
	if err != nil {
		return nil, time.Time{}, err
	}
	return img.jpeg, img.taken, nil
}

func (t *Thumbnailer) get(ctx context.Context, key string) (*image, error) {
	if t.missing != nil {
		return nil, t.missing
	}
	info, live := t.hub.Stream(key)
	if !live {
		return nil, ErrNotLive
	}
	if !info.HasVideo && info.HasAudio {
		return nil, ErrNoVideo
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, ErrClosed
	}
	e := t.entries[key]
	if e != nil {
		t.lru.MoveToFront(e.elem)
		if c := e.call; c != nil {
			t.mu.Unlock()
			if t.testHookJoin != nil {
				t.testHookJoin()
			}
			return wait(ctx, c)
		}
		if !e.at.IsZero() && t.now().Sub(e.at) < t.cfg.Interval {
			img, err := e.img, e.err
			t.mu.Unlock()
			t.hits.Add(1)
			return img, err
		}
	}
	select {
	case t.sem <- struct{}{}:
	default:
		// Every slot is busy: an old picture beats none.
		if e != nil && e.img != nil {
			img := e.img
			t.mu.Unlock()
			t.hits.Add(1)
			return img, nil
		}
		t.mu.Unlock()
		t.busy.Add(1)
		return nil, ErrBusy
	}
	if e == nil {
		e = &entry{key: key}
		e.elem = t.lru.PushFront(e)
		t.entries[key] = e
	}
	c := &call{done: make(chan struct{})}
	e.call = c
	t.wg.Add(1)
	t.mu.Unlock()
	// The decode is shared by every waiter and cached: it runs under the
	// Thumbnailer's context, not this caller's.
	go t.decode(e, c) //nolint:contextcheck // shared and cached: outlives this request
	return wait(ctx, c)
}

func wait(ctx context.Context, c *call) (*image, error) {
	select {
	case <-c.done:
		return c.img, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// decode runs one decode for e through the panic guard, stores its result
// in the cache (unless the entry was dropped meanwhile) and releases its
// slot and its waiters.
func (t *Thumbnailer) decode(e *entry, c *call) {
	defer t.wg.Done()
	t.decodes.Add(1)
	err := t.cfg.Panics.Run(componentThumbnail, func() error {
		if t.testHookDecode != nil {
			t.testHookDecode(e.key)
		}
		img, err := t.decodeOnce(e.key)
		c.img = img
		return err
	})
	<-t.sem
	if err != nil {
		c.img = nil
		c.err = err
		t.failures.Add(1)
		t.logFailure(e.key, err)
	}
	t.mu.Lock()
	if t.entries[e.key] == e {
		e.call = nil
		if errors.Is(err, ErrNotLive) || errors.Is(err, ErrClosed) {
			t.removeLocked(e)
		} else {
			t.setLocked(e, c.img, err)
		}
	}
	t.mu.Unlock()
	close(c.done)
}

// setLocked stores a decode's result in e and evicts the least recently
// used entries beyond the bounds.
func (t *Thumbnailer) setLocked(e *entry, img *image, err error) {
	if e.img != nil {
		t.bytes -= len(e.img.jpeg)
	}
	e.img, e.err, e.at = img, err, t.now()
	if img != nil {
		t.bytes += len(img.jpeg)
	}
	for len(t.entries) > t.cfg.MaxStreams || t.bytes > t.cfg.MaxCacheBytes {
		back := t.lru.Back()
		if back == nil {
			break
		}
		t.removeLocked(back.Value.(*entry))
	}
}

// removeLocked drops e from the cache. A decode still running for it
// completes for its waiters but is not cached.
func (t *Thumbnailer) removeLocked(e *entry) {
	if t.entries[e.key] != e {
		return
	}
	delete(t.entries, e.key)
	t.lru.Remove(e.elem)
	if e.img != nil {
		t.bytes -= len(e.img.jpeg)
	}
}

// decodeOnce takes a keyframe of key from the hub and has ffmpeg turn it
// into a JPEG.
func (t *Thumbnailer) decodeOnce(key string) (*image, error) {
	hdr, kf, taken, err := t.capture(key)
	if err != nil {
		return nil, err
	}
	in, err := buildInput(hdr, kf, MaxInputBytes)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.Timeout)
	defer cancel()
	b, err := t.dec.run(ctx, in)
	if err != nil {
		return nil, err
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: ffmpeg output is not a JPEG: %w", ErrDecode, err)
	}
	sum := sha256.Sum256(b)
	return &image{
		jpeg:   b,
		taken:  taken,
		etag:   `"` + hex.EncodeToString(sum[:12]) + `"`,
		width:  cfg.Width,
		height: cfg.Height,
	}, nil
}

// logFailure logs a failed decode, at most once a second over all streams:
// a broken publisher fails once per Interval per stream, and many of them
// must not flood the log. Ends that are not failures are not logged.
func (t *Thumbnailer) logFailure(key string, err error) {
	if errors.Is(err, ErrNotLive) || errors.Is(err, ErrNoVideo) || errors.Is(err, ErrClosed) {
		return
	}
	n, ok := t.failLog.Allow()
	if !ok {
		return
	}
	if guard.Log(t.log, err, "stream", key, "suppressed", n) {
		return
	}
	t.log.Warn("thumbnail failed", "stream", key, "err", err, "suppressed", n)
}
