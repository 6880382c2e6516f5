package hls

import (
	"log/slog"
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
//
// Whatever the publisher sends, a segment is cut at maxDur or before it
// would exceed maxBytes, keyframe or not (as SRS cuts at hls_td_ratio ×
// target): an encoder that never sends a keyframe must not grow the
// segment in progress at the ingest rate. Such a segment is marked not
// independent, so the playlist stops promising that it can be decoded
// alone.
type segmenter struct {
	m        *media
	cfg      *Config
	log      *slog.Logger
	segDur   int64 // ms
	maxDur   int64 // ms; no segment is longer
	maxBytes int   // no segment is larger
	partDur  int64 // ms; 0: parts only at segment boundaries
	maxParts int   // parts per segment; the last one grows beyond it
	keyTol   int64 // a keyframe this close before the target still cuts
	jump     int64 // a DTS step beyond this is a discontinuity

	v *videoTrack
	a *audioTrack
	c container

	initN    int
	msn      uint64
	grid     bool // cut on the timeline's segDur grid (a rendition: newSegment)
	open     bool
	disc     bool // the next segment starts a discontinuity
	segDisc  bool // the segment in progress starts one
	segInd   bool // the segment in progress starts with a random access point
	segStart int64
	parStart int64
	partIdx  int
	partInd  bool // the part in progress starts with a random access point
	frames   int  // video samples in the segment in progress
	last     int64
	haveLast bool
	lastV    int64
	haveV    bool
	lastA    int64 // audio of a stream with video
	haveA    bool
	frameDur int64 // last interval between samples of the driving track, ms
	maxDTS   int64

	// Counters of what a publisher forced, each logged once.
	forcedCuts uint64 // segments cut without a keyframe
	oversized  uint64 // samples dropped, each larger than maxBytes alone

	wallBase time.Time // wall clock at DTS 0, for EXT-X-PROGRAM-DATE-TIME
	haveBase bool
	liveDTS  int64 // highest DTS handed to the muxer so far (set by it)
	now      func() time.Time
	onFlush  func(maxDTS int64) // after each publication
	disk     *disk
}

func newSegmenter(m *media, cfg *Config, dk *disk) *segmenter {
	s := &segmenter{
		m:        m,
		cfg:      cfg,
		log:      cfg.Logger,
		segDur:   cfg.SegmentDuration.Milliseconds(),
		maxDur:   max(cfg.SegmentMaxDuration.Milliseconds(), cfg.SegmentDuration.Milliseconds()),
		maxBytes: int(min(cfg.SegmentMaxBytes, 1<<40)),
		keyTol:   cfg.SegmentDuration.Milliseconds() / 10,
		jump:     max(5000, 2*cfg.SegmentDuration.Milliseconds()),
		now:      time.Now,
		disk:     dk,
		msn:      m.nextMSN,
	}
	if cfg.Variant == VariantLowLatency {
		s.partDur = max(cfg.PartDuration.Milliseconds(), 1)
		s.maxParts = int(2*s.maxDur/s.partDur) + 2
	}
	return s
}

// build makes the container of tracks v and a and, for fMP4, its
// initialization section, without touching the segmenter: the tracks in
// use change only once the new container exists (writing samples of a new
// configuration under the old init section would be undecodable).
func (s *segmenter) build(v *videoTrack, a *audioTrack) (container, []byte, error) {
	var c container
	var init []byte
	if s.cfg.Variant == VariantMPEGTS {
		c = newTSContainer(v, a)
	} else {
		fc := newFMP4Container(v, a)
		b, err := fc.init()
		if err != nil {
			return nil, nil, err
		}
		c, init = fc, b
	}
	if s.cfg.wrap != nil {
		c = s.cfg.wrap(s.m.key, c)
	}
	return c, init, nil
}

// configure installs new tracks (build, then install). When the new
// container cannot be built, nothing changes and the error is returned.
func (s *segmenter) configure(v *videoTrack, a *audioTrack) error {
	c, init, err := s.build(v, a)
	if err != nil {
		return err
	}
	return s.install(v, a, c, init)
}

// install switches to tracks v and a, written by c (built by build, with
// init section init). A change after the first segment ends the segment in
// progress and marks a discontinuity (RFC 8216 §4.3.2.3: a change of
// encoding parameters or of the encoder requires one).
func (s *segmenter) install(v *videoTrack, a *audioTrack, c container, init []byte) error {
	started := s.open || s.msn > 0
	var err error
	if s.open {
		err = s.finishSegment(s.endEstimate())
	}
	s.v, s.a, s.c = v, a, c
	s.disc = s.disc || started
	if init == nil {
		s.m.setCodecs(codecs(v, a), pictureOf(v))
		return err
	}
	s.initN++
	name := s.m.initName(s.initN)
	evicted := s.m.setInit(name, init, codecs(v, a), pictureOf(v), s.now())
	s.disk.write(name, init)
	s.disk.remove(evicted)
	return err
}

// halt ends the segment in progress and drops every sample until the next
// configure, which starts with a discontinuity: the tracks in use are no
// longer what the publisher sends.
func (s *segmenter) halt() error {
	var err error
	if s.open {
		err = s.finishSegment(s.endEstimate())
	}
	s.v, s.a, s.c = nil, nil, nil
	s.disc = s.disc || s.msn > 0
	return err
}

// restart marks a publisher restart: the segment in progress ends and the
// next one, at the next keyframe, carries EXT-X-DISCONTINUITY.
func (s *segmenter) restart() error {
	if !s.open {
		s.disc = s.disc || s.msn > 0
		return nil
	}
	err := s.finishSegment(s.endEstimate())
	s.disc = true
	return err
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
	err := s.restart()
	s.haveBase = false // the wall clock mapping no longer holds
	s.haveV, s.haveA, s.haveLast = false, false, false
	return err
}

// fits reports whether a sample of cost bytes at dts may join the segment
// in progress: not if the segment reached maxDur or would exceed maxBytes.
func (s *segmenter) fits(dts int64, cost int) bool {
	return dts-s.segStart < s.maxDur && s.c.size()+cost <= s.maxBytes
}

// tooBig drops a sample that alone exceeds maxBytes.
func (s *segmenter) tooBig(cost int) bool {
	if cost <= s.maxBytes {
		return false
	}
	if s.oversized == 0 {
		s.log.Warn("hls sample dropped: larger than the segment size limit", "bytes", cost, "max_bytes", s.maxBytes)
	}
	s.oversized++
	return true
}

// newSegment reports whether a keyframe at dts starts a new segment: at
// least segDur after the segment's start (a keyTol early counts), or, for
// a rendition (grid), the first keyframe in a new segDur window of the
// timeline. A rendition shares its source's timeline and keyframes but its
// muxer starts later: cutting on the timeline's grid puts its cuts where
// the source's are (the source starts at 0, so its cuts lie on the same
// grid when its GOP divides segDur); only its first segment may be short.
func (s *segmenter) newSegment(dts int64) bool {
	if !s.grid {
		return dts-s.segStart >= s.segDur-s.keyTol
	}
	return (dts+s.keyTol)/s.segDur > (s.segStart+s.keyTol)/s.segDur
}

// cut ends the segment in progress at dts and opens the next one there
// (key: it starts with a random access point).
func (s *segmenter) cut(dts int64, key bool) error {
	err := s.finishSegment(dts)
	if !key {
		if s.forcedCuts == 0 {
			s.log.Warn("hls segment cut without a keyframe", "max_duration", msDur(s.maxDur), "max_bytes", s.maxBytes)
		}
		s.forcedCuts++
	}
	s.begin(dts, key)
	return err
}

func (s *segmenter) video(dts int64, cts int32, key bool, au []byte) error {
	if s.v == nil || s.c == nil {
		return nil
	}
	if err := s.checkJump(dts, s.lastV, s.haveV); err != nil {
		return err
	}
	cost := s.c.cost(len(au), true, key)
	if s.tooBig(cost) {
		return nil
	}
	fd := s.frameDur
	if s.haveV && dts > s.lastV {
		fd = dts - s.lastV
	}
	var err error
	switch {
	case !s.open:
		if !key {
			return nil // wait for a random access point
		}
		s.begin(dts, true)
	case key && s.newSegment(dts):
		err = s.cut(dts, true)
	case !s.fits(dts, cost):
		err = s.cut(dts, key)
	case s.partDur > 0 && dts > s.parStart && dts+fd-s.parStart > s.partDur && s.partIdx+1 < s.maxParts:
		err = s.finishPart(dts, key)
	}
	s.frameDur = fd
	s.lastV, s.haveV = dts, true
	s.frames++
	s.sampled(dts)
	if werr := s.c.video(dts, cts, key, au); werr != nil {
		return werr
	}
	return err
}

func (s *segmenter) audio(dts int64, frame []byte) error {
	if s.a == nil || s.c == nil {
		return nil
	}
	cost := s.c.cost(len(frame), false, false)
	if s.v != nil {
		// Audio follows the video cuts; nothing before the first keyframe.
		if err := s.checkJump(dts, s.lastA, s.haveA); err != nil {
			return err
		}
		s.lastA, s.haveA = dts, true
		if !s.open || s.tooBig(cost) {
			return nil
		}
		var err error
		if !s.fits(dts, cost) {
			// Video stalled (or is flooded past by audio): the limits
			// hold all the same.
			err = s.cut(dts, false)
		}
		if werr := s.c.audio(dts, frame); werr != nil {
			return werr
		}
		return err
	}
	if err := s.checkJump(dts, s.last, s.haveLast); err != nil {
		return err
	}
	if s.tooBig(cost) {
		return nil
	}
	fd := int64(s.a.frameSamples) * 1000 / int64(s.a.sampleRate)
	var err error
	switch {
	case !s.open:
		s.begin(dts, true)
	case dts-s.segStart >= s.segDur || !s.fits(dts, cost):
		err = s.cut(dts, true) // every AAC frame is a random access point
	case s.partDur > 0 && dts > s.parStart && dts+fd-s.parStart > s.partDur && s.partIdx+1 < s.maxParts:
		err = s.finishPart(dts, true)
	}
	s.frameDur = fd
	s.sampled(dts)
	if werr := s.c.audio(dts, frame); werr != nil {
		return werr
	}
	return err
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

// begin opens a segment at dts; key says whether it starts with a random
// access point.
func (s *segmenter) begin(dts int64, key bool) {
	now := s.now()
	// Anchor DTS → wall clock once (again after a jump): the newest packet
	// received so far (liveDTS) is "now". Packets replayed from the hub's
	// GOP cache are older than their arrival at the muxer says, and a
	// publisher's burst must not move the clock back, so the mapping stays
	// fixed and PDTs advance with the media.
	if !s.haveBase {
		s.wallBase, s.haveBase = now.Add(-time.Duration(max(dts, s.liveDTS))*time.Millisecond), true
	}
	if s.grid && dts >= 0 {
		s.m.alignFirstMSN(uint64((dts + s.keyTol) / s.segDur))
	}
	ind := key || s.v == nil
	s.open = true
	s.segStart, s.parStart = dts, dts
	s.partIdx = 0
	s.frames = 0
	s.segInd, s.partInd = ind, ind
	s.m.startSegment(s.wallBase.Add(time.Duration(dts)*time.Millisecond), s.disc, ind)
	s.segDisc, s.disc = s.disc, false
}

// finishPart publishes the part in progress, ending at end; nextKey says
// whether the next part starts with a keyframe. A part that cannot be
// written is dropped (the container discards its samples) and the next
// one takes its name and its time.
func (s *segmenter) finishPart(end int64, nextKey bool) error {
	b, err := s.c.flushPart(end)
	if err != nil {
		s.partInd = s.partInd && (nextKey || s.v == nil) // what follows starts at end
		return err
	}
	if b == nil {
		return nil
	}
	p := &part{name: s.m.partName(s.msn, s.partIdx), dur: msDur(end - s.parStart), independent: s.partInd}
	s.m.addPart(p, b, s.now())
	s.disk.write(p.name, b)
	s.partIdx++
	s.parStart = end
	s.partInd = nextKey || s.v == nil
	s.published()
	return nil
}

// finishSegment publishes the segment in progress, ending at end (its
// duration capped at maxDur: RFC 8216 §4.3.3.1 bounds every EXTINF by the
// target duration, which never exceeds it). The segmenter is left with no
// segment open whatever happens.
func (s *segmenter) finishSegment(end int64) error {
	var perr error
	if s.partDur > 0 {
		perr = s.finishPart(end, true)
	}
	s.open = false
	b, err := s.c.flushSegment(end)
	if b == nil {
		// Nothing could be written: the next segment carries the
		// discontinuity this one would have.
		s.disc = s.disc || s.segDisc
		return cmpErr(err, perr)
	}
	dur := msDur(min(max(end-s.segStart, 0), s.maxDur))
	seg := &segment{name: s.m.segmentName(s.msn), dur: dur, frames: s.frames, maxDTS: s.maxDTS, independent: s.segInd}
	evicted := s.m.addSegment(seg, b, s.now())
	s.disk.write(seg.name, b)
	s.disk.remove(evicted)
	s.disk.playlists(s.m)
	s.msn++
	s.published()
	return cmpErr(err, perr)
}

// cmpErr returns the first non-nil error.
func cmpErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func (s *segmenter) published() {
	if s.onFlush != nil {
		s.onFlush(s.maxDTS)
	}
}

func msDur(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
