package ingest

import (
	"fmt"

	"github.com/ripplemedia/ripple/pkg/av"
)

// Tag header values (FLV v10.1 §E.4.2.1, §E.4.3.1; E-RTMP v2). pkg/flv owns
// the parsing of these headers into packets; it does not export the packet
// type or the tracks of a multitrack message, which the checks need, so the
// header is walked again here. Tests hold this walk to flv's: same payload,
// same header and keyframe claims for every tag flv accepts.
const (
	frameCommand = 5 // legacy and E-RTMP FrameType: a command, no media

	codecIDAVC  = 7  // legacy CodecID
	codecIDHEVC = 12 // legacy CodecID (CDN-Union extension)

	soundFormatExHeader = 9
	soundFormatAAC      = 10

	// E-RTMP v2 packet types (shared by audio and video where they agree).
	ptSequenceStart        = 0
	ptCodedFrames          = 1
	ptSequenceEnd          = 2
	ptCodedFramesX         = 3 // video
	ptMetadata             = 4 // video
	ptMultichannelConfig   = 4 // audio
	ptMPEG2TSSequenceStart = 5 // video
	ptAudioMultitrack      = 5
	ptVideoMultitrack      = 6
	ptModEx                = 7

	// E-RTMP v2 AvMultitrackType.
	oneTrack             = 0
	manyTracks           = 1
	manyTracksManyCodecs = 2
)

// FourCCs of E-RTMP v2 that the checks look into.
const (
	fourCCAVC  = 'a'<<24 | 'v'<<16 | 'c'<<8 | '1'
	fourCCHEVC = 'h'<<24 | 'v'<<16 | 'c'<<8 | '1'
	fourCCAV1  = 'a'<<24 | 'v'<<16 | '0'<<8 | '1'
	fourCCVP9  = 'v'<<24 | 'p'<<16 | '0'<<8 | '9'
	fourCCAAC  = 'm'<<24 | 'p'<<16 | '4'<<8 | 'a'
)

// videoCodec maps a video FourCC to a codec; CodecUnknown for the ones not
// checked here (vp08, vvc1, future FourCCs).
func videoCodec(fourCC uint32) av.Codec {
	switch fourCC {
	case fourCCAVC:
		return av.CodecH264
	case fourCCHEVC:
		return av.CodecHEVC
	case fourCCAV1:
		return av.CodecAV1
	case fourCCVP9:
		return av.CodecVP9
	}
	return av.CodecUnknown
}

// skipModEx consumes E-RTMP v2 ModEx blocks (packet type 7): a size
// (UI8+1, or UI16+1 after the 0xFF escape), the data, and a byte whose low
// nibble is the next packet type.
func skipModEx(kind string, b []byte, pos int, pt uint8) (int, uint8, error) {
	for pt == ptModEx {
		if pos >= len(b) {
			return 0, 0, fmt.Errorf("%s tag: truncated in a modex size", kind)
		}
		size := int(b[pos]) + 1
		pos++
		if size == 256 {
			if len(b)-pos < 2 {
				return 0, 0, fmt.Errorf("%s tag: truncated in a modex size", kind)
			}
			size = (int(b[pos])<<8 | int(b[pos+1])) + 1
			pos += 2
		}
		if len(b)-pos < size+1 {
			return 0, 0, fmt.Errorf("%s tag: modex data of %d bytes exceeds the %d bytes left", kind, size, len(b)-pos-1)
		}
		pos += size
		pt = b[pos] & 0x0F
		pos++
	}
	return pos, pt, nil
}

// track is one track's share of an E-RTMP message.
type track struct {
	id     uint8 // 0 outside multitrack messages
	fourCC uint32
	data   []byte // what follows the FourCC and track id/size: the track's body
}

// tracks walks the tracks of an E-RTMP v2 message (E-RTMP v2
// "Multitrack"): one for a single-track message, then each track of a
// multitrack one. It does not allocate unless it fails.
type tracks struct {
	kind   string
	b      []byte
	pos    int
	multi  bool
	mt     uint8  // AvMultitrackType, when multi
	fourCC uint32 // shared by all tracks unless ManyTracksManyCodecs
	n      int    // tracks returned so far
}

// newTracks reads the FourCC (single track) or the multitrack header that
// starts at pos, after the packet type pt. It returns the packet type of
// the tracks.
func newTracks(kind string, b []byte, pos int, pt, multitrackPT uint8) (tracks, uint8, error) {
	t := tracks{kind: kind, b: b, pos: pos}
	if pt == multitrackPT {
		if pos >= len(b) {
			return t, 0, fmt.Errorf("%s tag: truncated before the multitrack type", kind)
		}
		t.multi = true
		t.mt = b[pos] >> 4
		pt = b[pos] & 0x0F
		t.pos++
		if t.mt > manyTracksManyCodecs {
			return t, 0, fmt.Errorf("%s tag: multitrack type %d unknown (want 0, 1 or 2)", kind, t.mt)
		}
		if pt == multitrackPT || pt == ptModEx {
			return t, 0, fmt.Errorf("%s tag: packet type %d not allowed inside multitrack", kind, pt)
		}
		if t.mt == manyTracksManyCodecs {
			return t, pt, nil
		}
	}
	if len(b)-t.pos < 4 {
		return t, 0, fmt.Errorf("%s tag: truncated before the fourcc", kind)
	}
	t.fourCC = be32(b[t.pos:])
	t.pos += 4
	return t, pt, nil
}

// next returns the next track, or ok false after the last one.
func (t *tracks) next() (tr track, ok bool, err error) {
	b := t.b
	if !t.multi {
		if t.n > 0 {
			return tr, false, nil
		}
		t.n++
		return track{fourCC: t.fourCC, data: b[t.pos:]}, true, nil
	}
	// A multitrack message carries at least one track; OneTrack exactly one.
	if t.n > 0 && (t.mt == oneTrack || t.pos == len(b)) {
		return tr, false, nil
	}
	tr.fourCC = t.fourCC
	if t.mt == manyTracksManyCodecs {
		if len(b)-t.pos < 4 {
			return tr, false, fmt.Errorf("%s tag: truncated in the fourcc of track %d", t.kind, t.n)
		}
		tr.fourCC = be32(b[t.pos:])
		t.pos += 4
	}
	if t.pos >= len(b) {
		return tr, false, fmt.Errorf("%s tag: truncated before the id of track %d", t.kind, t.n)
	}
	tr.id = b[t.pos]
	t.pos++
	end := len(b)
	if t.mt != oneTrack {
		if len(b)-t.pos < 3 {
			return tr, false, fmt.Errorf("%s tag: truncated in the size of track %d", t.kind, tr.id)
		}
		size := int(b[t.pos])<<16 | int(b[t.pos+1])<<8 | int(b[t.pos+2])
		t.pos += 3
		if size > len(b)-t.pos {
			return tr, false, fmt.Errorf("%s tag: track %d size %d exceeds the %d bytes left", t.kind, tr.id, size, len(b)-t.pos)
		}
		end = t.pos + size
	}
	tr.data = b[t.pos:end:end]
	t.pos = end
	t.n++
	return tr, true, nil
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
