//go:build e2e

package e2e

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ripplemedia/ripple/pkg/amf0"
	"github.com/ripplemedia/ripple/pkg/flv"
)

// pubTag is one FLV tag to publish: a body exactly as it goes on the wire.
type pubTag struct {
	typ  uint8
	ts   uint32
	body []byte
}

// AV1 OBU types (AV1 bitstream spec §6.2.2).
const (
	obuSequenceHeader    = 1
	obuTemporalDelimiter = 2
	obuPadding           = 15
)

// E-RTMP v2 video tag header byte: IsExHeader | FrameType<<4 | PacketType.
const (
	ertmpKey           = 0x80 | 1<<4
	ertmpInter         = 0x80 | 2<<4
	ertmpSequenceStart = 0
	ertmpCodedFrames   = 1
)

// av1Stream encodes seconds of testsrc2 (320x240, 25 fps, a keyframe every
// second) with ffmpeg's SVT-AV1 encoder into a raw OBU stream, and wraps it
// into E-RTMP av01 tags the way an E-RTMP encoder does (E-RTMP v1 "AV1"):
// an onMetaData, a SequenceStart carrying the AV1CodecConfigurationRecord
// (AV1-ISOBMFF §2.3) and one CodedFrames tag per temporal unit (a sample
// in AV1-ISOBMFF §2.4 terms: temporal delimiters dropped). AV1 has no
// composition offset, so CodedFrames carries no CTS. Keyframes are what
// ffprobe's AV1 parser flags, cross-checked against the sequence header
// the encoder repeats on every keyframe.
func av1Stream(t *testing.T, seconds int, encoder ...string) []pubTag {
	t.Helper()
	const fps, width, height = 25, 320, 240
	dir := t.TempDir()
	obuPath := filepath.Join(dir, "av1.obu")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	args := append(append([]string{}, ffmpegBase...), "-f", "lavfi",
		"-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", width, height, fps), "-t", fmt.Sprint(seconds),
		"-pix_fmt", "yuv420p")
	if len(encoder) == 0 {
		encoder = svtAV1
	}
	args = append(append(args, encoder...), "-g", fmt.Sprint(fps), "-f", "obu", "-y", obuPath)
	if b, err := exec.CommandContext(ctx, ffmpegBin, args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(encoder, " "), err, b)
	}
	raw, err := os.ReadFile(obuPath)
	if err != nil {
		t.Fatal(err)
	}
	tus, seqHdr, err := splitTemporalUnits(raw)
	if err != nil {
		t.Fatalf("%s: %v", obuPath, err)
	}
	p, err := runProbe(ctx, obuPath)
	if err != nil {
		t.Fatal(err)
	}
	pkts := p.packets("video")
	if len(pkts) != len(tus) {
		t.Fatalf("%s: %d temporal units, ffprobe counts %d packets", obuPath, len(tus), len(pkts))
	}
	config, err := av1ConfigRecord(seqHdr)
	if err != nil {
		t.Fatalf("%s: %v", obuPath, err)
	}

	meta, err := amf0.Append(nil, "onMetaData", amf0.ECMAArray{
		{Key: "width", Value: float64(width)},
		{Key: "height", Value: float64(height)},
		{Key: "framerate", Value: float64(fps)},
		{Key: "videocodecid", Value: float64(binary.BigEndian.Uint32([]byte("av01")))},
		{Key: "hasVideo", Value: true},
		{Key: "hasAudio", Value: false},
	})
	if err != nil {
		t.Fatal(err)
	}
	tags := []pubTag{
		{typ: flv.TagScript, body: meta},
		{typ: flv.TagVideo, body: append([]byte{ertmpKey | ertmpSequenceStart, 'a', 'v', '0', '1'}, config...)},
	}
	keys := 0
	for i, tu := range tus {
		key := strings.HasPrefix(pkts[i].Flags, "K")
		if key != tu.hasSeqHdr {
			t.Fatalf("temporal unit %d: ffprobe keyframe=%v, sequence header present=%v", i, key, tu.hasSeqHdr)
		}
		b := byte(ertmpInter | ertmpCodedFrames)
		if key {
			b = ertmpKey | ertmpCodedFrames
			keys++
		}
		body := append([]byte{b, 'a', 'v', '0', '1'}, tu.obus...)
		tags = append(tags, pubTag{typ: flv.TagVideo, ts: uint32(i * 1000 / fps), body: body})
	}
	if keys < seconds {
		t.Fatalf("%s: %d keyframes in %d s at -g %d", obuPath, keys, seconds, fps)
	}
	return tags
}

// AV1 encoders in Debian's ffmpeg, fastest settings.
var (
	svtAV1 = []string{"-c:v", "libsvtav1", "-preset", "12"}
	aomAV1 = []string{"-c:v", "libaom-av1", "-usage", "realtime", "-cpu-used", "8"}
)

type temporalUnit struct {
	obus      []byte // the unit's OBUs minus temporal delimiters and padding
	hasSeqHdr bool
}

// splitTemporalUnits splits a low-overhead bitstream (AV1 §5.2: every OBU
// has obu_has_size_field set) into temporal units at each temporal
// delimiter and returns the first sequence header OBU.
func splitTemporalUnits(b []byte) (tus []temporalUnit, seqHdr []byte, err error) {
	for off := 0; off < len(b); {
		start := off
		h := b[off]
		typ, ext, hasSize := h>>3&0x0f, h&0x04 != 0, h&0x02 != 0
		if h&0x80 != 0 || !hasSize {
			return nil, nil, fmt.Errorf("OBU at %d: header %#02x (forbidden bit or no size field)", off, h)
		}
		off++
		if ext {
			off++
		}
		size, n := leb128(b[min(off, len(b)):])
		if n == 0 || off+n+int(size) > len(b) {
			return nil, nil, fmt.Errorf("OBU at %d: size truncated or past the end", start)
		}
		off += n + int(size)
		obu := b[start:off]
		switch typ {
		case obuTemporalDelimiter:
			tus = append(tus, temporalUnit{})
			continue
		case obuPadding:
			continue
		}
		if len(tus) == 0 {
			return nil, nil, errors.New("stream does not start with a temporal delimiter")
		}
		tu := &tus[len(tus)-1]
		tu.obus = append(tu.obus, obu...)
		if typ == obuSequenceHeader {
			tu.hasSeqHdr = true
			if seqHdr == nil {
				seqHdr = obu
			}
		}
	}
	if seqHdr == nil {
		return nil, nil, errors.New("no sequence header OBU")
	}
	return tus, seqHdr, nil
}

// leb128 decodes AV1's leb128() (§4.10.5): value and bytes used, 0 if truncated.
func leb128(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < 8 && i < len(b); i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// av1ConfigRecord builds the AV1CodecConfigurationRecord (AV1-ISOBMFF §2.3)
// for an 8-bit 4:2:0 stream from its sequence header OBU (AV1 §5.5.1):
// seq_profile, and seq_level_idx[0]/seq_tier[0] of the first operating
// point; the sequence header itself is the configOBUs.
func av1ConfigRecord(seqHdr []byte) ([]byte, error) {
	hdrLen := 1
	if seqHdr[0]&0x04 != 0 {
		hdrLen++
	}
	_, n := leb128(seqHdr[hdrLen:])
	r := bitReader{b: seqHdr[hdrLen+n:]}
	profile := r.bits(3)
	r.bits(1) // still_picture
	var level, tier uint64
	if r.bits(1) == 1 { // reduced_still_picture_header
		level = r.bits(5)
	} else {
		var decoderModel bool
		if r.bits(1) == 1 { // timing_info_present_flag: timing_info()
			r.bits(32) // num_units_in_display_tick
			r.bits(32) // time_scale
			if r.bits(1) == 1 {
				r.uvlc() // num_ticks_per_picture_minus_1
			}
			decoderModel = r.bits(1) == 1
			if decoderModel { // decoder_model_info()
				r.bits(5 + 32 + 5 + 5)
			}
		}
		r.bits(1) // initial_display_delay_present_flag
		r.bits(5) // operating_points_cnt_minus_1
		r.bits(12)
		level = r.bits(5)
		if level > 7 {
			tier = r.bits(1)
		}
	}
	if r.err {
		return nil, errors.New("sequence header truncated")
	}
	rec := []byte{
		0x81, // marker 1, version 1
		byte(profile<<5 | level),
		// seq_tier_0, high_bitdepth 0, twelve_bit 0, monochrome 0,
		// chroma_subsampling_x 1, chroma_subsampling_y 1, position 0
		byte(tier<<7 | 1<<3 | 1<<2),
		0, // no initial_presentation_delay
	}
	return append(rec, seqHdr...), nil
}

// bitReader reads big-endian bit fields; err is set past the end.
type bitReader struct {
	b   []byte
	pos int
	err bool
}

func (r *bitReader) bits(n int) uint64 {
	var v uint64
	for range n {
		if r.pos >= len(r.b)*8 {
			r.err = true
			return 0
		}
		v = v<<1 | uint64(r.b[r.pos/8]>>(7-r.pos%8)&1)
		r.pos++
	}
	return v
}

// uvlc skips AV1's uvlc() (§4.10.3).
func (r *bitReader) uvlc() {
	zeros := 0
	for r.bits(1) == 0 && !r.err && zeros < 32 {
		zeros++
	}
	r.bits(zeros)
}
