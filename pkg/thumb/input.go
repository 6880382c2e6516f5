package thumb

import (
	"encoding/binary"
	"fmt"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/codec/av1"
	"github.com/ripplemedia/ripple/pkg/codec/hevc"
	"github.com/ripplemedia/ripple/pkg/flv"
)

// input is what one decode feeds ffmpeg: a demuxer name (-f) and a small
// file holding the decoder configuration and one keyframe.
type input struct {
	format string
	data   []byte
}

// Sizes of the bytes a decoder input adds around the codec data.
const (
	annexBStartCode = 4  // 00 00 00 01
	ivfFileHeader   = 32 // "DKIF" header
	ivfFrameHeader  = 12 // frame size u32le + pts u64le
)

// buildInput makes ffmpeg's input from a video keyframe and the sequence
// header that precedes it (hdr may be nil: AV1 and VP9 keyframes can carry
// their configuration in band). limit bounds the result; a larger input is
// refused with ErrTooLarge before it is built.
//
// Legacy FLV bodies (FLV v10.1 §E.4.3.1: AVC, and the older Flash codecs)
// go to ffmpeg's flv demuxer as they are, through the tag bytes every
// HTTP-FLV player shares. E-RTMP v2 bodies are unknown to ffmpeg releases
// before 6.1, so they are rewritten into the elementary stream format
// every release reads: "avc1" back into a legacy AVC tag, "hvc1" into an
// H.265 Annex B byte stream, "av01" into the AV1 low overhead format
// (ffmpeg's "obu" demuxer) and "vp09" into an IVF file.
func buildInput(hdr, key *av.Packet, limit int) (input, error) {
	in, err := makeInput(hdr, key, limit)
	if err == nil && len(in.data) > limit {
		// Re-framing adds a few bytes per NAL unit or OBU, and their
		// counts are bounded (hevc.MaxNALUsPerAccessUnit), but check the
		// result all the same.
		return input{}, fmt.Errorf("%w: decoder input of %d bytes exceeds %d", ErrTooLarge, len(in.data), limit)
	}
	return in, err
}

func makeInput(hdr, key *av.Packet, limit int) (input, error) {
	size := len(key.Data) + 64
	if hdr != nil {
		size += len(hdr.Data)
	}
	if size > limit {
		return input{}, fmt.Errorf("%w: keyframe and header of %d bytes exceed %d", ErrTooLarge, size, limit)
	}
	if hdr != nil && hdr.Codec != key.Codec {
		hdr = nil // a header of another codec cannot configure this frame
	}
	if !enhanced(key) {
		if key.Codec == av.CodecHEVC {
			// PacketFromTag rewrites legacy HEVC (codec id 12) into
			// E-RTMP, so this is not reached from ingest; refuse rather
			// than feed ffmpeg a codec id it does not know.
			return input{}, fmt.Errorf("%w: legacy HEVC body", ErrUnsupportedCodec)
		}
		return legacyFLV(hdr, key), nil
	}
	switch key.Codec {
	case av.CodecH264:
		return avcFLV(hdr, key)
	case av.CodecHEVC:
		return hevcAnnexB(hdr, key)
	case av.CodecAV1:
		return av1OBU(hdr, key)
	case av.CodecVP9:
		return vp9IVF(key)
	}
	return input{}, fmt.Errorf("%w: E-RTMP video %s", ErrUnsupportedCodec, codecName(key))
}

// payload returns the codec data of a keyframe: an error if it is
// malformed or empty (nothing to decode).
func payload(key *av.Packet) ([]byte, error) {
	frame := flv.VideoPayload(key)
	if len(frame) == 0 {
		return nil, fmt.Errorf("%w: empty or malformed %s keyframe", ErrDecode, codecName(key))
	}
	return frame, nil
}

// enhanced reports an E-RTMP v2 ExVideoTagHeader (IsExHeader, the top bit).
func enhanced(p *av.Packet) bool { return len(p.Data) > 0 && p.Data[0]&0x80 != 0 }

// codecName names the codec of p for an error, with the FourCC of a codec
// av does not model.
func codecName(p *av.Packet) string {
	if p.Codec != av.CodecUnknown {
		return p.Codec.String()
	}
	if enhanced(p) && len(p.Data) >= 5 {
		if fcc := p.Data[1:5]; printable(fcc) {
			return fmt.Sprintf("%q", fcc)
		}
	}
	return "unknown"
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7E {
			return false
		}
	}
	return true
}

// flvFile returns an FLV file header (video only) with room for n bytes of
// tags.
func flvFile(n int) []byte {
	b := make([]byte, 0, flv.FileHeaderSize+flv.TrailerSize+n)
	return append(b, flv.Header(false, true)...)
}

// legacyFLV is an FLV file of the packets' own tags: the bytes
// flv.TagBytes encodes once per packet and every FLV player shares.
func legacyFLV(hdr, key *av.Packet) input {
	var tags [][]byte
	if hdr != nil && !enhanced(hdr) {
		tags = append(tags, flv.TagBytes(hdr))
	}
	tags = append(tags, flv.TagBytes(key))
	n := 0
	for _, t := range tags {
		n += len(t)
	}
	b := flvFile(n)
	for _, t := range tags {
		b = append(b, t...)
	}
	return input{format: "flv", data: b}
}

// avcFLV rewrites E-RTMP "avc1" packets as legacy AVC tags (FLV v10.1
// §E.4.3.1: FrameType 1 | CodecID 7, AVCPacketType, CompositionTime): the
// payloads are the same AVCDecoderConfigurationRecord and AVCC NAL units.
func avcFLV(hdr, key *av.Packet) (input, error) {
	frame, err := payload(key)
	if err != nil {
		return input{}, err
	}
	var cfg []byte
	if hdr != nil {
		cfg = flv.VideoPayload(hdr)
	}
	b := flvFile(2*(flv.TagHeaderSize+flv.TrailerSize+5) + len(cfg) + len(frame))
	if cfg != nil {
		b = flv.AppendTag(b, flv.TagVideo, 0, append([]byte{0x17, 0, 0, 0, 0}, cfg...))
	}
	body := make([]byte, 0, 5+len(frame))
	cts := uint32(key.CTS)
	body = append(body, 0x17, 1, byte(cts>>16), byte(cts>>8), byte(cts))
	body = append(body, frame...)
	b = flv.AppendTag(b, flv.TagVideo, 0, body)
	return input{format: "flv", data: b}, nil
}

// hevcAnnexB writes the parameter sets of the HEVCDecoderConfigurationRecord
// and the keyframe's NAL units as an H.265 Annex B byte stream (H.265
// §B.2: each unit after a four-byte start code).
func hevcAnnexB(hdr, key *av.Packet) (input, error) {
	frame, err := payload(key)
	if err != nil {
		return input{}, err
	}
	lengthSize := 4
	b := make([]byte, 0, len(frame)+annexBStartCode*8+64)
	if hdr != nil {
		var cfg hevc.DecoderConfig
		if err := cfg.Unmarshal(flv.VideoPayload(hdr)); err != nil {
			return input{}, fmt.Errorf("%w: hvc1 sequence header: %w", ErrDecode, err)
		}
		lengthSize = cfg.LengthSize
		for _, a := range cfg.Arrays {
			for _, u := range a.NALUs {
				b = appendAnnexB(b, u)
			}
		}
	}
	units := 0
	for u, err := range hevc.AVCCUnits(frame, lengthSize) {
		if err != nil {
			return input{}, fmt.Errorf("%w: hvc1 keyframe: %w", ErrDecode, err)
		}
		b = appendAnnexB(b, u)
		units++
	}
	if units == 0 {
		return input{}, fmt.Errorf("%w: hvc1 keyframe without NAL units", ErrDecode)
	}
	return input{format: "hevc", data: b}, nil
}

func appendAnnexB(b, nalu []byte) []byte {
	b = append(b, 0, 0, 0, 1)
	return append(b, nalu...)
}

// av1OBU writes one temporal unit in the AV1 low overhead bitstream format
// (AV1 §5.2): a temporal delimiter, the sequence header from the
// AV1CodecConfigurationRecord unless the keyframe carries its own, then the
// keyframe's OBUs. ffmpeg's "obu" demuxer wants a temporal delimiter first
// and a size field on every OBU, which AV1-ISOBMFF §2.4 (the E-RTMP sample
// format) lets the last OBU of a sample omit, and temporal delimiters in
// a sample are not allowed there: the OBUs are re-framed.
func av1OBU(hdr, key *av.Packet) (input, error) {
	frame, err := payload(key)
	if err != nil {
		return input{}, err
	}
	var cfgOBUs []byte
	if hdr != nil {
		var cfg av1.DecoderConfig
		if err := cfg.Unmarshal(flv.VideoPayload(hdr)); err != nil {
			return input{}, fmt.Errorf("%w: av01 sequence header: %w", ErrDecode, err)
		}
		cfgOBUs = cfg.ConfigOBUs
	}
	b := make([]byte, 0, len(frame)+len(cfgOBUs)+64)
	b = av1.AppendOBU(b, av1.OBUTemporalDelimiter, nil)
	hasSeq := false
	if err := eachOBU(frame, func(o *av1.OBU, _ []byte) {
		hasSeq = hasSeq || o.Type == av1.OBUSequenceHeader
	}); err != nil {
		return input{}, fmt.Errorf("%w: av01 keyframe: %w", ErrDecode, err)
	}
	if !hasSeq && cfgOBUs != nil {
		if err := eachOBU(cfgOBUs, func(o *av1.OBU, raw []byte) {
			if o.Type == av1.OBUSequenceHeader {
				b = appendSizedOBU(b, o, raw)
			}
		}); err != nil {
			return input{}, fmt.Errorf("%w: av01 config OBUs: %w", ErrDecode, err)
		}
	}
	obus := 0
	_ = eachOBU(frame, func(o *av1.OBU, raw []byte) { // parsed above
		if o.Type != av1.OBUTemporalDelimiter {
			b = appendSizedOBU(b, o, raw)
			obus++
		}
	})
	if obus == 0 {
		return input{}, fmt.Errorf("%w: av01 keyframe without OBUs", ErrDecode)
	}
	return input{format: "obu", data: b}, nil
}

// eachOBU calls f for every OBU of b with the OBU's own bytes.
func eachOBU(b []byte, f func(o *av1.OBU, raw []byte)) error {
	var o av1.OBU
	for len(b) > 0 {
		if err := o.Unmarshal(b); err != nil {
			return err
		}
		f(&o, b[:o.Len])
		b = b[o.Len:]
	}
	return nil
}

// appendSizedOBU appends o with obu_has_size_field set: its header byte
// (and extension byte) from raw, a leb128 size, the payload.
func appendSizedOBU(b []byte, o *av1.OBU, raw []byte) []byte {
	b = append(b, raw[0]|0x02)
	if o.Extension {
		b = append(b, raw[1])
	}
	b = av1.AppendLEB128(b, uint32(len(o.Payload)))
	return append(b, o.Payload...)
}

// vp9IVF wraps a VP9 keyframe (an E-RTMP "vp09" coded frame is one VP9
// frame) in an IVF file of one frame. The picture size in the file header
// is left 0: the decoder takes it from the frame's own header.
func vp9IVF(key *av.Packet) (input, error) {
	frame, err := payload(key)
	if err != nil {
		return input{}, err
	}
	b := make([]byte, 0, ivfFileHeader+ivfFrameHeader+len(frame))
	b = append(b, "DKIF"...)
	b = binary.LittleEndian.AppendUint16(b, 0)             // version
	b = binary.LittleEndian.AppendUint16(b, ivfFileHeader) // header size
	b = append(b, "VP90"...)
	b = binary.LittleEndian.AppendUint16(b, 0)    // width
	b = binary.LittleEndian.AppendUint16(b, 0)    // height
	b = binary.LittleEndian.AppendUint32(b, 1000) // time base denominator
	b = binary.LittleEndian.AppendUint32(b, 1)    // numerator
	b = binary.LittleEndian.AppendUint32(b, 1)    // frames
	b = binary.LittleEndian.AppendUint32(b, 0)    // unused
	b = binary.LittleEndian.AppendUint32(b, uint32(len(frame)))
	b = binary.LittleEndian.AppendUint64(b, 0) // pts
	b = append(b, frame...)
	return input{format: "ivf", data: b}, nil
}
