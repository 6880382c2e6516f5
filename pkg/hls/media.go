package hls

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// file is one immutable object served under /app/stream/: a segment, a part
// or an initialization section. data is never modified once published.
type file struct {
	data    []byte
	modTime time.Time
	ctype   string
}

// segment is a complete media segment.
type segment struct {
	msn      uint64
	name     string
	dur      time.Duration
	pdt      time.Time // EXT-X-PROGRAM-DATE-TIME of its first sample
	disc     bool      // EXT-X-DISCONTINUITY before it
	initName string    // fMP4: the EXT-X-MAP it needs
	parts    []*part   // low_latency: its parts, in order
	size     int
	frames   int   // video samples it holds, to measure the frame rate
	maxDTS   int64 // highest DTS it holds (ms), for the delay measurement
	// independent: it starts with a random access point (false for a
	// segment cut at the size or duration limit between keyframes).
	independent bool
}

// part is an LL-HLS partial segment.
type part struct {
	name        string
	dur         time.Duration
	independent bool // starts with a keyframe (or audio only)
}

// media is the state one muxer publishes and many HTTP requests read: the
// segment window, the parts of the segment in progress and the files. The
// muxer goroutine writes under mu; readers take mu briefly and render.
// changed is closed (and replaced) on every update, so blocking playlist
// requests wait on a channel with their own deadline instead of a sync.Cond.
type media struct {
	key     string
	variant Variant
	epoch   string
	segDur  time.Duration
	partDur time.Duration
	count   int // segments in the playlist
	keep    int // segments served after leaving it

	mu        sync.Mutex
	segments  []*segment // oldest first; the last count are in the playlist
	parts     []*part    // low_latency: parts of segment nextMSN, in progress
	partPDT   time.Time  // PDT of the segment in progress
	nextDisc  bool       // the segment in progress starts a discontinuity
	nextInd   bool       // the segment in progress starts with a random access point
	nextInit  string
	inits     []string // init sections kept, oldest first
	nextMSN   uint64
	discSeq   uint64 // discontinuities that have left the window
	files     map[string]*file
	target    int // EXT-X-TARGETDURATION, seconds; only grows, up to maxTarget
	maxTarget int
	codecs    string
	pic       picture // what the video track says of itself
	version   uint64  // bumped on every update
	modTime   time.Time
	ended     bool
	replaced  bool // ended because a new media replaced it (after a panic)
	changed   chan struct{}
	cache     [2]rendered // last media playlist renders, by prefix
	onWait    func()      // tests: called (under mu) when a request blocks
}

// rendered is a media playlist render shared by every viewer; uris holds
// the offset just after each URI, where a viewer's query is inserted.
type rendered struct {
	version uint64
	prefix  string
	b       []byte
	uris    []int
}

func newMedia(key string, v Variant, cfg *Config, start time.Time) *media {
	target := ceilSeconds(cfg.SegmentDuration)
	return &media{
		maxTarget: max(target, ceilSeconds(cfg.SegmentMaxDuration)),
		key:       key,
		variant:   v,
		epoch:     strconv.FormatInt(start.UnixMilli(), 36),
		segDur:    cfg.SegmentDuration,
		partDur:   cfg.PartDuration,
		count:     cfg.SegmentCount,
		keep:      cfg.SegmentKeep,
		files:     make(map[string]*file),
		target:    target,
		modTime:   start,
		changed:   make(chan struct{}),
	}
}

func ceilSeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

// carry continues old's numbering in m, a fresh media that replaces it
// after a panic: media sequence and discontinuity sequence numbers never go
// back for a player that reloads (RFC 8216 §6.2.2), the target duration
// does not change (§6.2.1), and the first segment is a discontinuity. The
// epoch differs, so no name is reused.
func (m *media) carry(old *media) {
	old.mu.Lock()
	next, target := old.nextMSN, old.target
	disc := old.discSeq
	for _, s := range old.segments {
		if s.disc {
			disc++
		}
	}
	old.mu.Unlock()
	m.mu.Lock()
	m.nextMSN, m.discSeq, m.target = next, disc, max(m.target, target)
	m.mu.Unlock()
}

// Names. The epoch (the muxer's start in base-36 Unix ms) keeps names unique
// across muxer restarts, so an immutable cached object never goes stale.
func (m *media) segmentName(msn uint64) string {
	ext := ".ts"
	if m.variant != VariantMPEGTS {
		ext = ".m4s"
	}
	return m.epoch + "-" + strconv.FormatUint(msn, 10) + ext
}

func (m *media) partName(msn uint64, i int) string {
	return m.epoch + "-" + strconv.FormatUint(msn, 10) + "." + strconv.Itoa(i) + ".m4s"
}

func (m *media) initName(n int) string {
	return m.epoch + "-init" + strconv.Itoa(n) + ".mp4"
}

// notifyLocked publishes an update: waiters wake up and re-check.
func (m *media) notifyLocked(now time.Time) {
	m.version++
	m.modTime = now
	close(m.changed)
	m.changed = make(chan struct{})
}

// setInit publishes a new initialization section for the segments to come
// and returns the names of the ones no kept segment needs any more.
func (m *media) setInit(name string, data []byte, codecs string, pic picture, now time.Time) (evicted []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[name] = &file{data: data, modTime: now, ctype: "video/mp4"}
	m.nextInit = name
	m.inits = append(m.inits, name)
	m.codecs, m.pic = codecs, pic
	return m.evictInitsLocked(nil)
}

// evictInitsLocked drops every init section that neither a kept segment
// nor the segment to come uses: a publisher that changes its sequence
// header at every packet, with or without segments in between, must not
// pile them up (memory, and files under hls.directory).
func (m *media) evictInitsLocked(evicted []string) []string {
	kept := m.inits[:0]
	for _, name := range m.inits {
		if name == m.nextInit || m.segmentNeedsLocked(name) {
			kept = append(kept, name)
			continue
		}
		delete(m.files, name)
		evicted = append(evicted, name)
	}
	clear(m.inits[len(kept):])
	m.inits = kept
	return evicted
}

// segmentNeedsLocked reports whether a kept segment was written under the
// init section name.
func (m *media) segmentNeedsLocked(name string) bool {
	for _, s := range m.segments {
		if s.initName == name {
			return true
		}
	}
	return false
}

func (m *media) setCodecs(codecs string, pic picture) {
	m.mu.Lock()
	m.codecs, m.pic = codecs, pic
	m.mu.Unlock()
}

// startSegment records the PDT, discontinuity and independence of the
// segment in progress.
func (m *media) startSegment(pdt time.Time, disc, independent bool) {
	m.mu.Lock()
	m.partPDT = pdt
	m.nextDisc = disc
	m.nextInd = independent
	m.mu.Unlock()
}

// alignFirstMSN numbers the first segment of a rendition's media with the
// index of its window on the shared timeline's grid, which is the media
// sequence number its source's segment of that window has (the source
// starts at 0 and cuts every target): players and rendition reports then
// find the same content under the same number in every variant. Only
// before any segment or part exists.
func (m *media) alignFirstMSN(idx uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.nextMSN == 0 && len(m.segments) == 0 && len(m.parts) == 0 {
		m.nextMSN = idx
	}
}

// addPart publishes a low_latency part of the segment in progress.
func (m *media) addPart(p *part, data []byte, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[p.name] = &file{data: data, modTime: now, ctype: "video/mp4"}
	m.parts = append(m.parts, p)
	m.notifyLocked(now)
}

// addSegment publishes a complete segment and evicts the ones past
// count+keep. It returns the names of the evicted files (for the disk copy).
func (m *media) addSegment(s *segment, data []byte, now time.Time) (evicted []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s.msn = m.nextMSN
	s.pdt = m.partPDT
	s.disc = m.nextDisc
	s.initName = m.nextInit
	s.parts = m.parts
	s.size = len(data)
	ctype := "video/mp2t"
	if m.variant != VariantMPEGTS {
		ctype = "video/mp4"
	}
	m.files[s.name] = &file{data: data, modTime: now, ctype: ctype}
	m.segments = append(m.segments, s)
	m.parts = nil
	m.nextDisc = false
	m.nextMSN++
	// RFC 8216 §4.3.3.1: every EXTINF rounded to the nearest integer must
	// not exceed the target duration.
	if t := int((s.dur + time.Second/2) / time.Second); t > m.target {
		m.target = min(t, m.maxTarget)
	}
	for len(m.segments) > m.count+m.keep {
		old := m.segments[0]
		m.segments = m.segments[1:]
		if old.disc {
			m.discSeq++
		}
		delete(m.files, old.name)
		evicted = append(evicted, old.name)
		for _, p := range old.parts {
			delete(m.files, p.name)
			evicted = append(evicted, p.name)
		}
	}
	// Parts are listed only near the live edge (§6.2.2 of rfc8216bis: they
	// should be removed once more than three target durations old); drop
	// their bytes once the segment leaves the playlist window too.
	evicted = m.evictInitsLocked(evicted)
	m.notifyLocked(now)
	return evicted
}

// end marks the stream over and wakes every waiter.
func (m *media) end() {
	m.mu.Lock()
	m.ended = true
	m.notifyLocked(time.Now())
	m.mu.Unlock()
}

// retire ends m because a new media replaces it (after a panic): waiters
// wake up and answer 503, so players retry and find the new one.
func (m *media) retire() {
	m.mu.Lock()
	m.ended, m.replaced = true, true
	m.notifyLocked(time.Now())
	m.mu.Unlock()
}

// window returns the segments listed in the playlist (locked).
func (m *media) windowLocked() []*segment {
	if len(m.segments) > m.count {
		return m.segments[len(m.segments)-m.count:]
	}
	return m.segments
}

// lookup returns the file called name, if still kept.
func (m *media) lookup(name string) (*file, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[name]
	return f, ok
}

// ready reports whether the playlist can be served: one segment exists.
func (m *media) readyLocked() bool { return len(m.segments) > 0 }

// wait blocks until cond (evaluated under mu) holds, the stream ends, stop
// is closed or ctx ends. It reports whether cond held.
func (m *media) wait(ctx context.Context, stop <-chan struct{}, cond func() bool) bool {
	for {
		m.mu.Lock()
		ok, ended, ch := cond(), m.ended, m.changed
		if !ok && !ended && m.onWait != nil {
			m.onWait()
		}
		m.mu.Unlock()
		if ok {
			return true
		}
		if ended {
			return false
		}
		select {
		case <-ch:
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// hasPartLocked reports whether the playlist holds part p of segment msn or
// anything later (rfc8216bis §6.2.5.2, delivery directives _HLS_msn/_HLS_part).
func (m *media) hasPartLocked(msn uint64, p int) bool {
	if len(m.segments) == 0 {
		return false
	}
	last := m.segments[len(m.segments)-1].msn
	if msn <= last {
		return true
	}
	if msn == m.nextMSN {
		return p >= 0 && len(m.parts) > p
	}
	return false
}
