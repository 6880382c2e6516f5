package flv

import (
	"fmt"

	"github.com/ripplemedia/ripple/pkg/av"
)

// SoundFormat values (FLV v10.1 §E.4.2.1; 9 is the E-RTMP v2 ExHeader).
const (
	soundFormatExHeader = 9
	soundFormatAAC      = 10
)

// legacyAudioCodecs maps SoundFormat to a codec. ADPCM (1), device-specific
// (15) and the reserved values (12, 13) are carried as CodecUnknown.
var legacyAudioCodecs = [16]av.Codec{
	0: av.CodecPCM, 2: av.CodecMP3, 3: av.CodecPCM,
	4: av.CodecNellymoser, 5: av.CodecNellymoser, 6: av.CodecNellymoser,
	7: av.CodecG711A, 8: av.CodecG711U, 10: av.CodecAAC, 11: av.CodecSpeex, 14: av.CodecMP3,
}

// audioTag is a parsed AudioTagHeader or ExAudioTagHeader.
type audioTag struct {
	soundFormat uint8
	codec       av.Codec
	packetType  uint8 // E-RTMP AudioPacketType; legacy AAC maps 0 → SequenceStart, 1 → CodedFrames
	payload     int   // codec payload is body[payload:end]
	end         int
	multitrack  bool
	main        bool
}

// parseAudio parses the header of a non-empty audio tag body.
func parseAudio(b []byte) (audioTag, error) {
	a := audioTag{soundFormat: b[0] >> 4, main: true, end: len(b), packetType: packetCodedFrames}
	switch a.soundFormat {
	case soundFormatAAC:
		a.codec = av.CodecAAC
		if len(b) < 2 {
			return a, fmt.Errorf("flv: AAC audio tag too short (%d bytes, need 2)", len(b))
		}
		switch b[1] { // AACPacketType
		case 0:
			a.packetType = packetSequenceStart
		case 1:
		default:
			return a, fmt.Errorf("flv: AAC packet type %d unknown", b[1])
		}
		a.payload = 2
		return a, nil
	case soundFormatExHeader:
	default:
		a.codec = legacyAudioCodecs[a.soundFormat]
		a.payload = 1
		return a, nil
	}
	// E-RTMP v2 ExAudioTagHeader: the low nibble is the AudioPacketType.
	pos, pt, err := skipModEx("audio", b, 1, b[0]&0x0F)
	if err != nil {
		return a, err
	}
	t, err := parseTracks("audio", b, pos, pt, packetAudioMultitrack)
	if err != nil {
		return a, err
	}
	a.packetType, a.multitrack, a.main, a.payload, a.end = t.pt, t.multitrack, t.main, t.pos, t.end
	switch a.packetType {
	case packetSequenceStart, packetCodedFrames, packetSequenceEnd, packetAudioMultichannel:
	default:
		return a, fmt.Errorf("%w: audio packet type %d", ErrUnsupported, a.packetType)
	}
	a.codec, err = audioCodecOf(t.fourCC)
	return a, err
}

// audioCodecOf maps an audio FourCC to its codec (E-RTMP v2
// ExAudioTagHeader).
func audioCodecOf(fourCC uint32) (av.Codec, error) {
	switch fourCC {
	case fourCCOpus:
		return av.CodecOpus, nil
	case fourCCFLAC:
		return av.CodecFLAC, nil
	case fourCCAAC:
		return av.CodecAAC, nil
	case fourCCAC3:
		return av.CodecAC3, nil
	case fourCCEAC3:
		return av.CodecEAC3, nil
	case fourCCMP3:
		return av.CodecMP3, nil
	}
	return av.CodecUnknown, fmt.Errorf("%w: audio FourCC %q", ErrUnsupported, fourCCString(fourCC))
}

// audioPacket fills p from an audio tag body.
func audioPacket(p *av.Packet, body []byte) (*av.Packet, error) {
	a, err := parseAudio(body)
	if err != nil {
		return nil, err
	}
	p.Kind, p.Codec = av.KindAudio, a.codec
	// MultichannelConfig is decoder configuration too, but the hub keeps
	// one header per track: marking it would evict the SequenceStart.
	p.Header = a.main && a.packetType == packetSequenceStart
	return p, nil
}

// AudioPayload returns the codec payload of an audio packet, after the FLV
// or E-RTMP header bytes: the AudioSpecificConfig (AAC) or codec sequence
// header for header packets, one raw frame (AAC without ADTS, MP3, Opus
// packet, ...) otherwise. For a multitrack message it is the first track's
// payload. It returns nil for non-audio packets and malformed bodies. The
// result aliases p.Data.
func AudioPayload(p *av.Packet) []byte {
	if p.Kind != av.KindAudio || len(p.Data) == 0 {
		return nil
	}
	a, err := parseAudio(p.Data)
	if err != nil {
		return nil
	}
	return p.Data[a.payload:a.end]
}
