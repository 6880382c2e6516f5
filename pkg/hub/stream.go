package hub

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
)

// StreamInfo is a snapshot of a stream.
type StreamInfo struct {
	Key        string
	VideoCodec av.Codec // from the last video sequence header / first video packet
	AudioCodec av.Codec
	HasVideo   bool // a video sequence header or frame has been seen
	HasAudio   bool
	Publisher  PublisherInfo
	Publishing bool      // false while inside the reconnect grace
	Since      time.Time // first publish
	Readers    int
	BytesIn    uint64
	Packets    uint64
	Dropped    uint64 // packets dropped across all readers
	Evicted    uint64
	// TimestampFixes counts DTS corrections: clamped back-steps, rebases
	// after jumps, first packets clamped to 0 or moved next to the other
	// track.
	TimestampFixes uint64
	// InvalidPackets counts the packets the publishers' PacketValidators
	// rejected (dropped before they reached the stream); LastInvalid is
	// why the last one was ("" if none).
	InvalidPackets uint64
	LastInvalid    string

	// The current publish session's sequence headers and metadata (nil
	// until seen). Shared and immutable: for parsing (picture size, frame
	// rate) on control paths, never to be modified.
	VideoHeader, AudioHeader, MetaData *av.Packet
	// VideoFrames counts video frames (sequence headers excluded), so a
	// sampler can measure the frame rate from deltas.
	VideoFrames uint64
	// GOPFrames and GOPDuration describe the last complete GOP (keyframe
	// to keyframe); zero until two keyframes were seen.
	GOPFrames   int
	GOPDuration time.Duration
	// Protocols lists, per reader protocol ever attached to the stream,
	// the readers attached now and the bytes they reported written
	// (Reader.AddBytes), sorted by protocol.
	Protocols []ProtocolStats
}

// ProtocolStats are one reader protocol's numbers within a stream.
type ProtocolStats struct {
	Protocol string
	Readers  int
	BytesOut uint64
}

// stream is one key's state. Everything below mu is guarded by it.
type stream struct {
	h   *Hub
	key string
	app string

	mu         sync.Mutex
	pub        *Publisher // nil while inside the reconnect grace
	pubInfo    PublisherInfo
	since      time.Time
	ended      bool
	graceTimer stopper
	graceGen   uint64

	// Per publish session: cleared when a publisher resumes or takes over,
	// because the new encoder may use a different configuration.
	meta, vHdr, aHdr   *av.Packet
	hasVideo, hasAudio bool
	vCodec, aCodec     av.Codec

	gop     gopCache
	ts      timeline
	readers []*Reader
	flush   flushState // when readers are woken (flush.go)

	bytesIn, packets, dropped, evicted uint64

	// Packets rejected by the publishers' validators (validate.go).
	invalid invalidLog

	// Video cadence, for the API (frame rate, GOP length).
	videoFrames    uint64
	keyDTS         int64
	framesSinceKey int
	sawKey         bool
	gopFrames      int
	gopDur         time.Duration

	// out holds the bytes written per reader protocol; entries are created
	// under mu and updated atomically by Reader.AddBytes.
	out map[string]*atomic.Uint64
}

func newStream(h *Hub, key string) *stream {
	s := &stream{h: h, key: key, app: appOf(key), since: h.now()}
	s.gop.init(h.cfg)
	return s
}

// attachLocked makes p the stream's publisher. resume is true when the stream
// already existed (reconnect within the grace, or takeover): the timeline
// continues after the last DTS, per-session state is reset, and every reader
// waits for the new publisher's keyframe so it never decodes frames of the
// new encoder against the old one's sequence headers.
func (s *stream) attachLocked(p *Publisher, resume bool) {
	s.pub = p
	s.pubInfo = p.info
	if !resume {
		return
	}
	s.ts.republish()
	s.meta, s.vHdr, s.aHdr = nil, nil, nil
	s.sawKey, s.framesSinceKey = false, 0
	s.hasVideo, s.hasAudio = false, false
	s.vCodec, s.aCodec = av.CodecUnknown, av.CodecUnknown
	s.gop.reset()
	for _, r := range s.readers {
		r.resync()
	}
}

// writeLocked fixes p's timestamp, updates the stream state and offers p to
// every reader. It never blocks, allocates (amortised) or does I/O.
// It returns how many readers were evicted.
func (s *stream) writeLocked(p *av.Packet) int {
	p.DTS = s.ts.fix(p.Kind, uint32(p.DTS))
	s.packets++
	s.bytesIn += uint64(len(p.Data))
	switch p.Kind {
	case av.KindData:
		s.meta = p
	case av.KindVideo:
		s.hasVideo = true
		if p.Header {
			if s.vHdr != nil && !bytes.Equal(s.vHdr.Data, p.Data) {
				// A new decoder configuration: the cached GOP was coded
				// under the old one, and a late joiner gets the new
				// header first. Cache again from the next keyframe.
				s.gop.reset()
			}
			s.vHdr = p
		} else {
			s.countFrameLocked(p)
		}
		if p.Header || s.vCodec == av.CodecUnknown {
			s.vCodec = p.Codec
		}
	case av.KindAudio:
		s.hasAudio = true
		if p.Header {
			s.aHdr = p
		}
		if p.Header || s.aCodec == av.CodecUnknown {
			s.aCodec = p.Codec
		}
	}
	s.gop.add(p, s.hasVideo)

	audioOnly := !s.hasVideo
	now := s.h.now()
	wake := s.wakeLocked(p, now)
	evicted := 0
	// Backwards, so an evicted reader can be swap-removed without skipping
	// one that has not been offered p yet.
	for i := len(s.readers) - 1; i >= 0; i-- {
		r := s.readers[i]
		dropped, evict := r.offer(p, audioOnly, s, wake)
		s.dropped += dropped
		if evict {
			s.removeReaderLocked(r)
			s.evicted++
			evicted++
		}
	}
	if !wake && len(s.readers) > 0 {
		s.heldLocked(now)
	}
	return evicted
}

// countFrameLocked tracks the video frame count and the last GOP's length.
func (s *stream) countFrameLocked(p *av.Packet) {
	s.videoFrames++
	if p.Keyframe {
		if s.sawKey {
			s.gopFrames = s.framesSinceKey
			s.gopDur = time.Duration(p.DTS-s.keyDTS) * time.Millisecond
		}
		s.sawKey, s.keyDTS, s.framesSinceKey = true, p.DTS, 0
	}
	s.framesSinceKey++
}

// addReaderLocked creates a reader primed with metadata, sequence headers and
// the GOP cache, and registers it for live packets.
func (s *stream) addReaderLocked(info ReaderInfo) *Reader {
	gop, fromKey := s.gop.replay()
	n := len(gop)
	primed := 0
	for _, p := range gop {
		primed += mediaBytes(p)
	}
	maxBytes := s.h.cfg.QueueMaxBytes
	if primed > maxBytes/2 {
		maxBytes = primed + maxBytes/2 // room for live packets after a big cached GOP
	}
	for _, p := range [...]*av.Packet{s.meta, s.vHdr, s.aHdr} {
		if p != nil {
			n++
		}
	}
	size := s.h.cfg.QueueSize
	if n > size/2 {
		// Keep room for live packets after a long cached GOP.
		size = nextPow2(n + size/2)
	}
	r := newReader(s, info, n, size, maxBytes)
	if s.out == nil {
		s.out = make(map[string]*atomic.Uint64)
	}
	if r.out = s.out[info.Protocol]; r.out == nil {
		r.out = new(atomic.Uint64)
		s.out[info.Protocol] = r.out
	}
	for _, p := range [...]*av.Packet{s.meta, s.vHdr, s.aHdr} {
		if p != nil {
			r.push(p)
		}
	}
	if fromKey {
		// Audio cached after the keyframe but timestamped before it would
		// start the player's audio ahead of its video (docs/interop.md §4).
		key := gop[0].DTS
		for _, p := range gop {
			if p.Kind == av.KindAudio && p.DTS < key {
				continue
			}
			r.push(p)
		}
	} else {
		for _, p := range gop {
			r.push(p)
		}
	}
	// A reader that did not get a keyframe from the cache must not start
	// mid-GOP: skip media until the next keyframe (or audio, audio-only).
	r.needKey = !fromKey
	r.idx = len(s.readers)
	s.readers = append(s.readers, r)
	r.signal() // the primed queue is readable now, not at the next flush point
	return r
}

// removeReaderLocked detaches r (swap-remove). No-op if r is detached.
func (s *stream) removeReaderLocked(r *Reader) {
	i := r.idx
	if i < 0 || i >= len(s.readers) || s.readers[i] != r {
		return
	}
	last := len(s.readers) - 1
	s.readers[i] = s.readers[last]
	s.readers[i].idx = i
	s.readers[last] = nil
	s.readers = s.readers[:last]
	r.idx = -1
}

// endLocked ends the stream: readers drain their queues, then get io.EOF.
func (s *stream) endLocked() {
	if s.ended {
		return
	}
	s.ended = true
	s.h.endedBytesIn.Add(s.bytesIn)
	s.stopFlushLocked()
	for _, r := range s.readers {
		r.end(io.EOF)
		r.idx = -1
	}
	clear(s.readers)
	s.readers = nil
	s.gop.reset()
}

// startGraceLocked arms the reconnect grace timer.
func (s *stream) startGraceLocked(d time.Duration) {
	h := s.h
	s.graceGen++
	gen := s.graceGen
	h.timers.Add(1)
	s.graceTimer = h.afterFunc(d, func() {
		defer h.timers.Done()
		h.expire(s, gen)
	})
}

// stopGraceLocked disarms the reconnect grace timer, if any.
func (s *stream) stopGraceLocked() {
	if s.graceTimer == nil {
		return
	}
	if s.graceTimer.Stop() {
		s.h.timers.Done()
	}
	s.graceTimer = nil
	s.graceGen++
}

func (s *stream) info() StreamInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var protos []ProtocolStats
	if len(s.out) > 0 {
		protos = make([]ProtocolStats, 0, len(s.out))
		for name, n := range s.out {
			protos = append(protos, ProtocolStats{Protocol: name, BytesOut: n.Load()})
		}
		slices.SortFunc(protos, func(a, b ProtocolStats) int { return strings.Compare(a.Protocol, b.Protocol) })
		for _, r := range s.readers {
			i, _ := slices.BinarySearchFunc(protos, r.info.Protocol, func(p ProtocolStats, t string) int {
				return strings.Compare(p.Protocol, t)
			})
			protos[i].Readers++
		}
	}
	var lastInvalid string
	if s.invalid.last != nil {
		lastInvalid = s.invalid.last.Error()
	}
	return StreamInfo{
		InvalidPackets: s.invalid.n,
		LastInvalid:    lastInvalid,
		VideoHeader:    s.vHdr,
		AudioHeader:    s.aHdr,
		MetaData:       s.meta,
		VideoFrames:    s.videoFrames,
		GOPFrames:      s.gopFrames,
		GOPDuration:    s.gopDur,
		Protocols:      protos,
		Key:            s.key,
		VideoCodec:     s.vCodec,
		AudioCodec:     s.aCodec,
		HasVideo:       s.hasVideo,
		HasAudio:       s.hasAudio,
		Publisher:      s.pubInfo,
		Publishing:     s.pub != nil,
		Since:          s.since,
		Readers:        len(s.readers),
		BytesIn:        s.bytesIn,
		Packets:        s.packets,
		Dropped:        s.dropped,
		Evicted:        s.evicted,
		TimestampFixes: s.ts.fixes,
	}
}
