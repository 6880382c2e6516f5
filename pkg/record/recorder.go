package record

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/batch"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
)

// componentRecord names the recordings in panic counts.
const componentRecord = access.ProtoRecord

// startWait is how much media (ms) a new file waits for the configuration
// of a track the stream announced before it starts without that track.
const startWait = 3000

// checkEvery is how often (media ms) a recording checks that its file is
// still where it was created.
const checkEvery = 1000

var (
	errStopped  = errors.New("record: recording stopped")
	errFellBack = errors.New("record: recording fell behind the stream (evicted); resumed at the next keyframe")
)

// recorder records one stream: it owns the stream's recording hub reader
// and writes files from its own goroutine. Everything below cur is only
// touched by that goroutine.
type recorder struct {
	m       *Manager
	key     string
	app     string
	stream  string
	rule    Rule
	tpl     *template
	rootDir string
	log     *slog.Logger

	stopCh   chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	rd       atomic.Pointer[hub.Reader]
	ending   atomic.Bool // the stream ended (io.EOF): a new publish needs a new recorder

	// What the stream carried last.
	meta       *av.Packet
	vHdr       *av.Packet
	aHdr       *av.Packet
	lastVideo  *av.Packet
	lastAudio  *av.Packet
	firstMedia int64
	lastDTS    int64
	seenMedia  bool
	// The tracks the hub knew of when the reader joined.
	streamV, streamA bool

	// fMP4 tracks built from the headers; *From is what they were built
	// from, so that a header change rebuilds them.
	vt, at         *mp4Track
	vtFrom, atFrom *av.Packet
	vtErr, atErr   error
	vtCodec        av.Codec
	atCodec        av.Codec
	init           []byte // the last init section made, of initV and initA
	initV, initA   *mp4Track
	// Buffers of the last file, reused by the next one.
	bw      *bufio.Writer
	lastMP4 *fmp4Writer

	cur      *recFile
	hold     []*av.Packet // from a start point while the audio's configuration is awaited
	holdSize int          // payload bytes in hold (maxHoldBytes)
	needCut  bool         // the tracks changed: a new file at the next start point
	failing  bool         // the last open or write failed
	failedAt time.Time
}

// recFile is the file in progress.
type recFile struct {
	rec     Recording
	out     *outFile
	mp4     *fmp4Writer
	flv     *flvWriter
	act     *activeFile
	base    int64
	hasV    bool
	hasA    bool
	vCodec  av.Codec
	aCodec  av.Codec
	checked int64
	fi      os.FileInfo // of the file as created
	started bool        // EventStarted was sent: EventDone follows
}

// committed is the media time of what the file holds up to its
// committed size.
func (f *recFile) committed() time.Duration {
	if f.flv != nil {
		return f.flv.committed()
	}
	return f.mp4.committed()
}

// snapshot is the file as a Recording now.
func (f *recFile) snapshot(inProgress bool) Recording {
	rec := f.rec
	rec.Duration = f.committed()
	rec.Size = f.out.committed.Load()
	rec.InProgress = inProgress
	return rec
}

func (r *recorder) stop() { r.stopOnce.Do(func() { close(r.stopCh) }) }

// run records until the stream ends or the recording is stopped, on the
// reader the Manager subscribed. After an eviction it subscribes again.
func (r *recorder) run(rd *hub.Reader) {
	defer close(r.done)
	defer r.m.forget(r)
	start := time.Now()
	r.log.Info("recording stream", "format", r.rule.Format.String(), "path", r.tpl.raw)
	for {
		err := r.m.cfg.Panics.Run(componentRecord, func() error { return r.session(rd) })
		if pe, ok := guard.AsPanic(err); ok {
			// The close line: Error, with the stack.
			guard.Log(r.log, pe, "then", "recording stopped", "duration", time.Since(start).Round(time.Millisecond))
			r.abort(pe)
			return
		}
		if !errors.Is(err, hub.ErrSlowReader) {
			r.finish()
			r.log.Info("recording stopped", "err", stopCause(err), "duration", time.Since(start).Round(time.Millisecond))
			return
		}
		// Evicted: the disk could not keep up. The stream goes on; join it
		// again at its GOP cache (a gap, a new file at the keyframe).
		r.m.errs.Add(1)
		rec := r.bare()
		if r.cur != nil {
			rec = r.cur.snapshot(true)
		}
		r.log.Warn("recording fell behind the stream; rejoining at the next keyframe", "err", err, "path", rec.Path)
		r.m.emit(Event{Type: EventError, Recording: rec, Err: errFellBack})
		r.finish()
		select {
		case <-r.stopCh:
			r.log.Info("recording stopped", "err", "stopped", "duration", time.Since(start).Round(time.Millisecond))
			return
		default:
		}
		rd, err = r.m.hub.Subscribe(r.key, hub.ReaderInfo{Protocol: access.ProtoRecord})
		if err != nil {
			r.log.Info("recording stopped", "err", stopCause(err), "duration", time.Since(start).Round(time.Millisecond))
			return
		}
		r.rd.Store(rd)
	}
}

func stopCause(err error) any {
	switch {
	case errors.Is(err, io.EOF):
		return "stream ended"
	case errors.Is(err, errStopped):
		return "stopped"
	case errors.Is(err, hub.ErrClosed), errors.Is(err, hub.ErrStreamNotFound):
		return "stream gone"
	}
	return err
}

// session drains rd until it ends or the recording is stopped.
func (r *recorder) session(rd *hub.Reader) error {
	si := rd.Stream()
	r.streamV, r.streamA = si.HasVideo, si.HasAudio
	src := batch.NewSource(rd, nil)
	defer src.Close()
	for {
		stopping := false
		select {
		case <-r.stopCh:
			stopping = true // take what is queued (no wait), then stop
		case <-src.Ready():
		}
		err := src.Drain(r)
		if stopping && err == nil {
			err = errStopped
		}
		r.batchEnd()
		if r.m.onBatch != nil {
			r.m.onBatch(r.key, r.lastDTS)
		}
		if errors.Is(err, io.EOF) {
			r.ending.Store(true)
		}
		if err != nil {
			return err
		}
	}
}

// bare is the Recording of the stream without a file.
func (r *recorder) bare() Recording {
	return Recording{Key: r.key, App: r.app, Stream: r.stream, Format: r.rule.Format}
}

// Frame handles one packet (batch.Framer). It never fails: a write error
// ends the file, not the reading.
func (r *recorder) Frame(p *av.Packet) error {
	switch {
	case p.Kind == av.KindData:
		r.meta = p
		if r.cur != nil && r.cur.flv != nil {
			r.write(p)
		}
		return nil
	case !p.IsMedia():
		return nil
	case p.Header:
		r.header(p)
		return nil
	}
	if !r.seenMedia {
		r.seenMedia, r.firstMedia = true, p.DTS
	}
	r.lastDTS = max(r.lastDTS, p.DTS)
	if p.Kind == av.KindVideo {
		r.lastVideo = p
	} else {
		r.lastAudio = p
	}
	if f := r.cur; f != nil {
		if !r.needCut && (p.Kind == av.KindVideo && !f.hasV && r.videoState(nil) == trackReady ||
			p.Kind == av.KindAudio && !f.hasA && r.audioState() == trackReady) {
			r.needCut = true // a track the file lacks can now go in one
		}
		switch {
		case r.overgrown(f, p):
			// No keyframe to cut at (a broken or hostile publisher):
			// the file ends here, and the next one starts at a keyframe.
			r.log.Warn("recording file ended without a keyframe to cut at", "path", f.rec.Path,
				"size", f.out.size, "media", time.Duration(p.DTS-f.base)*time.Millisecond)
		case !r.cutHere(p):
			r.write(p)
			return nil
		}
		r.finish()
	}
	if r.hold != nil {
		r.hold = append(r.hold, p)
		r.holdSize += len(p.Data)
		r.release(false)
		return nil
	}
	switch d, withV, withA := r.plan(p); d {
	case startNow:
		if r.open(p, withV, withA) {
			r.write(p)
		}
	case startHold:
		r.hold = append(r.hold, p)
		r.holdSize = len(p.Data)
	}
	return nil
}

// maxHold and maxHoldBytes bound what is held at a start point (see
// startHold): taken out of the hub reader's queue, those packets are no
// longer under hub.queue_max_bytes, and a publisher that announces audio
// and never configures it must not pin more than this.
const (
	maxHold      = 1024
	maxHoldBytes = 16 << 20
)

// release starts the file the held packets begin with once the audio
// track is configured, or without it once startWait of media, maxHold
// packets or maxHoldBytes are held, or when force is set (the recording
// ends).
func (r *recorder) release(force bool) {
	first, last := r.hold[0], r.hold[len(r.hold)-1]
	as := r.audioState()
	if as == trackNotYet && !force && last.DTS-first.DTS < startWait && len(r.hold) < maxHold &&
		r.holdSize < maxHoldBytes {
		return
	}
	hold := r.hold
	r.hold, r.holdSize = nil, 0
	if r.open(first, true, as == trackReady) {
		for _, q := range hold {
			if r.cur == nil {
				break // a write failed
			}
			r.write(q)
		}
	}
	clear(hold)
}

// header takes a new sequence header. A file whose track changed
// configuration ends (fMP4: its init section no longer describes the
// samples) or carries the header inline (FLV); a track the file lacks
// makes the next start point begin a new file.
func (r *recorder) header(p *av.Packet) {
	video := p.Kind == av.KindVideo
	old := r.aHdr
	if video {
		old = r.vHdr
		r.vHdr = p
	} else {
		r.aHdr = p
	}
	f := r.cur
	if f == nil || old != nil && old.Codec == p.Codec && bytes.Equal(old.Data, p.Data) {
		return // a resumed publisher repeats its headers
	}
	inFile := f.hasV && video || f.hasA && !video
	switch {
	case !inFile:
		r.needCut = true // the next file carries it
	case f.flv != nil:
		r.write(p)
	default:
		r.finish()
	}
}

// videoCodec is the stream's video codec (of its header, else of its
// frames), CodecUnknown if it has shown none.
func (r *recorder) videoCodec() av.Codec {
	if r.vHdr != nil {
		return r.vHdr.Codec
	}
	if r.lastVideo != nil {
		return r.lastVideo.Codec
	}
	return av.CodecUnknown
}

func (r *recorder) audioCodec() av.Codec {
	if r.aHdr != nil {
		return r.aHdr.Codec
	}
	if r.lastAudio != nil {
		return r.lastAudio.Codec
	}
	return av.CodecUnknown
}

// videoWanted and audioWanted report whether the stream has or announced
// the track.
func (r *recorder) videoWanted() bool {
	if r.vHdr != nil || r.lastVideo != nil {
		return true
	}
	if r.meta != nil {
		if v, _, ok := flv.MetaTracks(r.meta); ok {
			return v
		}
	}
	return r.streamV
}

func (r *recorder) audioWanted() bool {
	if r.aHdr != nil || r.lastAudio != nil {
		return true
	}
	if r.meta != nil {
		if _, a, ok := flv.MetaTracks(r.meta); ok {
			return a
		}
	}
	return r.streamA
}

// trackState is whether a track can go in a file now.
type trackState uint8

const (
	trackNotYet   trackState = iota // its configuration is still missing
	trackReady                      // it can
	trackUnusable                   // its configuration cannot go in this format
)

// videoState says whether the video track can go in a file starting at
// keyframe key (nil: not at a keyframe).
func (r *recorder) videoState(key *av.Packet) trackState {
	c := r.videoCodec()
	if c == av.CodecUnknown && r.lastVideo == nil {
		return trackNotYet
	}
	if r.rule.Format == FormatFLV {
		if r.vHdr == nil && needsHeader(c) {
			return trackNotYet
		}
		return trackReady
	}
	if r.vt != nil && r.vtFrom == r.vHdr && r.vt.codec == c {
		return trackReady
	}
	if r.vtErr != nil && r.vtFrom == r.vHdr && r.vtCodec == c && (r.vHdr != nil || errors.Is(r.vtErr, errUnsupported)) {
		return trackUnusable
	}
	var hdr, kp []byte
	if r.vHdr != nil {
		hdr = videoPayload(r.vHdr)
	}
	if key != nil {
		kp = videoPayload(key)
	}
	t, err := videoTrack(c, hdr, kp)
	if err == nil {
		_, err = makeInit(t, nil)
	}
	switch {
	case err == nil:
		r.vt, r.vtFrom, r.vtErr = t, r.vHdr, nil
		return trackReady
	case errors.Is(err, errNoConfig) || key == nil && c == av.CodecAV1 && !errors.Is(err, errUnsupported):
		return trackNotYet
	}
	r.vt, r.vtFrom, r.vtErr, r.vtCodec = nil, r.vHdr, err, c
	r.log.Warn("recording leaves the video track out", "codec", c.String(), "format", r.rule.Format.String(), "err", err)
	return trackUnusable
}

// audioState says whether the audio track can go in a file now.
func (r *recorder) audioState() trackState {
	c := r.audioCodec()
	if r.rule.Format == FormatFLV {
		if r.aHdr == nil && needsHeader(c) {
			return trackNotYet
		}
		return trackReady // FLV needs no codec knowledge, only the header flag
	}
	if c == av.CodecUnknown && r.lastAudio == nil {
		return trackNotYet
	}
	from := r.aHdr
	if from == nil {
		from = r.lastAudio // codecs without a header configure from a frame
	}
	if r.at != nil && r.at.codec == c && (r.atFrom == from || r.aHdr == nil && !needsHeader(c)) {
		return trackReady
	}
	if r.atErr != nil && r.atCodec == c && (r.atFrom == from || errors.Is(r.atErr, errUnsupported)) {
		return trackUnusable
	}
	var hdr, frame, tag []byte
	if r.aHdr != nil {
		hdr = audioPayload(r.aHdr)
	}
	if r.lastAudio != nil {
		frame, tag = audioPayload(r.lastAudio), r.lastAudio.Data
	}
	t, err := audioTrack(c, hdr, frame, tag)
	if err == nil {
		_, err = makeInit(nil, t)
	}
	switch {
	case err == nil:
		r.at, r.atFrom, r.atErr = t, from, nil
		return trackReady
	case errors.Is(err, errNoConfig):
		return trackNotYet
	case r.aHdr == nil && !errors.Is(err, errUnsupported):
		return trackNotYet // a frame that does not parse: the next may
	}
	r.at, r.atFrom, r.atErr, r.atCodec = nil, from, err, c
	r.log.Warn("recording leaves the audio track out", "codec", c.String(), "format", r.rule.Format.String(), "err", err)
	return trackUnusable
}

// startDecision is what plan says of a media packet while no file is
// open.
type startDecision uint8

const (
	skip      startDecision = iota // not a start point (or retrying later)
	startNow                       // a file starts here
	startHold                      // a file starts here once the audio is configured: hold the packets
)

// plan decides whether a file can start at media packet p and with which
// tracks: a video keyframe when the stream has usable video, with the
// audio track once it is configured (startHold meanwhile; at most
// startWait of media after the stream's first, then without it); an
// audio frame when the stream has no usable video (or none showed up
// within startWait); never within RetryInterval after a failure.
func (r *recorder) plan(p *av.Packet) (d startDecision, withV, withA bool) {
	if r.failing && r.m.now().Before(r.failedAt.Add(r.m.cfg.RetryInterval)) {
		return skip, false, false
	}
	waited := p.DTS-r.firstMedia >= startWait
	key := p.Kind == av.KindVideo && p.Keyframe
	var kp *av.Packet
	if key {
		kp = p
	}
	vs := trackUnusable
	if r.videoWanted() {
		vs = r.videoState(kp)
	}
	as := trackUnusable
	if r.audioWanted() {
		as = r.audioState()
	}
	switch vs {
	case trackReady:
		switch {
		case !key:
			return skip, false, false
		case as == trackNotYet && !waited:
			return startHold, true, false
		}
		return startNow, true, as == trackReady
	case trackNotYet:
		if !waited || r.lastVideo != nil && r.vHdr != nil {
			return skip, false, false // wait for the video (a keyframe, its header)
		}
	}
	// No usable video: audio only.
	if p.Kind != av.KindAudio || as != trackReady {
		return skip, false, false
	}
	return startNow, false, true
}

// cutHere reports whether the file in progress ends before p: p is where
// a new file can start, and the file reached SegmentDuration or the
// stream's tracks changed.
// overgrown reports whether f must end before p although p is no place to
// cut: past maxSegmentFactor segment durations of media (minOvergrown at
// least), or, with
// max_bytes set, at that many bytes (a file may not outgrow what the
// stream may keep). Keyframe-less video would otherwise grow one file
// for as long as the stream lives.
func (r *recorder) overgrown(f *recFile, p *av.Packet) bool {
	if r.rule.MaxBytes > 0 {
		size := f.out.size // what the file was given, and the fMP4 fragment in the making
		if f.mp4 != nil {
			size += int64(f.mp4.pend)
		}
		if size >= r.rule.MaxBytes {
			return true
		}
	}
	limit := max(maxSegmentFactor*r.rule.SegmentDuration, minOvergrown)
	return p.DTS-f.base >= limit.Milliseconds()
}

// A file with no keyframe to cut at ends after maxSegmentFactor segment
// durations, and never before minOvergrown (longer than any sane GOP: a
// stream with long GOPs and short segments must not lose media to it).
const (
	maxSegmentFactor = 3
	minOvergrown     = time.Minute
)

func (r *recorder) cutHere(p *av.Packet) bool {
	f := r.cur
	if !r.needCut && p.DTS-f.base < r.rule.SegmentDuration.Milliseconds() {
		return false
	}
	if f.hasV && (p.Kind != av.KindVideo || !p.Keyframe) {
		return false // cheap test first: only keyframes cut a video file
	}
	d, _, _ := r.plan(p)
	return d != skip
}

// open starts a file at media packet p with the tracks plan chose. It
// reports whether p goes in it.
func (r *recorder) open(p *av.Packet, withV, withA bool) bool {
	now := r.m.now()
	f := &recFile{base: p.DTS, hasV: withV, hasA: withA, checked: p.DTS}
	if withV {
		f.vCodec = r.videoCodec()
	}
	if withA {
		f.aCodec = r.audioCodec()
	}
	var init []byte
	if r.rule.Format == FormatFMP4 {
		var v, a *mp4Track
		if withV {
			v = r.vt
		}
		if withA {
			a = r.at
		}
		var err error
		if init, err = r.initFor(v, a); err != nil {
			// Each track made an init section alone (videoState,
			// audioState), so this is not expected: leave the video
			// out until its configuration changes, rather than retry
			// at every keyframe.
			r.vt, r.vtFrom, r.vtErr, r.vtCodec = nil, r.vHdr, fmt.Errorf("%w: %w", errUnsupported, err), f.vCodec
			r.log.Warn("recording leaves the video track out", "err", err)
			return false
		}
	}
	r.m.fileMu.Lock()
	df, path, name, err := r.m.openUnique(r.tpl, r.rootDir, r.key, now, r.rule.Format)
	f.rec = Recording{
		Key: r.key, App: r.app, Stream: r.stream, Path: path, Name: name,
		Format: r.rule.Format, Start: now, InProgress: true,
	}
	if err == nil {
		if f.fi, err = df.Stat(); err != nil {
			_ = df.Close()
			_ = os.Remove(path)
		}
	}
	if err == nil {
		f.act = r.m.addActive(f.rec)
	}
	r.m.fileMu.Unlock()
	if err != nil {
		r.fail(f.rec, err)
		return false
	}
	f.out = newOutFile(df, r.bw, func(n int64) {
		r.m.bytes.Add(uint64(n))
		f.act.size.Add(n)
	})
	r.cur = f
	r.bw = f.out.bw
	switch r.rule.Format {
	case FormatFLV:
		var vh, ah *av.Packet
		if withV {
			vh = r.vHdr
		}
		if withA {
			ah = r.aHdr
		}
		f.flv, err = newFLVWriter(f.out, p.DTS, withA, withV, r.meta, vh, ah)
	default:
		var v, a *mp4Track
		if withV {
			v = r.vt
		}
		if withA {
			a = r.at
		}
		f.mp4, err = newFMP4Writer(f.out, v, a, init, p.DTS, r.lastMP4)
		r.lastMP4 = f.mp4
	}
	if err != nil {
		r.fail(f.rec, err)
		return false
	}
	r.needCut = false
	if r.failing {
		r.failing = false
		r.log.Info("recording resumed", "path", path)
	}
	r.log.Info("recording started", "path", path)
	f.started = true
	r.m.emit(Event{Type: EventStarted, Recording: f.snapshot(true)})
	r.m.retain(r.key, r.rule)
	return true
}

// initFor returns the init section of tracks v and a, made once for as
// long as they stay the same (files are cut with the same tracks).
func (r *recorder) initFor(v, a *mp4Track) ([]byte, error) {
	if r.init != nil && r.initV == v && r.initA == a {
		return r.init, nil
	}
	init, err := makeInit(v, a)
	if err != nil {
		return nil, err
	}
	r.init, r.initV, r.initA = init, v, a
	return init, nil
}

// write puts p in the file in progress.
func (r *recorder) write(p *av.Packet) {
	f := r.cur
	var err error
	switch {
	case f.flv != nil:
		if p.IsMedia() && (p.Kind == av.KindVideo && !f.hasV || p.Kind == av.KindAudio && !f.hasA) {
			break // a track the header does not announce: the next file has it
		}
		err = f.flv.packet(p)
	case p.Kind == av.KindVideo:
		if f.hasV && p.Codec == f.vCodec && !p.Header && !flv.IsVideoMetadata(p) && !flv.IsSequenceEnd(p) {
			err = f.mp4.video(p.DTS, p.CTS, p.Keyframe, videoPayload(p))
		}
	case p.Kind == av.KindAudio:
		if f.hasA && p.Codec == f.aCodec && !p.Header {
			err = f.mp4.audio(p.DTS, audioPayload(p))
		}
	}
	if err == nil && p.DTS-f.checked >= checkEvery {
		f.checked = p.DTS
		err = stillThere(f.fi, f.rec.Path)
	}
	if err != nil {
		r.fail(f.rec, err)
	}
}

// batchEnd commits the FLV tags of a drained batch (fMP4 fragments commit
// as they close) and publishes the file's progress.
func (r *recorder) batchEnd() {
	f := r.cur
	if f == nil {
		return
	}
	if f.flv != nil {
		if err := f.flv.commit(); err != nil {
			r.fail(f.rec, err)
			return
		}
	}
	f.act.duration.Store(int64(f.committed()))
}

// finish ends the file in progress cleanly (EventDone); held packets
// get their file first.
func (r *recorder) finish() {
	if r.hold != nil {
		r.release(true)
	}
	f := r.cur
	if f == nil {
		return
	}
	var err error
	if f.flv != nil {
		err = f.flv.finish()
	} else {
		err = f.mp4.finish()
	}
	if err == nil {
		err = f.out.close()
	}
	if err != nil {
		r.fail(f.rec, err)
		return
	}
	r.cur = nil
	rec := f.snapshot(false)
	r.m.done(f.act, rec)
	r.log.Info("recording done", "path", rec.Path, "duration", rec.Duration.Round(time.Millisecond), "size", rec.Size)
	r.m.emit(Event{Type: EventDone, Recording: rec})
	// The file just finished counts now: a stream's last file must not
	// leave it over max_bytes until the next sweep.
	r.m.retain(r.key, r.rule)
}

// fail ends the file in progress, if any, at its last complete unit after
// an open or write error (rec is what was being written), and schedules a
// new file RetryInterval later. The first failure of a run of them is
// logged at Warn and sent as EventError; the retries that fail too only
// count, at Debug.
func (r *recorder) fail(rec Recording, err error) {
	f := r.cur
	if f != nil {
		r.cur = nil
		f.out.abort()
		rec = f.snapshot(false)
		if rec.Size == 0 {
			_ = os.Remove(rec.Path) // nothing of it is playable
		}
	}
	r.m.errs.Add(1)
	first := !r.failing
	r.failing, r.failedAt = true, r.m.now()
	if first {
		r.log.Warn("recording failed; retrying at a keyframe", "path", rec.Path, "err", err,
			"retry_after", r.m.cfg.RetryInterval)
		r.m.emit(Event{Type: EventError, Recording: rec, Err: err})
	} else {
		r.log.Debug("recording retry failed", "path", rec.Path, "err", err)
	}
	if f != nil {
		r.m.done(f.act, rec)
		if f.started {
			r.m.emit(Event{Type: EventDone, Recording: rec})
		}
	}
}

// abort ends the file after a panic: cut at its last complete unit, no
// more writes (the writer's state is not to be trusted).
func (r *recorder) abort(err error) {
	r.m.errs.Add(1)
	clear(r.hold)
	r.hold, r.holdSize = nil, 0
	f := r.cur
	r.cur = nil
	rec := r.bare()
	if f != nil {
		f.out.abort()
		rec = f.snapshot(false)
	}
	r.m.emit(Event{Type: EventError, Recording: rec, Err: err})
	if f != nil {
		r.m.done(f.act, rec)
		if f.started {
			r.m.emit(Event{Type: EventDone, Recording: rec})
		}
	}
}

var _ batch.Framer = (*recorder)(nil)
