package flv

import (
	"errors"
	"fmt"

	"github.com/ripplemedia/ripple/pkg/av"
)

// track is what a single-track audio or video body carries as a track of
// a multitrack message.
type track struct {
	frameType, pt uint8
	fourCC        uint32
	zeroCTS       bool   // write a zero SI24 composition time before data (CodedFramesX sent as CodedFrames)
	data          []byte // the rest of the track's body
}

func (t track) size() int {
	if t.zeroCTS {
		return 3 + len(t.data)
	}
	return len(t.data)
}

// trackOf returns what p's single-track body carries as a track. Legacy
// AVC, HEVC (codec id 12), AAC and MP3 get their FourCC; other legacy
// codecs have none. With frames, a video CodedFramesX track becomes
// CodedFrames (with a zero composition time for the codecs that carry
// one), for a message whose other tracks are CodedFrames.
func trackOf(p *av.Packet, frames bool) (track, error) {
	t, err := trackOfBody(p)
	if err == nil && frames && t.pt == packetCodedFramesX && p.Kind == av.KindVideo {
		t.pt, t.zeroCTS = packetCodedFrames, hasCTS(t.fourCC)
	}
	return t, err
}

func trackOfBody(p *av.Packet) (track, error) {
	b := p.Data
	if len(b) == 0 {
		return track{}, fmt.Errorf("flv: %s packet is empty", p.Kind)
	}
	switch p.Kind {
	case av.KindVideo:
		t := track{frameType: b[0] >> 4 & 0x07}
		if b[0]&0x80 == 0 {
			switch b[0] & 0x0F {
			case codecIDAVC:
				t.fourCC = fourCCAVC
			case codecIDHEVC:
				t.fourCC = fourCCHEVC
			default:
				return t, fmt.Errorf("flv: video codec id %d has no FourCC", b[0]&0x0F)
			}
			if len(b) < 5 || b[1] > packetSequenceEnd || t.frameType == frameCommand {
				return t, errors.New("flv: legacy video packet is not a sequence header, frame or end of sequence")
			}
			t.pt, t.data = b[1], b[5:]
			if t.pt == packetCodedFrames {
				t.data = b[2:] // from the composition time
			}
			return t, nil
		}
		pos, pt, err := skipModEx("video", b, 1, b[0]&0x0F)
		if err != nil {
			return t, err
		}
		if pt == packetVideoMultitrack || t.frameType == frameCommand && pt != packetVideoMetadata {
			return t, fmt.Errorf("flv: video packet type %d is not a track", pt)
		}
		if len(b)-pos < 4 {
			return t, tooShort("video", b, "FourCC")
		}
		t.pt, t.fourCC, t.data = pt, be32(b[pos:]), b[pos+4:]
		return t, nil
	case av.KindAudio:
		switch b[0] >> 4 {
		case soundFormatAAC:
			if len(b) < 2 || b[1] > 1 {
				return track{}, errors.New("flv: AAC packet is not a header or a frame")
			}
			return track{pt: b[1], fourCC: fourCCAAC, data: b[2:]}, nil
		case 2, 14: // MP3, MP3 8 kHz
			return track{pt: packetCodedFrames, fourCC: fourCCMP3, data: b[1:]}, nil
		case soundFormatExHeader:
		default:
			return track{}, fmt.Errorf("flv: sound format %d has no FourCC", b[0]>>4)
		}
		pos, pt, err := skipModEx("audio", b, 1, b[0]&0x0F)
		if err != nil {
			return track{}, err
		}
		if pt == packetAudioMultitrack {
			return track{}, fmt.Errorf("flv: audio packet type %d is not a track", pt)
		}
		if len(b)-pos < 4 {
			return track{}, tooShort("audio", b, "FourCC")
		}
		return track{pt: pt, fourCC: be32(b[pos:]), data: b[pos+4:]}, nil
	}
	return track{}, fmt.Errorf("flv: %s packet cannot be a track", p.Kind)
}

// AppendMultitrack appends to dst one E-RTMP v2 multitrack message body
// carrying each packet as the track p.Track: OneTrack for one packet,
// ManyTracks when all share a FourCC, ManyTracksManyCodecs otherwise (the
// inverse of SplitTracks). The packets are single-track audio or video
// bodies as PacketFromTag makes them (legacy AVC, HEVC, AAC or MP3, or
// E-RTMP with a FourCC), all of one kind, one packet type (CodedFrames
// and CodedFramesX mix as CodedFrames) and, for video, one frame type; at
// most MaxTracks, each track once and at most 0xFFFFFF bytes. ModEx
// blocks are dropped. The packets are only read.
func AppendMultitrack(dst []byte, pkts ...*av.Packet) ([]byte, error) {
	if len(pkts) == 0 || len(pkts) > MaxTracks {
		return dst, fmt.Errorf("flv: a multitrack message carries 1 to %d tracks, not %d", MaxTracks, len(pkts))
	}
	kind := pkts[0].Kind
	// CodedFrames and CodedFramesX tracks go together as CodedFrames.
	frames := false
	for _, p := range pkts {
		if t, err := trackOfBody(p); err == nil && p.Kind == av.KindVideo && t.pt == packetCodedFrames {
			frames = true
		}
	}
	t0, err := trackOf(pkts[0], frames)
	if err != nil {
		return dst, err
	}
	mt := uint8(multitrackOneTrack)
	if len(pkts) > 1 {
		mt = multitrackManyTracks
	}
	var seen [4]uint64
	for _, p := range pkts {
		t, err := trackOf(p, frames)
		switch {
		case err != nil:
			return dst, err
		case p.Kind != kind:
			return dst, fmt.Errorf("flv: a multitrack message carries one kind, not %s and %s", kind, p.Kind)
		case t.pt != t0.pt || kind == av.KindVideo && t.frameType != t0.frameType:
			return dst, errors.New("flv: the tracks of a multitrack message share their packet and frame type")
		case seen[p.Track>>6]&(1<<(p.Track&63)) != 0:
			return dst, fmt.Errorf("flv: a multitrack message carries track %d twice", p.Track)
		case t.size() > 0xFFFFFF:
			return dst, fmt.Errorf("flv: track %d of %d bytes exceeds the 24-bit track size", p.Track, t.size())
		}
		seen[p.Track>>6] |= 1 << (p.Track & 63)
		if t.fourCC != t0.fourCC {
			mt = multitrackManyTracksManyCodecs
		}
	}
	if kind == av.KindVideo {
		dst = append(dst, 0x80|t0.frameType<<4|packetVideoMultitrack)
	} else {
		dst = append(dst, soundFormatExHeader<<4|packetAudioMultitrack)
	}
	dst = append(dst, mt<<4|t0.pt)
	if mt != multitrackManyTracksManyCodecs {
		dst = appendFourCC(dst, t0.fourCC)
	}
	for _, p := range pkts {
		t, _ := trackOf(p, frames)
		if mt == multitrackManyTracksManyCodecs {
			dst = appendFourCC(dst, t.fourCC)
		}
		dst = append(dst, p.Track)
		if n := t.size(); mt != multitrackOneTrack {
			dst = append(dst, byte(n>>16), byte(n>>8), byte(n))
		}
		if t.zeroCTS {
			dst = append(dst, 0, 0, 0)
		}
		dst = append(dst, t.data...)
	}
	return dst, nil
}
