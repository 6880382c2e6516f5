package flv

import (
	"bytes"
	"fmt"

	"github.com/ripplemedia/ripple/pkg/av"
)

// PacketFromTag parses an FLV tag body, which is also an RTMP audio (8),
// video (9) or data (18) message payload, into a packet. The packet retains
// body as Data (no copy), except for legacy HEVC (codec id 12), which is
// rewritten once into an E-RTMP v2 "hvc1" body. ts is the wire timestamp
// and becomes DTS. It returns (nil, nil) for messages that carry nothing to
// forward, and an error for malformed bodies (wrapping ErrUnsupported for
// well-formed tags of unknown codecs or packet types).
//
// Video, legacy (FLV v10.1 §E.4.3.1): FrameType 1 is a keyframe; codec 7
// (AVC) and 12 (HEVC) carry AVCPacketType (0 sequence header → Header,
// 1 NALUs with a signed 24-bit CompositionTime → CTS, 2 end of sequence →
// neither header nor keyframe). Older codecs (2–6) and unknown ids are
// opaque CodecUnknown frames. Codec id 13 is left unknown: no spec assigns
// it (some encoders use it for AV1, others for other codecs).
//
// Video, enhanced (E-RTMP v2): IsExHeader, FrameType, PacketType, ModEx
// blocks (skipped), FourCC avc1/hvc1/av01/vp09 (vp08 and vvc1 are carried
// as CodecUnknown). SequenceStart and MPEG2TSSequenceStart → Header;
// CodedFrames (SI24 CTS for avc1/hvc1/vvc1) and CodedFramesX → Keyframe if
// FrameType is 1; SequenceEnd and Metadata (see IsVideoMetadata) → neither.
// Multitrack messages report the first track's codec and claim Header or
// Keyframe only when they carry only track 0 (see IsMultitrack).
//
// Header packets are never keyframes: the keyframe is the first coded frame
// after them.
//
// Audio: SoundFormat 10 (AAC, AACPacketType 0 → Header), the other legacy
// formats as their codec, and SoundFormat 9 (E-RTMP ExHeader: ModEx,
// Multitrack, FourCC Opus/fLaC/mp4a/ac-3/ec-3/.mp3, SequenceStart →
// Header).
//
// Zero-length audio and video bodies (the RTMP "silence" message E-RTMP v2
// documents) return (nil, nil): they carry no codec, and a codec-less
// packet would disturb per-track state downstream; no player Ripple serves
// depends on them.
//
// Script data (18): the first AMF0 value must be a string. A leading
// "@setDataFrame" (sent by ffmpeg and OBS) is stripped, so Data starts at
// the next value (normally "onMetaData"; see IsMetaData). Other names
// (onTextData, onCuePoint, ...) pass through as KindData.
func PacketFromTag(tagType uint8, ts uint32, body []byte) (*av.Packet, error) {
	switch tagType {
	case TagVideo:
		if len(body) == 0 {
			return nil, nil
		}
		return videoPacket(&av.Packet{DTS: int64(ts), Data: body}, body)
	case TagAudio:
		if len(body) == 0 {
			return nil, nil
		}
		return audioPacket(&av.Packet{DTS: int64(ts), Data: body}, body)
	case TagScript:
		data, err := scriptData(body)
		if err != nil {
			return nil, err
		}
		return &av.Packet{Kind: av.KindData, DTS: int64(ts), Data: data}, nil
	}
	return nil, fmt.Errorf("flv: tag type %d unknown (want 8, 9 or 18)", tagType)
}

// setDataFrame is the AMF0 string "@setDataFrame" (marker, length, bytes).
var setDataFrame = []byte("\x02\x00\x0d@setDataFrame")

// scriptString checks that b starts with an AMF0 short string (marker
// 0x02, UI16 length, bytes), the name of a script data message (FLV v10.1
// §E.4.4.1 SCRIPTDATA).
func scriptString(b []byte, what string) error {
	switch {
	case len(b) == 0:
		return fmt.Errorf("flv: %s empty", what)
	case b[0] != 0x02:
		return fmt.Errorf("flv: %s does not start with an AMF0 string (marker 0x%02x)", what, b[0])
	case len(b) < 3:
		return fmt.Errorf("flv: %s name truncated (%d bytes)", what, len(b))
	}
	if n := int(b[1])<<8 | int(b[2]); n > len(b)-3 {
		return fmt.Errorf("flv: %s name length %d exceeds the %d bytes left", what, n, len(b)-3)
	}
	return nil
}

// scriptData validates the name of a script tag and strips @setDataFrame.
func scriptData(body []byte) ([]byte, error) {
	if err := scriptString(body, "script data"); err != nil {
		return nil, err
	}
	data, ok := StripSetDataFrame(body)
	if ok {
		if err := scriptString(data, "script data after @setDataFrame"); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// StripSetDataFrame returns body without a leading AMF0 "@setDataFrame"
// string, and whether it was there. The result aliases body.
func StripSetDataFrame(body []byte) ([]byte, bool) {
	if bytes.HasPrefix(body, setDataFrame) {
		return body[len(setDataFrame):], true
	}
	return body, false
}

// AppendSetDataFrame appends "@setDataFrame" then data (a script body such
// as "onMetaData" + ECMA array): the form a publishing RTMP client sends so
// that the server stores the metadata (used by relay push).
func AppendSetDataFrame(dst, data []byte) []byte {
	dst = append(dst, setDataFrame...)
	return append(dst, data...)
}

// onMetaData is the AMF0 string "onMetaData".
var onMetaData = []byte("\x02\x00\x0aonMetaData")

// IsMetaData reports whether p is an onMetaData script packet.
func IsMetaData(p *av.Packet) bool {
	return p.Kind == av.KindData && bytes.HasPrefix(p.Data, onMetaData)
}
