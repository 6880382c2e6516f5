package hls

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/codec/h264"
	"github.com/ripplemedia/ripple/pkg/codec/hevc"
)

// container turns samples into segment bytes. Timestamps are milliseconds
// on the hub's stream timeline; au is an AVCC/HVCC access unit as carried in
// FLV, frame one raw AAC frame. Both are retained until the part or segment
// is flushed (they alias immutable packet data).
type container interface {
	// init returns the initialization section, nil for MPEG-TS.
	init() ([]byte, error)
	video(dts int64, cts int32, key bool, au []byte) error
	audio(dts int64, frame []byte) error
	// flushPart closes the current part at end (ms) and returns its bytes
	// (fMP4); nil when it is empty, and always for MPEG-TS (no parts).
	flushPart(end int64) ([]byte, error)
	// flushSegment closes the segment at end and returns its bytes; nil
	// when it holds nothing. Samples that cannot be written are dropped
	// (and the error returned), so the next segment starts clean.
	flushSegment(end int64) ([]byte, error)
	// size is an upper bound of the bytes the segment in progress takes
	// once flushed (parts already flushed included).
	size() int
	// cost is an upper bound of the bytes one more sample of n payload
	// bytes adds to the segment (key: a video keyframe).
	cost(n int, video, key bool) int
}

// errTrackMissing is a sample for a track the container was not built with; the
// segmenter never sends one, this is defense in depth.
var errTrackMissing = errors.New("hls: sample for a track the container lacks")

// expandBound bounds the bytes an AVCC/HVCC access unit of n bytes with
// lengthSize-byte NALU lengths takes once every length is rewritten as a
// 4-byte start code or length: a NALU of L >= 1 bytes grows from
// lengthSize+L to 4+L bytes, at most by 5/(lengthSize+1) (empty NALUs are
// dropped).
func expandBound(n, lengthSize int) int {
	if lengthSize >= 4 {
		return n
	}
	return (n*5 + lengthSize) / (lengthSize + 1)
}

// tsOffset shifts MPEG-TS timestamps by 10 s so that the PCR, which runs
// ahead of the DTS, never goes negative.
const tsOffset = 10 * 90000

// tsContainer writes MPEG-TS segments (ISO/IEC 13818-1) with mediacommon's
// writer: a new writer per segment, so every segment starts with PAT/PMT
// and can be decoded alone.
type tsContainer struct {
	v     *videoTrack
	a     *audioTrack
	buf   *bytes.Buffer
	w     *mpegts.Writer
	vt    *mpegts.Track
	at    *mpegts.Track
	nalus [][]byte
	last  int // previous segment size, to size the next buffer
	param int // Annex B bytes of the parameter sets put before keyframes
}

func newTSContainer(v *videoTrack, a *audioTrack) *tsContainer {
	c := &tsContainer{v: v, a: a}
	if v != nil {
		for _, p := range v.params {
			c.param += 4 + len(p)
		}
	}
	return c
}

func (c *tsContainer) size() int {
	if c.buf == nil {
		return 0
	}
	return c.buf.Len()
}

// cost bounds the TS bytes of one sample: its elementary stream bytes (an
// access unit delimiter and, before a keyframe, the parameter sets; ADTS
// headers for AAC) in a PES packet (ISO/IEC 13818-1 §2.4.3.6: 19 header
// bytes with PTS and DTS), split into 188-byte packets that carry at least
// 176 payload bytes each (an adaptation field with a PCR takes 8, the last
// one is stuffed), plus a PAT and a PMT the writer repeats at random
// access points.
func (c *tsContainer) cost(n int, video, key bool) int {
	var es int
	if video && c.v != nil {
		es = expandBound(n, c.v.lengthSize) + 8 + 19
		if key {
			es += c.param
		}
	} else {
		es = n + 7 + 14
	}
	return (es+175)/176*188 + 2*188
}

func (c *tsContainer) init() ([]byte, error) { return nil, nil }

func (c *tsContainer) open() error {
	if c.w != nil {
		return nil
	}
	c.buf = bytes.NewBuffer(make([]byte, 0, c.last+c.last/4))
	var tracks []*mpegts.Track
	c.vt, c.at = nil, nil
	if c.v != nil {
		var codec mpegts.Codec = &mpegts.CodecH264{}
		if c.v.codec == av.CodecHEVC {
			codec = &mpegts.CodecH265{}
		}
		c.vt = &mpegts.Track{Codec: codec}
		tracks = append(tracks, c.vt)
	}
	if c.a != nil {
		c.at = &mpegts.Track{Codec: &mpegts.CodecMPEG4Audio{Config: c.a.asc}}
		tracks = append(tracks, c.at)
	}
	c.w = &mpegts.Writer{W: c.buf, Tracks: tracks}
	return c.w.Initialize()
}

func (c *tsContainer) video(dts int64, cts int32, key bool, au []byte) error {
	if c.v == nil {
		return errTrackMissing
	}
	if err := c.open(); err != nil {
		return err
	}
	c.nalus = c.nalus[:0]
	if key {
		// FLV carries SPS/PPS only in the sequence header; an MPEG-TS
		// segment must carry them in-band before its IDR (ISO/IEC 14496-10
		// Annex B streams are self-contained).
		c.nalus = append(c.nalus, c.v.params...)
	}
	var err error
	c.nalus, err = appendNALUs(c.nalus, c.v, au)
	if err != nil {
		return err
	}
	if len(c.nalus) == 0 {
		return nil
	}
	d := dts*90 + tsOffset
	p := d + int64(cts)*90
	if c.v.codec == av.CodecHEVC {
		return c.w.WriteH265(c.vt, p, d, c.nalus)
	}
	return c.w.WriteH264(c.vt, p, d, c.nalus)
}

// appendNALUs splits an AVCC/HVCC access unit, leaving out access unit
// delimiters (the TS writer puts its own first).
func appendNALUs(dst [][]byte, v *videoTrack, au []byte) ([][]byte, error) {
	if v.codec == av.CodecHEVC {
		for n, err := range hevc.AVCCUnits(au, v.lengthSize) {
			if err != nil {
				return dst, err
			}
			if len(n) > 0 && hevc.TypeOf(n) != hevc.NALUAUD {
				dst = append(dst, n)
			}
		}
		return dst, nil
	}
	for n, err := range h264.AVCCUnits(au, v.lengthSize) {
		if err != nil {
			return dst, err
		}
		if len(n) > 0 && h264.TypeOf(n) != h264.NALUAUD {
			dst = append(dst, n)
		}
	}
	return dst, nil
}

func (c *tsContainer) audio(dts int64, frame []byte) error {
	if c.a == nil {
		return errTrackMissing
	}
	if err := c.open(); err != nil {
		return err
	}
	return c.w.WriteMPEG4Audio(c.at, dts*90+tsOffset, [][]byte{frame})
}

func (c *tsContainer) flushPart(int64) ([]byte, error) { return nil, nil }

func (c *tsContainer) flushSegment(int64) ([]byte, error) {
	if c.w == nil {
		return nil, nil
	}
	b := c.buf.Bytes()
	c.w, c.buf = nil, nil
	if len(b) == 0 {
		return nil, nil // opened, but no sample could be written
	}
	c.last = len(b)
	return b, nil
}

// fmp4Container writes fragmented MP4 (ISO/IEC 14496-12, CMAF-style): one
// moof+mdat per part; a segment is its parts back to back. Video uses a
// 90 kHz timescale, audio its sample rate, with durations counted in whole
// AAC frames so the audio timeline has no rounding gaps.
type fmp4Container struct {
	v     *videoTrack
	a     *audioTrack
	vID   int
	aID   int
	seq   uint32
	vs    []vsample
	as    [][]byte
	aBase uint64 // audio time of as[0], in samples
	aTime uint64 // audio time of the next frame, in samples
	aSet  bool
	parts [][]byte
	pend  int // size bound of the samples not yet in a part
	done  int // bytes of the parts of the segment in progress
}

// fMP4 overhead bounds (ISO/IEC 14496-12 §8.8): a moof with its mfhd and,
// per track, a traf with tfhd, tfdt (version 1) and trun header, plus the
// mdat header, stay under partOverhead; each sample adds one trun entry of
// at most 16 bytes (duration, size, flags, composition offset).
const (
	partOverhead   = 256
	sampleOverhead = 16
)

type vsample struct {
	dts     int64
	cts     int32
	key     bool
	payload []byte
}

func newFMP4Container(v *videoTrack, a *audioTrack) *fmp4Container {
	c := &fmp4Container{v: v, a: a}
	id := 1
	if v != nil {
		c.vID = id
		id++
	}
	if a != nil {
		c.aID = id
	}
	return c
}

func (c *fmp4Container) init() ([]byte, error) {
	var in fmp4.Init
	if c.v != nil {
		var codec mp4.Codec = &mp4.CodecH264{SPS: c.v.sps, PPS: c.v.pps}
		if c.v.codec == av.CodecHEVC {
			codec = &mp4.CodecH265{VPS: c.v.vps, SPS: c.v.sps, PPS: c.v.pps}
		}
		in.Tracks = append(in.Tracks, &fmp4.InitTrack{ID: c.vID, TimeScale: 90000, Codec: codec})
	}
	if c.a != nil {
		in.Tracks = append(in.Tracks, &fmp4.InitTrack{
			ID: c.aID, TimeScale: uint32(c.a.sampleRate),
			Codec: &mp4.CodecMPEG4Audio{Config: c.a.asc},
		})
	}
	var buf seekablebuffer.Buffer
	if err := in.Marshal(&buf); err != nil {
		return nil, fmt.Errorf("hls: init section: %w", err)
	}
	return buf.Bytes(), nil
}

func (c *fmp4Container) size() int {
	if c.pend > 0 {
		return c.done + c.pend + partOverhead
	}
	return c.done
}

func (c *fmp4Container) cost(n int, video, _ bool) int {
	if video && c.v != nil {
		n = expandBound(n, c.v.lengthSize)
	}
	return n + sampleOverhead + partOverhead
}

func (c *fmp4Container) video(dts int64, cts int32, key bool, au []byte) error {
	if c.v == nil {
		return errTrackMissing
	}
	if c.v.lengthSize != 4 {
		// MP4 samples here use 4-byte NALU lengths (the avcC/hvcC we
		// write says so); FLV may use 1 or 2.
		nalus, err := appendNALUs(nil, c.v, au)
		if err != nil {
			return err
		}
		var out []byte
		for _, n := range nalus {
			out = append(out, byte(len(n)>>24), byte(len(n)>>16), byte(len(n)>>8), byte(len(n)))
			out = append(out, n...)
		}
		au = out
	}
	c.vs = append(c.vs, vsample{dts: dts, cts: cts, key: key, payload: au})
	c.pend += len(au) + sampleOverhead
	return nil
}

func (c *fmp4Container) audio(dts int64, frame []byte) error {
	if c.a == nil {
		return errTrackMissing
	}
	t := uint64(dts) * uint64(c.a.sampleRate) / 1000
	// Follow the FLV clock only when it drifts by more than 100 ms from
	// the frame count (a gap in the audio); else keep exact frame steps.
	if !c.aSet || absDiff(t, c.aTime) > uint64(c.a.sampleRate/10) {
		c.aTime, c.aSet = t, true
	}
	if len(c.as) == 0 {
		c.aBase = c.aTime
	}
	c.as = append(c.as, frame)
	c.aTime += uint64(c.a.frameSamples)
	c.pend += len(frame) + sampleOverhead
	return nil
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

func (c *fmp4Container) flushPart(end int64) ([]byte, error) {
	if len(c.vs) == 0 && len(c.as) == 0 {
		return nil, nil // nothing since the last cut
	}
	c.seq++
	p := fmp4.Part{SequenceNumber: c.seq}
	if len(c.vs) > 0 {
		pt := &fmp4.PartTrack{ID: c.vID, BaseTime: uint64(c.vs[0].dts) * 90}
		samples := make([]fmp4.Sample, len(c.vs))
		pt.Samples = make([]*fmp4.Sample, len(c.vs))
		for i, s := range c.vs {
			next := end
			if i+1 < len(c.vs) {
				next = c.vs[i+1].dts
			}
			d := (next - s.dts) * 90
			if d <= 0 {
				d = 1
			}
			samples[i] = fmp4.Sample{
				Duration:        uint32(d),
				PTSOffset:       s.cts * 90,
				IsNonSyncSample: !s.key,
				Payload:         s.payload,
			}
			pt.Samples[i] = &samples[i]
		}
		p.Tracks = append(p.Tracks, pt)
	}
	if len(c.as) > 0 {
		pt := &fmp4.PartTrack{ID: c.aID, BaseTime: c.aBase}
		samples := make([]fmp4.Sample, len(c.as))
		pt.Samples = make([]*fmp4.Sample, len(c.as))
		for i, f := range c.as {
			samples[i] = fmp4.Sample{Duration: uint32(c.a.frameSamples), Payload: f}
			pt.Samples[i] = &samples[i]
		}
		p.Tracks = append(p.Tracks, pt)
	}
	var buf seekablebuffer.Buffer
	err := p.Marshal(&buf)
	// Written or not, these samples are done: a sample that cannot be
	// written must not poison the next part.
	clear(c.vs)
	c.vs = c.vs[:0]
	clear(c.as)
	c.as = c.as[:0]
	c.pend = 0
	if err != nil {
		return nil, fmt.Errorf("hls: part: %w", err)
	}
	b := buf.Bytes()
	c.parts = append(c.parts, b)
	c.done += len(b)
	return b, nil
}

func (c *fmp4Container) flushSegment(end int64) ([]byte, error) {
	var err error
	if len(c.vs) > 0 || len(c.as) > 0 {
		_, err = c.flushPart(end) // on error the segment is the parts so far
	}
	c.done = 0
	if len(c.parts) == 0 {
		return nil, err
	}
	var b []byte
	if len(c.parts) == 1 {
		b = c.parts[0]
	} else {
		b = bytes.Join(c.parts, nil)
	}
	clear(c.parts)
	c.parts = c.parts[:0]
	return b, err
}
