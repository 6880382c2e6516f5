package hls

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/netx"
)

// Bounds of the wait for decoder configurations before segmenting starts
// (and Config.SegmentMaxBytes of packet data).
const (
	maxPending  = 4096 // packets buffered before the tracks are known
	pendingSpan = 2000 // ms of media after which we start with what we have
)

// componentHLS names the muxers in panic counts.
const componentHLS = access.ProtoHLS

var errNoTrack = errors.New("hls: no usable track")

// muxer segments one live stream: it owns the stream's only hub reader.
//
// Everything a publisher sends goes through handle on the muxer goroutine,
// whose body runs through Config.Panics: a panic there (a bug, or a
// library meeting input it did not expect) stops this stream's HLS, not
// the process. The muxer then keeps reading the same hub reader,
// discarding packets, and starts afresh (new media epoch, discontinuity) at
// the stream's next sequence header. It does not resubscribe: the hub
// would replay the same headers and GOP and the same crash would follow.
type muxer struct {
	key      string
	cfg      *Config
	hub      *hub.Hub
	log      *slog.Logger
	md       atomic.Pointer[media] // replaced after a panic
	seg      *segmenter
	disk     *disk
	epochs   *epochs
	cancel   context.CancelFunc
	stopped  chan struct{} // closed when run returns
	since    time.Time     // when the muxer was created
	idling   atomic.Bool   // the idle watch runs (Manager.watchIdle)
	resumed  atomic.Bool   // a publisher resumed the stream: next header restarts
	lastReq  atomic.Int64  // unix ns of the last HTTP request (on demand)
	panicLog netx.LogLimiter

	info func() hub.StreamInfo // the stream's tracks (the hub reader's)
	// rendition: the stream renders another (its segmenters cut on the
	// timeline's grid); owned by run.
	rendition bool
	batch     []*av.Packet // packets read, handled up to pos
	pos       int
	readErr   error // the error that came with batch
	liveDTS   int64 // highest DTS read so far

	v        *videoTrack // usable configurations (nil: none)
	a        *audioTrack
	vHdr     header
	aHdr     header
	inited   bool
	halted   error // HLS stopped for this reason until a usable header
	crashed  bool  // a panic: discard packets until a sequence header
	pending  []*av.Packet
	pendingN int // bytes of pending packets
	errCount int
}

// header is the last sequence header of a track.
type header struct {
	seen   bool
	codec  av.Codec
	record []byte // its payload, for change detection
	err    error  // why it is unusable; nil if usable
}

func newMuxer(key string, cfg *Config, h *hub.Hub, ep *epochs) *muxer {
	now := time.Now()
	mx := &muxer{
		key:     key,
		cfg:     cfg,
		hub:     h,
		log:     cfg.Logger.With("proto", access.ProtoHLS, "stream", key),
		epochs:  ep,
		stopped: make(chan struct{}),
		since:   now,
	}
	mx.lastReq.Store(now.UnixNano())
	if cfg.Directory != "" {
		d, err := newDisk(cfg.Directory, key, mx.log)
		if err != nil {
			mx.log.Warn("hls directory unusable", "err", err)
		} else {
			mx.disk = d
		}
	}
	mx.start(newMedia(key, cfg.Variant, cfg, ep.next(now)))
	return mx
}

// start makes md the published media, segmented by a new segmenter.
func (mx *muxer) start(md *media) {
	s := newSegmenter(md, mx.cfg, mx.disk)
	s.log = mx.log
	s.grid = mx.rendition // a rendition: cut where its source does
	s.liveDTS = mx.liveDTS
	if f := mx.cfg.onUpdate; f != nil {
		key := mx.key
		s.onFlush = func(dts int64) { f(key, dts) }
	}
	mx.seg = s
	mx.md.Store(md)
}

// media returns the media HTTP requests read now.
func (mx *muxer) media() *media { return mx.md.Load() }

// run reads the hub until the stream ends, ctx ends or the muxer idles out.
func (mx *muxer) run(ctx context.Context) error {
	defer func() { mx.media().end() }()
	defer mx.disk.clear()
	buf := make([]*av.Packet, 0, 256)
	for {
		err := mx.read(ctx, buf)
		if !errors.Is(err, hub.ErrSlowReader) {
			return err
		}
		// Evicted (a stall, e.g. a slow hls.directory disk): the stream
		// goes on, so rejoin it at its GOP cache. The replayed headers
		// mark the gap as a discontinuity.
		mx.log.Warn("hls muxer fell behind; rejoining the stream", "err", err)
		mx.resumed.Store(true)
	}
}

// read subscribes and segments until the reader ends, recovering panics.
func (mx *muxer) read(ctx context.Context, buf []*av.Packet) error {
	r, err := mx.hub.Subscribe(mx.key, hub.ReaderInfo{Protocol: access.ProtoHLS})
	if err != nil {
		return err
	}
	defer r.Close()
	mx.info = r.Stream
	mx.rendition = r.Stream().Publisher.Source != ""
	mx.seg.grid = mx.rendition
	mx.batch, mx.pos, mx.readErr = nil, 0, nil
	pump := func() error { return mx.pump(ctx, r, buf) }
	for {
		err := mx.cfg.Panics.Run(componentHLS, pump)
		if _, ok := guard.AsPanic(err); !ok {
			return err
		}
		mx.crash(err)
	}
}

// pump handles packets until the reader ends. After a panic it resumes
// with the packet after the one that panicked.
func (mx *muxer) pump(ctx context.Context, r *hub.Reader, buf []*av.Packet) error {
	for {
		for mx.pos < len(mx.batch) {
			p := mx.batch[mx.pos]
			mx.batch[mx.pos] = nil
			mx.pos++
			mx.handle(p)
		}
		if mx.readErr != nil {
			return mx.readErr
		}
		pkts, err := r.Read(ctx, buf[:0])
		for _, p := range pkts {
			mx.liveDTS = max(mx.liveDTS, p.DTS)
		}
		mx.seg.liveDTS = mx.liveDTS
		mx.batch, mx.pos, mx.readErr = pkts, 0, err
	}
}

// crash stops the stream's HLS after a panic: one Error line with the
// stack (at most one a second), playlists answer 503 until a new media
// (new epoch, numbering carried on) has a segment, and packets are
// discarded until the next sequence header.
func (mx *muxer) crash(err error) {
	if n, ok := mx.panicLog.Allow(); ok {
		guard.Log(mx.log, err, "then", "hls stopped until the next sequence header", "suppressed", n)
	}
	old := mx.media()
	md := newMedia(mx.key, mx.cfg.Variant, mx.cfg, mx.epochs.next(time.Now()))
	md.carry(old)
	mx.disk.reset()
	mx.start(md)
	old.retire()
	clear(mx.pending)
	mx.pending, mx.pendingN = nil, 0
	mx.inited, mx.halted, mx.crashed = false, nil, true
}

// idle stops an on-demand muxer nobody has requested for IdleTimeout.
func (mx *muxer) idle() {
	tick := time.NewTicker(max(mx.cfg.IdleTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-mx.stopped:
			return
		case now := <-tick.C:
			if now.Sub(time.Unix(0, mx.lastReq.Load())) > mx.cfg.IdleTimeout {
				mx.cancel()
				return
			}
		}
	}
}

// closeCause names why run ended, for the "err" of the one "stopped" log
// line: a word for the expected ends, the error itself for a failure.
func closeCause(err error) (slog.Level, any) {
	switch {
	case errors.Is(err, io.EOF):
		return slog.LevelInfo, "stream ended"
	case errors.Is(err, context.Canceled):
		return slog.LevelInfo, "stopped"
	case errors.Is(err, hub.ErrSlowReader):
		return slog.LevelWarn, "evicted: too slow"
	case errors.Is(err, hub.ErrStreamNotFound):
		return slog.LevelDebug, "stream not live"
	case err == nil:
		return slog.LevelWarn, "failed"
	}
	return slog.LevelWarn, err
}

func (mx *muxer) handle(p *av.Packet) {
	var payload []byte
	switch p.Kind {
	case av.KindVideo:
		if flv.IsVideoMetadata(p) || flv.IsSequenceEnd(p) {
			return // E-RTMP colorInfo (AMF) or an end of sequence: not frames
		}
		payload = flv.VideoPayload(p)
		if p.Header {
			mx.header(&mx.vHdr, p.Codec, payload)
			return
		}
	case av.KindAudio:
		payload = flv.AudioPayload(p)
		if p.Header {
			mx.header(&mx.aHdr, p.Codec, payload)
			return
		}
	default:
		return
	}
	if len(payload) == 0 || mx.crashed {
		return
	}
	if !mx.inited {
		mx.pending = append(mx.pending, p)
		mx.pendingN += len(p.Data)
		mx.tryInit()
		return
	}
	if mx.halted == nil {
		mx.feed(p, payload)
	}
}

func (mx *muxer) feed(p *av.Packet, payload []byte) {
	var err error
	switch {
	case p.Kind == av.KindVideo && mx.v != nil && p.Codec == mx.v.codec:
		err = mx.seg.video(p.DTS, p.CTS, p.Keyframe, payload)
	case p.Kind == av.KindAudio && mx.a != nil && p.Codec == av.CodecAAC:
		err = mx.seg.audio(p.DTS, payload)
	}
	mx.check(err)
}

// check logs the first error and every 1000th after it: a broken publisher
// must not flood the log (one line per state change).
func (mx *muxer) check(err error) {
	if err == nil {
		return
	}
	if mx.errCount%1000 == 0 {
		mx.log.Warn("hls packet skipped", "err", err, "errors", mx.errCount+1)
	}
	mx.errCount++
}

// header handles a sequence header: a new configuration for the track h
// (video or audio by h).
func (mx *muxer) header(h *header, c av.Codec, record []byte) {
	switch {
	case mx.crashed:
		// The restart after a panic: whatever the header, start afresh
		// with it (and the other track as last configured).
		mx.crashed = false
		mx.log.Info("hls restarting after a panic")
	case h.seen && h.codec == c && bytes.Equal(h.record, record):
		if mx.halted != nil && h.err == nil {
			mx.apply() // a usable header while stopped: resume
		} else if mx.inited && mx.resumed.Swap(false) {
			// After a publisher resumed the stream an unchanged
			// configuration still marks the encoder restart.
			mx.check(mx.seg.restart())
		}
		return
	}
	h.seen, h.codec, h.record = true, c, bytes.Clone(record)
	if h == &mx.vHdr {
		mx.v, h.err = parseVideoConfig(c, h.record)
	} else {
		mx.a, h.err = parseAudioConfig(c, h.record)
	}
	mx.resumed.Store(false)
	switch {
	case !mx.inited:
		// tryInit decides once media arrives.
	case h.err != nil:
		// Samples of this configuration cannot be muxed, and must not be
		// written under the previous one.
		mx.halt(h.err)
	default:
		mx.apply()
	}
}

// apply (re)starts segmenting with every usable track: a new container and
// init section are built first and swapped in only if that succeeds.
func (mx *muxer) apply() {
	v, a := mx.v, mx.a
	if v == nil && a == nil {
		mx.halt(cmpErr(mx.vHdr.err, mx.aHdr.err, errNoTrack))
		return
	}
	c, init, err := mx.seg.build(v, a)
	if err != nil {
		mx.halt(err)
		return
	}
	mx.check(mx.seg.install(v, a, c, init))
	if mx.halted != nil {
		mx.halted = nil
		mx.log.Info("hls resumed", "codecs", codecs(v, a))
	}
}

// halt stops the stream's HLS until a usable header arrives: the segment in
// progress ends, samples are dropped. One line says why.
func (mx *muxer) halt(err error) {
	if mx.halted == nil {
		mx.log.Warn("hls stopped: waiting for a usable sequence header", "err", err)
	}
	mx.halted = err
	mx.check(mx.seg.halt())
}

// tryInit starts segmenting once the configurations of every track the
// stream carries are known (the hub primes a new reader with them), or
// after pendingSpan ms of media, maxPending packets or SegmentMaxBytes of
// them with whatever is known.
func (mx *muxer) tryInit() {
	full := len(mx.pending) >= maxPending || int64(mx.pendingN) >= mx.cfg.SegmentMaxBytes
	if !mx.vHdr.seen && !mx.aHdr.seen {
		if full {
			mx.trimPending()
		}
		return
	}
	info := mx.info()
	needV := info.HasVideo && (info.VideoCodec == av.CodecH264 || info.VideoCodec == av.CodecHEVC)
	needA := info.HasAudio && info.AudioCodec == av.CodecAAC
	ready := (!needV || mx.vHdr.seen) && (!needA || mx.aHdr.seen)
	if !ready && !full && mx.pending[len(mx.pending)-1].DTS-mx.pending[0].DTS < pendingSpan {
		return
	}
	mx.inited = true
	for _, t := range []struct {
		name string
		h    *header
	}{{"video", &mx.vHdr}, {"audio", &mx.aHdr}} {
		if t.h.err != nil && (mx.v != nil || mx.a != nil) {
			mx.log.Warn("hls track unusable: left out", "track", t.name, "err", t.h.err)
		}
	}
	mx.log.Debug("hls tracks", "codecs", codecs(mx.v, mx.a))
	mx.apply()
	pending := mx.pending
	mx.pending, mx.pendingN = nil, 0
	if mx.halted != nil {
		return
	}
	for _, p := range pending {
		if p.Kind == av.KindVideo {
			mx.feed(p, flv.VideoPayload(p))
		} else {
			mx.feed(p, flv.AudioPayload(p))
		}
	}
}

// trimPending drops the older packets buffered while no configuration is
// known, down to half of each limit.
func (mx *muxer) trimPending() {
	n := 0
	for n < len(mx.pending) && (len(mx.pending)-n > maxPending/2 || int64(mx.pendingN) > mx.cfg.SegmentMaxBytes/2) {
		mx.pendingN -= len(mx.pending[n].Data)
		n++
	}
	clear(mx.pending[:n])
	mx.pending = append(mx.pending[:0], mx.pending[n:]...)
}

// epochs hands out media epochs (Unix ms, in names) that never repeat
// within a Manager, even for two starts in the same millisecond: an
// immutable cached name must never mean other bytes.
type epochs struct{ last atomic.Int64 }

func (e *epochs) next(now time.Time) time.Time {
	if e == nil {
		return now
	}
	for {
		last := e.last.Load()
		ms := max(now.UnixMilli(), last+1)
		if e.last.CompareAndSwap(last, ms) {
			return time.UnixMilli(ms)
		}
	}
}
