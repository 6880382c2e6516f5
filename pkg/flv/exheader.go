package flv

import (
	"fmt"
)

// E-RTMP v2 packet types shared by audio and video (the nibble that
// replaces CodecID / SoundRate+SoundSize+SoundType when the ex-header is on).
const (
	packetSequenceStart        = 0
	packetCodedFrames          = 1
	packetSequenceEnd          = 2
	packetCodedFramesX         = 3 // video only
	packetVideoMetadata        = 4 // video
	packetAudioMultichannel    = 4 // audio
	packetMPEG2TSSequenceStart = 5 // video
	packetAudioMultitrack      = 5
	packetVideoMultitrack      = 6
	packetModEx                = 7
)

// E-RTMP v2 AvMultitrackType.
const (
	multitrackOneTrack             = 0
	multitrackManyTracks           = 1
	multitrackManyTracksManyCodecs = 2
)

// tooShort builds the error for a body that ends inside the named field.
func tooShort(kind string, b []byte, field string) error {
	return fmt.Errorf("flv: %s tag too short for %s (%d bytes)", kind, field, len(b))
}

// skipModEx consumes E-RTMP v2 ModEx blocks (packet type 7): modExDataSize
// = UI8+1 (UI16+1 when that gives 256), the data, then a byte whose high
// nibble is the ModEx type and low nibble the next packet type. The only
// defined type, TimestampOffsetNano, refines the timestamp below one
// millisecond; av.Packet has no room for it, so every ModEx is skipped
// (the bytes stay in Data for E-RTMP-aware players).
func skipModEx(kind string, b []byte, pos int, pt uint8) (int, uint8, error) {
	for pt == packetModEx {
		if len(b)-pos < 1 {
			return 0, 0, tooShort(kind, b, "ModEx size")
		}
		size := int(b[pos]) + 1
		pos++
		if size == 256 {
			if len(b)-pos < 2 {
				return 0, 0, tooShort(kind, b, "ModEx size")
			}
			size = (int(b[pos])<<8 | int(b[pos+1])) + 1
			pos += 2
		}
		if len(b)-pos < size+1 {
			return 0, 0, tooShort(kind, b, fmt.Sprintf("%d bytes of ModEx data", size))
		}
		pos += size
		pt = b[pos] & 0x0F
		pos++
	}
	return pos, pt, nil
}

// tracks is the FourCC and track layout after the packet type.
type tracks struct {
	pos        int    // offset of the first track's payload (after any size field)
	end        int    // end of the first track's payload
	pt         uint8  // packet type (of all tracks)
	fourCC     uint32 // FourCC of the first track
	multitrack bool
	// main is true for a single-track message and for a multitrack
	// message that carries only track 0 (OneTrack). Only main tracks make
	// header or keyframe claims: other tracks would overwrite the stream's
	// sequence header or mark keyframes of a rendition nobody plays.
	main bool
}

// parseTracks reads the FourCC (single track) or the multitrack header and
// the first track's FourCC, id and size (E-RTMP v2 "Multitrack").
func parseTracks(kind string, b []byte, pos int, pt, multitrackPT uint8) (tracks, error) {
	t := tracks{pt: pt, end: len(b), main: true}
	if pt != multitrackPT {
		if len(b)-pos < 4 {
			return t, tooShort(kind, b, "FourCC")
		}
		t.fourCC = uint32(b[pos])<<24 | uint32(b[pos+1])<<16 | uint32(b[pos+2])<<8 | uint32(b[pos+3])
		t.pos = pos + 4
		return t, nil
	}
	t.multitrack = true
	if len(b)-pos < 1 {
		return t, tooShort(kind, b, "multitrack type")
	}
	mt := b[pos] >> 4
	t.pt = b[pos] & 0x0F
	pos++
	if mt > multitrackManyTracksManyCodecs {
		return t, fmt.Errorf("%w: %s multitrack type %d", ErrUnsupported, kind, mt)
	}
	if t.pt == multitrackPT || t.pt == packetModEx {
		return t, fmt.Errorf("flv: %s multitrack packet type %d not allowed inside multitrack", kind, t.pt)
	}
	// One FourCC for all tracks, or (ManyTracksManyCodecs) one per track.
	if len(b)-pos < 4 {
		return t, tooShort(kind, b, "multitrack FourCC")
	}
	t.fourCC = uint32(b[pos])<<24 | uint32(b[pos+1])<<16 | uint32(b[pos+2])<<8 | uint32(b[pos+3])
	pos += 4
	if len(b)-pos < 1 {
		return t, tooShort(kind, b, "track id")
	}
	trackID := b[pos]
	pos++
	if mt != multitrackOneTrack {
		if len(b)-pos < 3 {
			return t, tooShort(kind, b, "track size")
		}
		size := u24(b[pos:])
		pos += 3
		if size > len(b)-pos {
			return t, fmt.Errorf("flv: %s track %d size %d exceeds the %d bytes left", kind, trackID, size, len(b)-pos)
		}
		t.end = pos + size
	}
	t.pos = pos
	t.main = mt == multitrackOneTrack && trackID == 0
	return t, nil
}
