package transcode

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// Feeding bounds.
const (
	// gateTimeout and gateMaxPackets bound how long ffmpeg's start waits
	// for the source's tracks to show up (see gateTracks).
	gateTimeout    = time.Second
	gateMaxPackets = 512
	// feedBatch packets are taken from the reader at once; their tags are
	// written to ffmpeg in writes of about flushBytes.
	feedBatch  = 128
	flushBytes = 256 << 10
	// maxKeptBuffer: a larger write buffer (a batch of big frames) is not
	// kept for the next batch.
	maxKeptBuffer = 4 << 20
	// maxRunSpan bounds the media time one ffmpeg run is fed: ffmpeg's
	// FLV muxer writes 31-bit timestamps (about 24.8 days), so a run is
	// restarted, from a new origin, before its timestamps get there.
	maxRunSpan = 20 * 24 * time.Hour
)

// gateTracks reads the source's first packets until it knows which tracks
// the source has, and returns them with the decision. The FLV header's
// flags tell ffmpeg's demuxer which streams to wait for: a flagged track
// that never comes delays ffmpeg's start by its probing time, and a track
// that shows up after the start is not mapped to the outputs. A late
// joiner is decided by its primed queue (headers and GOP); a fresh stream
// by its first frames, by the tracks its onMetaData announces, or after
// gateTimeout from its first frame.
func gateTracks(ctx context.Context, rd *hub.Reader, fresh bool) (pkts []*av.Packet, hasAudio, hasVideo bool, err error) {
	info := rd.Stream()
	expectV, expectA := info.HasVideo, info.HasAudio
	expectKnown := !fresh && time.Since(info.Since) >= gateTimeout
	var seenV, seenA bool
	var expire *time.Timer
	defer func() {
		if expire != nil {
			expire.Stop()
		}
	}()
	seen := 0
	for {
		// Into a slice without spare room: TryRead then takes everything
		// queued (Ready is not signalled again for what it leaves).
		var got []*av.Packet
		got, err = rd.TryRead(nil)
		pkts = append(pkts, got...)
		for _, p := range pkts[seen:] {
			switch p.Kind {
			case av.KindVideo:
				seenV = true
			case av.KindAudio:
				seenA = true
			case av.KindData:
				if v, a, ok := flv.MetaTracks(p); ok {
					expectV, expectA, expectKnown = expectV || v, expectA || a, true
				}
			}
		}
		seen = len(pkts)
		media := seenV || seenA
		switch {
		case seenV && seenA,
			media && expectKnown && (!expectV || seenV) && (!expectA || seenA):
			return pkts, seenA, seenV, nil
		case len(pkts) >= gateMaxPackets:
			return pkts, seenA || (!media && expectA), seenV || (!media && expectV), nil
		case err != nil:
			return nil, false, false, err
		}
		var timeout <-chan time.Time // nil: no timeout before the first frame
		if media {
			if expire == nil {
				expire = time.NewTimer(gateTimeout)
			}
			timeout = expire.C
		}
		select {
		case <-rd.Ready():
		case <-timeout:
			return pkts, seenA, seenV, nil
		case <-ctx.Done():
			return nil, false, false, context.Cause(ctx)
		}
	}
}

// feed writes the source to ffmpeg's stdin as FLV: the header, the
// gate's packets, then whatever the reader delivers, until the run ends.
func (r *run) feed(w *os.File, rd *hub.Reader, initial []*av.Packet, hasAudio, hasVideo bool) error {
	buf := make([]byte, 0, flushBytes+64<<10)
	buf = append(buf, flv.Header(hasAudio, hasVideo)...)
	pkts := initial
	batch := make([]*av.Packet, 0, feedBatch)
	for {
		for i, p := range pkts {
			pkts[i] = nil
			if p.Kind == av.KindData && !flv.IsMetaData(p) {
				continue // cue points and text: no output maps them
			}
			if time.Duration(p.DTS-r.origin)*time.Millisecond > maxRunSpan {
				return fmt.Errorf("%w: fed %s of media", errRunTooLong, maxRunSpan)
			}
			buf = r.appendTag(buf, p)
			if len(buf) >= flushBytes {
				if !r.write(w, buf) {
					return nil
				}
				buf = buf[:0]
			}
		}
		if len(buf) > 0 && !r.write(w, buf) {
			return nil
		}
		if cap(buf) > maxKeptBuffer {
			buf = make([]byte, 0, flushBytes+64<<10)
		}
		buf = buf[:0]
		var err error
		pkts, err = rd.Read(r.ctx, batch[:0])
		if err != nil {
			if r.ctx.Err() != nil {
				return nil
			}
			// The source ended (the ladder stops) or the reader was
			// evicted (ffmpeg is too slow: restart it).
			return readerCause(err)
		}
	}
}

// appendTag appends p as an FLV tag timed relative to the run's origin
// (plus tsPad). Headers and metadata, which a late joiner gets with their
// old times, are placed at the origin.
func (r *run) appendTag(buf []byte, p *av.Packet) []byte {
	ts := p.DTS
	if !p.IsMedia() || p.Header {
		ts = max(ts, r.origin)
	}
	fed := max(ts-r.origin+tsPad, 0)
	return flv.AppendTag(buf, flv.TagTypeOf(p.Kind), uint32(fed), p.Data)
}

// write writes b to ffmpeg; false when ffmpeg closed its input (it is
// exiting: the run waits for that).
func (r *run) write(w *os.File, b []byte) bool {
	r.writing.Store(time.Now().UnixNano())
	_, err := w.Write(b)
	r.writing.Store(0)
	if err != nil {
		r.afterExitOr(errInputClosed)
		return false
	}
	r.lastFed.Store(time.Now().UnixNano())
	return true
}
