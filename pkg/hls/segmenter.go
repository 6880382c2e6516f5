package hls

import (
	"time"
)

// segmenter decides where segments and parts end and publishes them to the
// media state. It runs on the muxer goroutine only.
//
// Segments start on a video keyframe once the target duration is reached
// (RFC 8216 §3: each segment of a stream with video should start with a
// random access point so players can join or switch on it); streams without
// video are cut on time. Low-latency parts are cut on any sample, so that
// no part exceeds PART-TARGET (rfc8216bis §4.4.4.9), and always at a
// segment boundary.
type segmenter struct {
	m       *media
	cfg     *Config
	segDur  int64 // ms
	partDur int64 // ms; 0: parts only at segment boundaries
	keyTol  int64 // a keyframe this close before the target still cuts
	jump    int64 // a DTS step beyond this is a discontinuity

	v *videoTrack
	a *audioTrack
	c container

	initN    int
	msn      uint64
	open     bool
	disc     bool // the next segment starts a discontinuity
	segStart int64
	parStart int64
	partIdx  int
	partInd  bool // the part in progress starts with a random access point
	last     int64
	haveLast bool
	lastV    int64
	haveV    bool
	lastA    int64 // audio of a stream with video
	haveA    bool
	frameDur int64 // last interval between samples of the driving track, ms
	maxDTS   int64

	wallBase time.Time // wall clock at DTS 0, for EXT-X-PROGRAM-DATE-TIME
	haveBase bool
	liveDTS  int64 // highest DTS handed to the muxer so far (set by it)
	now      func() time.Time
	onFlush  func(maxDTS int64) // after each publication
	disk     *disk
}

func newSegmenter(m *media, cfg *Config, dk *disk) *segmenter {
	s := &segmenter{
		m:      m,
		cfg:    cfg,
		segDur: cfg.SegmentDuration.Milliseconds(),
		keyTol: cfg.SegmentDuration.Milliseconds() / 10,
		jump:   max(5000, 2*cfg.SegmentDuration.Milliseconds()),
		now:    time.Now,
		disk:   dk,
	}
	if cfg.Variant == VariantLowLatency {
		s.partDur = cfg.PartDuration.Milliseconds()
	}
	return s
}

// configure installs new tracks. A change after the first segment ends the
// segment in progress and marks a discontinuity (RFC 8216 §4.3.2.3: a
// change of encoding parameters or of the encoder requires one).
func (s *segmenter) configure(v *videoTrack, a *audioTrack) error {
	started := s.open || s.msn > 0
	if s.open {
		if err := s.finishSegment(s.endEstimate()); err != nil {
			return err
		}
	}
	s.v, s.a = v, a
	s.disc = s.disc || started
	if s.cfg.Variant == VariantMPEGTS {
		s.c = newTSContainer(v, a)
		s.m.setCodecs(codecs(v, a))
		return nil
	}
	fc := newFMP4Container(v, a)
	b, err := fc.init()
	if err != nil {
		return err
	}
	s.c = fc
	s.initN++
	name := s.m.initName(s.initN)
	now := s.now()
	s.m.setInit(name, b, codecs(v, a), now)
	s.disk.write(name, b)
	return nil
}

// restart marks a publisher restart: the segment in progress ends and the
// next one, at the next keyframe, carries EXT-X-DISCONTINUITY.
func (s *segmenter) restart() error {
	if !s.open {
		s.disc = s.disc || s.msn > 0
		return nil
	}
	if err := s.finishSegment(s.endEstimate()); err != nil {
		return err
	}
	s.disc = true
	return nil
}

// endEstimate is where the segment in progress ends when no next sample
// says so: one frame after the last sample.
func (s *segmenter) endEstimate() int64 {
	return s.last + max(s.frameDur, 1)
}

// checkJump turns a timestamp jump of the driving track (prev is its
// previous DTS) into a discontinuity.
func (s *segmenter) checkJump(dts, prev int64, have bool) error {
	if !have || (dts-prev <= s.jump && prev-dts <= 1000) {
		return nil
	}
	if err := s.restart(); err != nil {
		return err
	}
	s.haveBase = false // the wall clock mapping no longer holds
	s.haveV, s.haveA, s.haveLast = false, false, false
	return nil
}

func (s *segmenter) video(dts int64, cts int32, key bool, au []byte) error {
	if s.v == nil || s.c == nil {
		return nil
	}
	if err := s.checkJump(dts, s.lastV, s.haveV); err != nil {
		return err
	}
	fd := s.frameDur
	if s.haveV && dts > s.lastV {
		fd = dts - s.lastV
	}
	switch {
	case !s.open:
		if !key {
			return nil // wait for a random access point
		}
		s.begin(dts)
	case key && dts-s.segStart >= s.segDur-s.keyTol:
		if err := s.finishSegment(dts); err != nil {
			return err
		}
		s.begin(dts)
	case s.partDur > 0 && dts+fd-s.parStart > s.partDur:
		if err := s.finishPart(dts, key); err != nil {
			return err
		}
	}
	s.frameDur = fd
	s.lastV, s.haveV = dts, true
	s.sampled(dts)
	return s.c.video(dts, cts, key, au)
}

func (s *segmenter) audio(dts int64, frame []byte) error {
	if s.a == nil || s.c == nil {
		return nil
	}
	if s.v != nil {
		// Audio follows the video cuts; nothing before the first keyframe.
		if err := s.checkJump(dts, s.lastA, s.haveA); err != nil {
			return err
		}
		s.lastA, s.haveA = dts, true
		if !s.open {
			return nil
		}
		return s.c.audio(dts, frame)
	}
	if err := s.checkJump(dts, s.last, s.haveLast); err != nil {
		return err
	}
	fd := int64(s.a.frameSamples) * 1000 / int64(s.a.sampleRate)
	switch {
	case !s.open:
		s.begin(dts)
	case dts-s.segStart >= s.segDur:
		if err := s.finishSegment(dts); err != nil {
			return err
		}
		s.begin(dts)
	case s.partDur > 0 && dts+fd-s.parStart > s.partDur:
		if err := s.finishPart(dts, true); err != nil {
			return err
		}
	}
	s.frameDur = fd
	s.sampled(dts)
	return s.c.audio(dts, frame)
}

// sampled records a written sample of the track that decides the cuts
// (video, or audio when there is no video).
func (s *segmenter) sampled(dts int64) {
	if !s.haveLast || dts > s.last {
		s.last = dts
	}
	s.haveLast = true
	if dts > s.maxDTS {
		s.maxDTS = dts
	}
}

// begin opens a segment at dts.
func (s *segmenter) begin(dts int64) {
	now := s.now()
	// Anchor DTS → wall clock once (again after a jump): the newest packet
	// received so far (liveDTS) is "now". Packets replayed from the hub's
	// GOP cache are older than their arrival at the muxer says, and a
	// publisher's burst must not move the clock back, so the mapping stays
	// fixed and PDTs advance with the media.
	if !s.haveBase {
		s.wallBase, s.haveBase = now.Add(-time.Duration(max(dts, s.liveDTS))*time.Millisecond), true
	}
	s.open = true
	s.segStart, s.parStart = dts, dts
	s.partIdx = 0
	s.partInd = true
	s.m.startSegment(s.wallBase.Add(time.Duration(dts)*time.Millisecond), s.disc)
	s.disc = false
}

// finishPart publishes the part in progress, ending at end; nextKey says
// whether the next part starts with a keyframe.
func (s *segmenter) finishPart(end int64, nextKey bool) error {
	b, err := s.c.flushPart(end)
	if err != nil || b == nil {
		return err
	}
	p := &part{name: s.m.partName(s.msn, s.partIdx), dur: msDur(end - s.parStart), independent: s.partInd}
	now := s.now()
	s.m.addPart(p, b, now)
	s.disk.write(p.name, b)
	s.partIdx++
	s.parStart = end
	s.partInd = nextKey || s.v == nil
	s.published()
	return nil
}

// finishSegment publishes the segment in progress, ending at end.
func (s *segmenter) finishSegment(end int64) error {
	if s.partDur > 0 {
		if err := s.finishPart(end, true); err != nil {
			return err
		}
	}
	b, err := s.c.flushSegment(end)
	if err != nil {
		return err
	}
	seg := &segment{name: s.m.segmentName(s.msn), dur: msDur(end - s.segStart), maxDTS: s.maxDTS}
	evicted := s.m.addSegment(seg, b, s.now())
	s.disk.write(seg.name, b)
	s.disk.remove(evicted)
	s.disk.playlists(s.m)
	s.msn++
	s.open = false
	s.published()
	return nil
}

func (s *segmenter) published() {
	if s.onFlush != nil {
		s.onFlush(s.maxDTS)
	}
}

func msDur(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
