package flv

import (
	"fmt"

	"github.com/ripplemedia/ripple/pkg/av"
)

// Legacy VideoTagHeader values (FLV v10.1 §E.4.3.1).
const (
	frameKey     = 1
	frameCommand = 5

	codecIDAVC  = 7
	codecIDHEVC = 12 // not in FLV 10.1: the Kingsoft / CDN-Union extension
)

// videoTag is a parsed VideoTagHeader or ExVideoTagHeader.
type videoTag struct {
	frameType  uint8
	enhanced   bool
	codecID    uint8 // legacy only
	codec      av.Codec
	packetType uint8 // E-RTMP VideoPacketType; legacy AVCPacketType maps 1:1 (0, 1, 2)
	cts        int32
	payload    int // codec payload is body[payload:end]
	end        int
	command    bool
	multitrack bool
	main       bool
}

// parseVideo parses the header of a non-empty video tag body.
func parseVideo(b []byte) (videoTag, error) {
	v := videoTag{frameType: b[0] >> 4 & 0x07, main: true, end: len(b)}
	if b[0]&0x80 == 0 {
		return v, parseLegacyVideo(b, &v)
	}
	// E-RTMP v2 ExVideoTagHeader: IsExHeader, FrameType UB[3], PacketType UB[4].
	v.enhanced = true
	pos, pt, err := skipModEx("video", b, 1, b[0]&0x0F)
	if err != nil {
		return v, err
	}
	if v.frameType == frameCommand && pt != packetVideoMetadata {
		// A UI8 VideoCommand (seek start/end) follows; no FourCC, no media.
		v.command = true
		return v, nil
	}
	t, err := parseTracks("video", b, pos, pt, packetVideoMultitrack)
	if err != nil {
		return v, err
	}
	v.packetType, v.multitrack, v.main, v.end = t.pt, t.multitrack, t.main, t.end
	if v.codec, err = videoCodecOf(t.fourCC); err != nil {
		return v, err
	}
	if v.packetType > packetMPEG2TSSequenceStart {
		return v, fmt.Errorf("%w: video packet type %d", ErrUnsupported, v.packetType)
	}
	pos = t.pos
	// CodedFrames carries an SI24 composition time only for the codecs
	// with B-frame reordering (E-RTMP v2 ExVideoTagBody); CodedFramesX
	// is the same with an implicit 0.
	if v.packetType == packetCodedFrames && hasCTS(t.fourCC) {
		if v.end-pos < 3 {
			return v, tooShort("video", b[:v.end], "composition time")
		}
		v.cts = si24(b[pos:])
		pos += 3
	}
	v.payload = pos
	return v, nil
}

// videoCodecOf maps a video FourCC to its codec (E-RTMP v2 ExVideoTagHeader).
func videoCodecOf(fourCC uint32) (av.Codec, error) {
	switch fourCC {
	case fourCCAVC:
		return av.CodecH264, nil
	case fourCCHEVC:
		return av.CodecHEVC, nil
	case fourCCAV1:
		return av.CodecAV1, nil
	case fourCCVP9:
		return av.CodecVP9, nil
	case fourCCVP8, fourCCVVC:
		return av.CodecUnknown, nil // carried, not modelled
	}
	return av.CodecUnknown, fmt.Errorf("%w: video FourCC %q", ErrUnsupported, fourCCString(fourCC))
}

// hasCTS reports whether CodedFrames of the video FourCC carry an SI24
// composition time (the codecs with B-frame reordering, E-RTMP v2
// ExVideoTagBody).
func hasCTS(fourCC uint32) bool {
	return fourCC == fourCCAVC || fourCC == fourCCHEVC || fourCC == fourCCVVC
}

func parseLegacyVideo(b []byte, v *videoTag) error {
	v.codecID = b[0] & 0x0F
	if v.frameType == frameCommand {
		v.command = true
		return nil
	}
	switch v.codecID {
	case codecIDAVC, codecIDHEVC:
		name := "AVC"
		v.codec = av.CodecH264
		if v.codecID == codecIDHEVC {
			name, v.codec = "HEVC", av.CodecHEVC
		}
		// AVCPacketType UI8 + CompositionTime SI24 precede the data even
		// for sequence headers and end of sequence.
		if len(b) < 5 {
			return fmt.Errorf("flv: %s video tag too short (%d bytes, need 5)", name, len(b))
		}
		v.packetType = b[1]
		if v.packetType > packetSequenceEnd {
			return fmt.Errorf("flv: %s packet type %d unknown", name, v.packetType)
		}
		if v.packetType == packetCodedFrames {
			v.cts = si24(b[2:])
		}
		v.payload = 5
	default:
		// Sorenson H.263, screen video, VP6 (2–6) and reserved ids: passed
		// through as opaque frames. VP6 has one more header byte (the
		// size adjustment) that VideoPayload leaves in.
		v.codec = av.CodecUnknown
		v.packetType = packetCodedFrames
		v.payload = 1
	}
	return nil
}

// videoPacket fills p from a video tag body. It returns a nil packet for
// command frames.
func videoPacket(p *av.Packet, body []byte) (*av.Packet, error) {
	v, err := parseVideo(body)
	if err != nil {
		return nil, err
	}
	if v.command {
		return nil, nil
	}
	p.Kind, p.Codec, p.CTS = av.KindVideo, v.codec, v.cts
	switch v.packetType {
	case packetSequenceStart, packetMPEG2TSSequenceStart:
		p.Header = v.main
	case packetCodedFrames, packetCodedFramesX:
		p.Keyframe = v.main && v.frameType == frameKey
	}
	if !v.enhanced && v.codecID == codecIDHEVC {
		p.Data = legacyHEVCToEnhanced(body, v)
	}
	return p, nil
}

// legacyHEVCToEnhanced rewrites a codec-id-12 body (AVC layout with HEVC
// data, CDN-Union) as the E-RTMP v2 hvc1 body that ffmpeg ≥ 6.1, OBS and
// mpegts.js read: [IsExHeader|FrameType|PacketType] "hvc1" [SI24 CTS] data.
func legacyHEVCToEnhanced(b []byte, v videoTag) []byte {
	out := make([]byte, 0, len(b)+3)
	out = append(out, 0x80|v.frameType<<4|v.packetType, 'h', 'v', 'c', '1')
	switch v.packetType {
	case packetCodedFrames:
		out = append(out, b[2:]...) // CTS + NALUs
	case packetSequenceStart:
		out = append(out, b[5:]...) // HEVCDecoderConfigurationRecord
	}
	return out
}

// VideoPayload returns the codec payload of a video packet, after the FLV
// or E-RTMP header bytes: an AVCDecoderConfigurationRecord /
// HEVCDecoderConfigurationRecord / AV1CodecConfigurationRecord for sequence
// headers, length-prefixed NAL units (AVC, HEVC) or OBUs (AV1) for coded
// frames. For a multitrack message it is the first track's payload. It
// returns nil for non-video packets and malformed bodies. The result
// aliases p.Data.
func VideoPayload(p *av.Packet) []byte {
	if p.Kind != av.KindVideo || len(p.Data) == 0 {
		return nil
	}
	v, err := parseVideo(p.Data)
	if err != nil || v.command {
		return nil
	}
	return p.Data[v.payload:v.end]
}

// IsVideoMetadata reports whether p is an E-RTMP v2 video Metadata packet
// (VideoPacketType 4, AMF-encoded colorInfo sent by OBS for HDR). It is not
// a frame. mpegts.js (and flv.js) abort on it, so HTTP-FLV and WS-FLV
// outputs should drop it; RTMP players that negotiated E-RTMP may get it.
func IsVideoMetadata(p *av.Packet) bool {
	if p.Kind != av.KindVideo || len(p.Data) == 0 || p.Data[0]&0x80 == 0 {
		return false
	}
	v, err := parseVideo(p.Data)
	return err == nil && !v.command && v.packetType == packetVideoMetadata
}

// IsSequenceEnd reports whether p is an end of sequence (legacy
// AVCPacketType 2, E-RTMP v2 SequenceEnd): a marker that decoders flush at,
// not a frame, whatever bytes follow its header.
func IsSequenceEnd(p *av.Packet) bool {
	if p.Kind != av.KindVideo || len(p.Data) == 0 {
		return false
	}
	v, err := parseVideo(p.Data)
	return err == nil && !v.command && v.packetType == packetSequenceEnd
}

// IsMultitrack reports whether p is an E-RTMP v2 multitrack audio or video
// message. PacketFromTag makes header and keyframe claims only for
// multitrack messages that carry just track 0; players that did not
// negotiate multitrack cannot decode any of them.
func IsMultitrack(p *av.Packet) bool {
	if len(p.Data) == 0 {
		return false
	}
	switch p.Kind {
	case av.KindVideo:
		v, err := parseVideo(p.Data)
		return err == nil && v.multitrack
	case av.KindAudio:
		a, err := parseAudio(p.Data)
		return err == nil && a.multitrack
	}
	return false
}
