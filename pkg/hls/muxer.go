package hls

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// Bounds of the wait for decoder configurations before segmenting starts.
const (
	maxPending  = 4096 // packets buffered before the tracks are known
	pendingSpan = 2000 // ms of media after which we start with what we have
)

// muxer segments one live stream: it owns the stream's only hub reader.
type muxer struct {
	key     string
	cfg     *Config
	hub     *hub.Hub
	log     *slog.Logger
	media   *media
	seg     *segmenter
	disk    *disk
	cancel  context.CancelFunc
	stopped chan struct{} // closed when run returns
	resumed atomic.Bool   // a publisher resumed the stream: next header restarts
	lastReq atomic.Int64  // unix ns of the last HTTP request (on demand)

	r        *hub.Reader
	v        *videoTrack
	a        *audioTrack
	inited   bool
	pending  []*av.Packet
	errCount int
}

func newMuxer(key string, cfg *Config, h *hub.Hub, onUpdate func(string, int64)) *muxer {
	now := time.Now()
	mx := &muxer{
		key:     key,
		cfg:     cfg,
		hub:     h,
		log:     cfg.Logger.With("proto", "hls", "stream", key),
		media:   newMedia(key, cfg.Variant, cfg, now),
		stopped: make(chan struct{}),
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
	mx.seg = newSegmenter(mx.media, cfg, mx.disk)
	if onUpdate != nil {
		mx.seg.onFlush = func(dts int64) { onUpdate(key, dts) }
	}
	return mx
}

// run reads the hub until the stream ends, ctx ends or the muxer idles out.
func (mx *muxer) run(ctx context.Context) error {
	defer mx.media.end()
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

// read subscribes and segments until the reader ends.
func (mx *muxer) read(ctx context.Context, buf []*av.Packet) error {
	r, err := mx.hub.Subscribe(mx.key, hub.ReaderInfo{Protocol: "hls"})
	if err != nil {
		return err
	}
	defer r.Close()
	mx.r = r
	for {
		pkts, err := r.Read(ctx, buf[:0])
		for _, p := range pkts {
			mx.seg.liveDTS = max(mx.seg.liveDTS, p.DTS)
		}
		for i, p := range pkts {
			mx.handle(p)
			pkts[i] = nil
		}
		if err != nil {
			return err
		}
	}
}

// idle stops an on-demand muxer nobody has requested for IdleTimeout.
func (mx *muxer) idle(ctx context.Context) {
	tick := time.NewTicker(max(mx.cfg.IdleTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if now.Sub(time.Unix(0, mx.lastReq.Load())) > mx.cfg.IdleTimeout {
				mx.cancel()
				return
			}
		}
	}
}

// closeCause names why run ended, for the one "stopped" log line.
func closeCause(err error) (slog.Level, string) {
	switch {
	case errors.Is(err, io.EOF):
		return slog.LevelInfo, "stream ended"
	case errors.Is(err, context.Canceled):
		return slog.LevelInfo, "stopped"
	case errors.Is(err, hub.ErrSlowReader):
		return slog.LevelWarn, "evicted: too slow"
	case errors.Is(err, hub.ErrStreamNotFound):
		return slog.LevelDebug, "stream not live"
	}
	return slog.LevelWarn, "failed"
}

func (mx *muxer) handle(p *av.Packet) {
	var payload []byte
	switch p.Kind {
	case av.KindVideo:
		payload = flv.VideoPayload(p)
		if p.Header {
			mx.videoHeader(p.Codec, payload)
			return
		}
	case av.KindAudio:
		payload = flv.AudioPayload(p)
		if p.Header {
			mx.audioHeader(p.Codec, payload)
			return
		}
	default:
		return
	}
	if len(payload) == 0 {
		return
	}
	if !mx.inited {
		mx.pending = append(mx.pending, p)
		mx.tryInit()
		return
	}
	mx.feed(p, payload)
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

func (mx *muxer) videoHeader(c av.Codec, record []byte) {
	if c != av.CodecH264 && c != av.CodecHEVC {
		return
	}
	if mx.v != nil && bytes.Equal(mx.v.record, record) {
		mx.sameHeader()
		return
	}
	vt, err := parseVideoConfig(c, record)
	if err != nil {
		mx.check(err)
		return
	}
	mx.v = vt
	mx.reconfigure()
}

func (mx *muxer) audioHeader(c av.Codec, record []byte) {
	if c != av.CodecAAC {
		return
	}
	if mx.a != nil && bytes.Equal(mx.a.record, record) {
		mx.sameHeader()
		return
	}
	at, err := parseAudioConfig(c, record)
	if err != nil {
		mx.check(err)
		return
	}
	mx.a = at
	mx.reconfigure()
}

// sameHeader handles a repeated, unchanged configuration: after a publisher
// resumed the stream it still marks the encoder restart.
func (mx *muxer) sameHeader() {
	if mx.inited && mx.resumed.Swap(false) {
		mx.check(mx.seg.restart())
	}
}

func (mx *muxer) reconfigure() {
	mx.resumed.Store(false)
	if mx.inited {
		mx.check(mx.seg.configure(mx.v, mx.a))
	}
}

// tryInit starts segmenting once the configurations of every track the
// stream carries are known (the hub primes a new reader with them), or
// after pendingSpan ms of media with whatever is known.
func (mx *muxer) tryInit() {
	if mx.v == nil && mx.a == nil {
		if len(mx.pending) > maxPending {
			mx.pending = append(mx.pending[:0], mx.pending[maxPending/2:]...)
		}
		return
	}
	info := mx.r.Stream()
	needV := info.HasVideo && (info.VideoCodec == av.CodecH264 || info.VideoCodec == av.CodecHEVC)
	needA := info.HasAudio && info.AudioCodec == av.CodecAAC
	ready := (!needV || mx.v != nil) && (!needA || mx.a != nil)
	if !ready && mx.pending[len(mx.pending)-1].DTS-mx.pending[0].DTS < pendingSpan && len(mx.pending) < maxPending {
		return
	}
	mx.inited = true
	mx.log.Debug("hls tracks", "codecs", codecs(mx.v, mx.a))
	if err := mx.seg.configure(mx.v, mx.a); err != nil {
		mx.check(err)
	}
	pending := mx.pending
	mx.pending = nil
	for _, p := range pending {
		if p.Kind == av.KindVideo {
			mx.feed(p, flv.VideoPayload(p))
		} else {
			mx.feed(p, flv.AudioPayload(p))
		}
	}
}
