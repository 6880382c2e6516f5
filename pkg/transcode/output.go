package transcode

import (
	"bytes"
	"log/slog"
	"sync"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// anchorSlack is how far after the ladder's base (the first source time
// it fed) a rendition's first packet may be and still be anchored at the
// base, so that its timeline is its source's. It stays below the hub's
// forward-jump limit (3 s, hub/timestamp.go), past which the hub would
// rebase the rendition's next packet instead.
const anchorSlack = 2000

// Track indexes of per-track state.
const (
	trackVideo = 0
	trackAudio = 1
)

func trackOf(k av.Kind) int {
	if k == av.KindAudio {
		return trackAudio
	}
	return trackVideo
}

// rendition is one rung's output: its hub publisher, kept across ffmpeg
// restarts, and the timestamp state that keeps it on its source's clock.
//
// The fields above mu belong to the goroutine that reads the rung's output
// during a run, and to the ladder's goroutine between runs (runs never
// overlap).
type rendition struct {
	name string
	key  string
	info hub.PublisherInfo
	h    *hub.Hub
	log  *slog.Logger

	pub     *hub.Publisher
	lost    bool      // the publisher was replaced or kicked: nothing more is published
	retryAt time.Time // after a refused Publish: not tried again before (nor in the same run)

	has      [2]bool  // a media packet of the track was published
	last     [2]int64 // the source time of the track's last media packet
	anchored bool     // the first media packet was published
	needKey  bool     // the run's video waits for a keyframe

	// Pending metadata and sequence headers of the current run, published
	// before the next media packet (of their track); the last published
	// ones, to skip a restarted ffmpeg's identical repeats.
	meta     *av.Packet
	hdrs     [2]*av.Packet
	lastMeta []byte
	lastHdr  [2][]byte
	// shiftLogged is the last run that logged a timeline shift.
	shiftLogged uint64

	mu     sync.Mutex // the status below
	live   bool
	frames uint64
	offset int64
	rate   rateWindow
}

func newRendition(h *hub.Hub, log *slog.Logger, source string, r Rung) *rendition {
	key := RenditionKey(source, r.Name)
	return &rendition{
		name: r.Name,
		key:  key,
		h:    h,
		log:  log.With("rendition", key),
		info: hub.PublisherInfo{Protocol: Protocol, Source: source, Rendition: r.Name},
	}
}

// beginRun resets the per-run state: a new ffmpeg sends its own headers,
// and its video must start at a keyframe.
func (o *rendition) beginRun() {
	o.retryAt = time.Time{}
	o.meta = nil
	o.hdrs = [2]*av.Packet{}
	o.needKey = true
}

// handle takes one packet of the rung's output, timed by ffmpeg
// (run.sourceTime maps it back to the source's time), and publishes it.
func (o *rendition) handle(p *av.Packet, run *run) {
	switch {
	case p.Kind == av.KindData:
		if flv.IsMetaData(p) {
			o.meta = p
		}
		return
	case p.Header:
		o.hdrs[trackOf(p.Kind)] = p
		return
	case p.Kind == av.KindVideo && (flv.IsSequenceEnd(p) || flv.IsVideoMetadata(p)):
		return
	}
	ts := run.sourceTime(p.DTS)
	t := trackOf(p.Kind)
	switch {
	case o.has[t] && ts <= o.last[t]:
		// A restarted ffmpeg starts at the source's cached keyframe:
		// what the previous one already published is dropped, so the
		// rendition's timeline goes on exactly.
		return
	case !o.has[t] && ts < run.l.base:
		// Encoder output timed before the first source frame (AAC
		// priming, B-frame DTS).
		return
	case t == trackVideo && o.needKey && !p.Keyframe:
		return
	}
	if o.lost {
		return
	}
	if t == trackVideo {
		o.needKey = false
	}
	if o.pub == nil && !o.publish() {
		return
	}
	wire := ts
	if !o.anchored {
		// The first packet the hub sees anchors the rendition's
		// timeline at 0. Anchored at the ladder's base, which is 0 for a
		// ladder that started with its source, the rendition has the
		// source's timeline exactly; a first frame further away than the
		// hub's jump limit anchors at itself.
		if d := ts - run.l.base; d >= 0 && d <= anchorSlack {
			wire = run.l.base
		}
	}
	if o.meta != nil {
		if !bytes.Equal(o.meta.Data, o.lastMeta) {
			m := o.meta
			m.DTS = wire
			o.lastMeta = m.Data
			if !o.write(m) {
				return
			}
		}
		o.meta = nil
	}
	if h := o.hdrs[t]; h != nil {
		o.hdrs[t] = nil
		if !bytes.Equal(h.Data, o.lastHdr[t]) {
			h.DTS = wire
			o.lastHdr[t] = h.Data
			if !o.write(h) {
				return
			}
		}
	}
	o.anchored = true
	p.DTS = ts
	size := len(p.Data)
	if !o.write(p) {
		return
	}
	// The hub rewrote p.DTS to the rendition's timeline (only this
	// goroutine writes it; readers only read it).
	offset := ts - p.DTS
	o.has[t], o.last[t] = true, ts
	now := time.Now()
	frame := t == trackVideo
	o.mu.Lock()
	if frame {
		o.frames++
	}
	was := o.offset
	shifted := was != offset && o.frames > 1
	o.offset = offset
	o.rate.add(now.Unix(), size, frame)
	o.mu.Unlock()
	if shifted && o.shiftLogged != run.id {
		// The hub rebased the rendition (a gap over its jump limit):
		// from here on it is offset from its source (once per run).
		o.shiftLogged = run.id
		o.log.Info("rendition timeline shifted", "offset_ms", offset, "was_ms", was)
	}
}

// publishRetry is how long a rendition whose key was refused (busy, the
// hub's stream limit) waits before it asks again; a new run asks at once.
const publishRetry = 5 * time.Second

// publish claims the rendition's key; false means it could not now.
func (o *rendition) publish() bool {
	now := time.Now()
	if now.Before(o.retryAt) {
		return false
	}
	pub, err := o.h.Publish(o.key, o.info)
	if err != nil {
		o.retryAt = now.Add(publishRetry)
		o.log.Warn("rendition not published", "err", err, "retry", publishRetry)
		return false
	}
	o.pub = pub
	o.lastMeta, o.lastHdr = nil, [2][]byte{}
	o.mu.Lock()
	o.live = true
	o.mu.Unlock()
	return true
}

// write publishes p; false means the publisher is gone (replaced by
// another publisher, kicked, the hub closed): the rendition stays
// unpublished until its ladder ends.
func (o *rendition) write(p *av.Packet) bool {
	err := o.pub.WritePacket(p)
	if err == nil {
		return true
	}
	o.log.Warn("rendition publisher ended", "err", err)
	o.pub = nil
	o.lost = true
	o.mu.Lock()
	o.live = false
	o.mu.Unlock()
	return false
}

// end ends the rendition's stream at once (its players end now, without
// the reconnect grace).
func (o *rendition) end() {
	if o.pub != nil {
		o.pub.End()
		o.pub = nil
	}
	o.mu.Lock()
	o.live = false
	o.mu.Unlock()
}

func (o *rendition) status() RenditionStatus {
	now := time.Now().Unix()
	o.mu.Lock()
	defer o.mu.Unlock()
	bps, fps := o.rate.rates(now)
	return RenditionStatus{
		Name:    o.name,
		Key:     o.key,
		Live:    o.live,
		FPS:     fps,
		Bitrate: bps,
		Frames:  o.frames,
		Offset:  o.offset,
	}
}

// Rate window: per-second buckets of the bytes and frames published; the
// rates are taken over the last rateSpan complete seconds.
const (
	rateSlots = 8
	rateSpan  = 5
)

type rateWindow struct {
	first  int64 // unix second of the first packet; 0 none yet
	sec    [rateSlots]int64
	bytes  [rateSlots]int64
	frames [rateSlots]int64
}

func (w *rateWindow) add(sec int64, n int, frame bool) {
	if w.first == 0 {
		w.first = sec
	}
	i := sec % rateSlots
	if w.sec[i] != sec {
		w.sec[i], w.bytes[i], w.frames[i] = sec, 0, 0
	}
	w.bytes[i] += int64(n)
	if frame {
		w.frames[i]++
	}
}

// rates returns bits/s and frames/s over the complete seconds of the last
// rateSpan (fewer when the rendition is younger).
func (w *rateWindow) rates(now int64) (bps int64, fps float64) {
	if w.first == 0 {
		return 0, 0
	}
	span := min(int64(rateSpan), now-w.first)
	if span <= 0 {
		return 0, 0
	}
	var b, f int64
	for s := now - span; s < now; s++ {
		if i := s % rateSlots; w.sec[i] == s {
			b += w.bytes[i]
			f += w.frames[i]
		}
	}
	return b * 8 / span, float64(f) / float64(span)
}
