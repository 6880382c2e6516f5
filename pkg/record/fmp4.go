package record

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"github.com/ripplemedia/ripple/pkg/av"
)

// Fragment bounds: a fragment closes at every video keyframe, once it
// spans FragmentDuration, and before it would pass maxFragmentBytes of
// payload or maxFragmentSamples samples (a single larger sample goes
// alone). They bound what a crash loses and what a recording holds.
const (
	FragmentDuration   = time.Second
	maxFragmentBytes   = 4 << 20
	maxFragmentSamples = 1024
)

// Sample flags (ISO/IEC 14496-12 §8.8.3.1): a sync sample depends on no
// other; any other sample depends on others and is not a sync sample.
const (
	flagsSync    = 0x02000000
	flagsNonSync = 0x01010000
)

// trun flags (§8.8.8.1).
const (
	trunDataOffset  = 0x000001
	trunDuration    = 0x000100
	trunSize        = 0x000200
	trunFlags       = 0x000400
	trunCTS         = 0x000800
	tfhdDefaultBase = 0x020000 // default-base-is-moof
)

type vsample struct {
	dts  int64 // ms on the file's clock
	cts  int32 // ms
	key  bool
	data []byte
}

type asample struct {
	dur  uint32 // timescale units
	data []byte
}

// fmp4Writer writes one fMP4 file: the init section, then moof+mdat
// fragments. Sample payloads alias packet data until their fragment is
// written; the sample lists and the moof buffer are reused.
type fmp4Writer struct {
	out       *outFile
	v, a      *mp4Track
	vID       uint32
	aID       uint32
	base      int64 // stream DTS (ms) of the file's time 0
	seq       uint32
	vs        []vsample
	as        []asample
	aBase     uint64 // time of as[0], audio timescale units
	aNext     uint64 // time of the next audio sample
	aSet      bool
	pend      int   // payload bytes pending
	fstart    int64 // file ms of the fragment's first sample
	vDur      int64 // last video sample duration, ms
	aDur      uint32
	moof      []byte
	mvhd      int64 // offset of mvhd's duration field; -1 if unknown
	mvhdScale uint32
	mvhdV1    bool
	end       int64 // file ms reached (for Duration)
	done      int64 // end of the committed fragments, file ms
}

// makeInit returns the init section (ftyp+moov) of tracks v and a
// (either may be nil): the video track has ID 1, the audio track the
// next one.
func makeInit(v, a *mp4Track) ([]byte, error) {
	var in fmp4.Init
	id := 1
	if v != nil {
		in.Tracks = append(in.Tracks, &fmp4.InitTrack{ID: id, TimeScale: v.timescale, Codec: v.mp4})
		id++
	}
	if a != nil {
		in.Tracks = append(in.Tracks, &fmp4.InitTrack{ID: id, TimeScale: a.timescale, Codec: a.mp4})
	}
	var buf seekablebuffer.Buffer
	if err := in.Marshal(&buf); err != nil {
		return nil, fmt.Errorf("record: init section: %w", err)
	}
	return buf.Bytes(), nil
}

// newFMP4Writer writes init, the init section of tracks v and a (from
// makeInit), to out. base is the stream DTS of the file's time 0.
// prev, the writer of the stream's previous file (or nil), lends its
// buffers.
func newFMP4Writer(out *outFile, v, a *mp4Track, init []byte, base int64, prev *fmp4Writer) (*fmp4Writer, error) {
	w := &fmp4Writer{out: out, v: v, a: a, base: base}
	if prev != nil {
		w.vs, w.as, w.moof = prev.vs[:0], prev.as[:0], prev.moof[:0]
	}
	if v != nil {
		w.vID = 1
		w.aID = 2
	} else {
		w.aID = 1
	}
	w.mvhd, w.mvhdScale, w.mvhdV1 = findMvhdDuration(init)
	if _, err := out.Write(init); err != nil {
		return nil, err
	}
	return w, out.commit()
}

// findMvhdDuration returns the offset of the duration field of the moov's
// mvhd in an init section (-1 if none), the mvhd timescale and whether
// the field is 64-bit (§8.2.2).
func findMvhdDuration(b []byte) (off int64, scale uint32, v1 bool) {
	moov, ok := findBox(b, 0, len(b), "moov")
	if !ok {
		return -1, 0, false
	}
	mvhd, ok := findBox(b, moov+8, moov+int(binary.BigEndian.Uint32(b[moov:])), "mvhd")
	if !ok || mvhd+40 > len(b) {
		return -1, 0, false
	}
	if b[mvhd+8] == 1 { // version 1: 64-bit creation, modification, duration
		return int64(mvhd + 32), binary.BigEndian.Uint32(b[mvhd+28:]), true
	}
	return int64(mvhd + 24), binary.BigEndian.Uint32(b[mvhd+20:]), false
}

// findBox returns the offset of the first box of type typ in b[from:to].
func findBox(b []byte, from, to int, typ string) (int, bool) {
	for off := from; off+8 <= to; {
		size := int(binary.BigEndian.Uint32(b[off:]))
		if size < 8 || off+size > to {
			return 0, false
		}
		if string(b[off+4:off+8]) == typ {
			return off, true
		}
		off += size
	}
	return 0, false
}

func (w *fmp4Writer) pending() int { return len(w.vs) + len(w.as) }

// video adds a video sample; dts and cts in ms on the stream's timeline.
// A keyframe closes the fragment in progress first.
func (w *fmp4Writer) video(dts int64, cts int32, key bool, payload []byte) error {
	if w.v == nil || len(payload) == 0 {
		return nil
	}
	switch w.v.codec {
	case av.CodecH264, av.CodecHEVC:
		if w.v.lengthSize != 4 {
			b, err := avccTo4(payload, w.v.lengthSize)
			if err != nil {
				return nil // ingest checked the framing: a frame of another config
			}
			payload = b
		}
	case av.CodecAV1:
		payload = av1Sample(payload)
	}
	t := max(dts-w.base, 0)
	if len(w.vs) > 0 && t < w.vs[len(w.vs)-1].dts {
		t = w.vs[len(w.vs)-1].dts // the hub keeps DTS monotonic; be sure
	}
	if w.pending() > 0 && (key || w.full(t, len(payload))) {
		if err := w.flush(t); err != nil {
			return err
		}
	}
	if w.pending() == 0 {
		w.fstart = t
	}
	w.vs = append(w.vs, vsample{dts: t, cts: cts, key: key, data: payload})
	w.pend += len(payload)
	w.end = max(w.end, t)
	return nil
}

// audio adds an audio sample at dts (ms, the stream's timeline). Times
// advance by whole frames; the stream's clock is followed only when it
// drifts by more than 100 ms (a gap in the audio).
func (w *fmp4Writer) audio(dts int64, payload []byte) error {
	if w.a == nil || len(payload) == 0 {
		return nil
	}
	ms := max(dts-w.base, 0)
	rate := uint64(w.a.timescale)
	t := uint64(ms) * rate / 1000
	resync := !w.aSet || absDiff(t, w.aNext) > rate/10
	if w.pending() > 0 && (w.full(ms, len(payload)) || resync && len(w.as) > 0) {
		if err := w.flush(-1); err != nil {
			return err
		}
	}
	if resync {
		w.aNext, w.aSet = t, true
	}
	d := uint32(w.a.samples(payload))
	if d == 0 {
		d = w.aDur
		if d == 0 {
			d = uint32(rate / 50)
		}
	}
	w.aDur = d
	if w.pending() == 0 {
		w.fstart = ms
	}
	if len(w.as) == 0 {
		w.aBase = w.aNext
	}
	w.as = append(w.as, asample{dur: d, data: payload})
	w.aNext += uint64(d)
	w.pend += len(payload)
	w.end = max(w.end, int64(w.aNext*1000/rate))
	return nil
}

// full reports whether a sample of n bytes at file ms t must go into a
// new fragment.
func (w *fmp4Writer) full(t int64, n int) bool {
	return t-w.fstart >= FragmentDuration.Milliseconds() || w.pend+n > maxFragmentBytes ||
		w.pending() >= maxFragmentSamples
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// flush writes the pending samples as one fragment and commits it.
// nextV is the file ms of the video sample that follows (the last video
// sample's duration), or -1 if unknown (then the previous duration).
func (w *fmp4Writer) flush(nextV int64) error {
	if w.pending() == 0 {
		return nil
	}
	w.seq++
	b := w.moof[:0]
	b = appendBox(b, "moof")
	b = appendFullBox(b, "mfhd", 16, 0, 0)
	b = binary.BigEndian.AppendUint32(b, w.seq)
	var offsets [2]int // positions of the truns' data_offset fields
	if len(w.vs) > 0 {
		b, offsets[0] = w.appendVideoTraf(b, nextV)
	}
	if len(w.as) > 0 {
		b, offsets[1] = w.appendAudioTraf(b)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	moofSize := len(b)
	vBytes := 0
	for _, s := range w.vs {
		vBytes += len(s.data)
	}
	if offsets[0] > 0 {
		binary.BigEndian.PutUint32(b[offsets[0]:], uint32(moofSize+8))
	}
	if offsets[1] > 0 {
		binary.BigEndian.PutUint32(b[offsets[1]:], uint32(moofSize+8+vBytes))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(8+w.pend))
	b = append(b, "mdat"...)
	w.moof = b
	_, err := w.out.Write(b)
	for i := range w.vs {
		if err == nil {
			_, err = w.out.Write(w.vs[i].data)
		}
		w.vs[i].data = nil
	}
	for i := range w.as {
		if err == nil {
			_, err = w.out.Write(w.as[i].data)
		}
		w.as[i].data = nil
	}
	w.vs, w.as, w.pend = w.vs[:0], w.as[:0], 0
	if err != nil {
		return err
	}
	if err := w.out.commit(); err != nil {
		return err
	}
	w.done = w.end
	return nil
}

func (w *fmp4Writer) appendVideoTraf(b []byte, nextV int64) ([]byte, int) {
	cts := false
	for _, s := range w.vs {
		cts = cts || s.cts != 0
	}
	flags := trunDataOffset | trunDuration | trunSize | trunFlags
	entry := 12
	if cts {
		flags |= trunCTS
		entry = 16
	}
	traf := len(b)
	b = appendBox(b, "traf")
	b = appendFullBox(b, "tfhd", 16, 0, tfhdDefaultBase)
	b = binary.BigEndian.AppendUint32(b, w.vID)
	b = appendFullBox(b, "tfdt", 20, 1, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(w.vs[0].dts)*videoTimescale/1000)
	b = appendFullBox(b, "trun", uint32(20+entry*len(w.vs)), 1, uint32(flags))
	b = binary.BigEndian.AppendUint32(b, uint32(len(w.vs)))
	off := len(b)
	b = binary.BigEndian.AppendUint32(b, 0) // data_offset, set by flush
	for i, s := range w.vs {
		var d int64
		switch {
		case i+1 < len(w.vs):
			d = w.vs[i+1].dts - s.dts
		case nextV >= s.dts:
			d = nextV - s.dts
		default:
			d = w.vDur
		}
		if d <= 0 {
			d = w.vDur
		}
		if d <= 0 {
			d = 33
		}
		if i+1 == len(w.vs) {
			w.end = max(w.end, s.dts+d)
		}
		w.vDur = d
		b = binary.BigEndian.AppendUint32(b, uint32(d*videoTimescale/1000))
		b = binary.BigEndian.AppendUint32(b, uint32(len(s.data)))
		sf := uint32(flagsNonSync)
		if s.key {
			sf = flagsSync
		}
		b = binary.BigEndian.AppendUint32(b, sf)
		if cts {
			b = binary.BigEndian.AppendUint32(b, uint32(int32(int64(s.cts)*videoTimescale/1000)))
		}
	}
	binary.BigEndian.PutUint32(b[traf:], uint32(len(b)-traf))
	return b, off
}

func (w *fmp4Writer) appendAudioTraf(b []byte) ([]byte, int) {
	traf := len(b)
	b = appendBox(b, "traf")
	b = appendFullBox(b, "tfhd", 16, 0, tfhdDefaultBase)
	b = binary.BigEndian.AppendUint32(b, w.aID)
	b = appendFullBox(b, "tfdt", 20, 1, 0)
	b = binary.BigEndian.AppendUint64(b, w.aBase)
	b = appendFullBox(b, "trun", uint32(20+8*len(w.as)), 0, trunDataOffset|trunDuration|trunSize)
	b = binary.BigEndian.AppendUint32(b, uint32(len(w.as)))
	off := len(b)
	b = binary.BigEndian.AppendUint32(b, 0)
	for _, s := range w.as {
		b = binary.BigEndian.AppendUint32(b, s.dur)
		b = binary.BigEndian.AppendUint32(b, uint32(len(s.data)))
	}
	binary.BigEndian.PutUint32(b[traf:], uint32(len(b)-traf))
	return b, off
}

// appendBox appends a box header whose size the caller sets later.
func appendBox(b []byte, typ string) []byte {
	b = binary.BigEndian.AppendUint32(b, 0)
	return append(b, typ...)
}

// appendFullBox appends the header of a full box of the given size.
func appendFullBox(b []byte, typ string, size uint32, version uint8, flags uint32) []byte {
	b = binary.BigEndian.AppendUint32(b, size)
	b = append(b, typ...)
	return binary.BigEndian.AppendUint32(b, uint32(version)<<24|flags&0xFFFFFF)
}

// committed is the media time of the fragments in the file.
func (w *fmp4Writer) committed() time.Duration { return time.Duration(w.done) * time.Millisecond }

// finish writes the last fragment and records the duration in the mvhd,
// so players show it without reading every fragment. It does not close
// the file.
func (w *fmp4Writer) finish() error {
	if err := w.flush(-1); err != nil {
		return err
	}
	if w.mvhd < 0 || w.mvhdScale == 0 {
		return nil
	}
	d := uint64(w.end) * uint64(w.mvhdScale) / 1000
	var b [8]byte
	if w.mvhdV1 {
		binary.BigEndian.PutUint64(b[:], d)
		return w.out.patch(b[:], w.mvhd)
	}
	binary.BigEndian.PutUint32(b[:4], uint32(min(d, 1<<32-1)))
	return w.out.patch(b[:4], w.mvhd)
}
