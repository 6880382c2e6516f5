package flv

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/ripplemedia/ripple/pkg/av"
)

// MaxTracks bounds the tracks of one E-RTMP v2 multitrack message: a
// message with more is refused whole. An ABR ladder or a set of languages
// has a handful; the spec allows 256 ids, which no receiver needs at once.
const MaxTracks = 16

// TrackKey returns the stream key of track n of the stream key: key itself
// for the default track 0, key + "_t" + n otherwise ("live/cam_t1"). RTMP
// ingest publishes each track of a multitrack publish under it, and
// HTTP-FLV's ?track=n maps to it.
func TrackKey(key string, n uint8) string {
	if n == 0 {
		return key
	}
	return key + "_t" + strconv.Itoa(int(n))
}

// multitrackAt returns the offset of the AvMultitrackType byte of a video
// or audio message body that is an E-RTMP v2 multitrack message (after
// the header byte and any ModEx blocks), and the video frame type; 0 for
// every other body (legacy, single-track, command frames, script data),
// which PacketFromTag handles alone.
func multitrackAt(tagType uint8, b []byte) (pos int, frameType uint8, err error) {
	if len(b) == 0 {
		return 0, 0, nil
	}
	var pt uint8
	switch tagType {
	case TagVideo:
		if b[0]&0x80 == 0 {
			return 0, 0, nil
		}
		frameType = b[0] >> 4 & 0x07
		if pos, pt, err = skipModEx("video", b, 1, b[0]&0x0F); err != nil {
			return 0, 0, err
		}
		if pt != packetVideoMultitrack || frameType == frameCommand {
			return 0, 0, nil
		}
	case TagAudio:
		if b[0]>>4 != soundFormatExHeader {
			return 0, 0, nil
		}
		if pos, pt, err = skipModEx("audio", b, 1, b[0]&0x0F); err != nil {
			return 0, 0, err
		}
		if pt != packetAudioMultitrack {
			return 0, 0, nil
		}
	default:
		return 0, 0, nil
	}
	return pos, frameType, nil
}

// trackPart is one track of a multitrack message.
type trackPart struct {
	id     uint8
	fourCC uint32
	data   []byte // the track's body: what a single-track message has after its FourCC
}

// trackWalk walks the tracks of a multitrack message (E-RTMP v2
// ExVideoTagBody / ExAudioTagBody): OneTrack is [FourCC][id][body to the
// end]; ManyTracks is [FourCC] then ([id][SI24 size][body])+;
// ManyTracksManyCodecs is ([FourCC][id][size][body])+. It does not
// allocate.
type trackWalk struct {
	kind   string
	b      []byte
	pos    int
	mt     uint8  // AvMultitrackType
	pt     uint8  // packet type of every track
	fourCC uint32 // shared FourCC (not ManyTracksManyCodecs)
	n      int    // tracks returned so far
}

// newTrackWalk reads the multitrack header at pos (multitrackAt).
func newTrackWalk(kind string, b []byte, pos int, multitrackPT uint8) (trackWalk, error) {
	w := trackWalk{kind: kind, b: b}
	if pos >= len(b) {
		return w, tooShort(kind, b, "multitrack type")
	}
	w.mt, w.pt = b[pos]>>4, b[pos]&0x0F
	pos++
	if w.mt > multitrackManyTracksManyCodecs {
		return w, fmt.Errorf("%w: %s multitrack type %d", ErrUnsupported, kind, w.mt)
	}
	if w.pt == multitrackPT || w.pt == packetModEx {
		return w, fmt.Errorf("flv: %s multitrack packet type %d not allowed inside multitrack", kind, w.pt)
	}
	if w.mt != multitrackManyTracksManyCodecs {
		if len(b)-pos < 4 {
			return w, tooShort(kind, b, "multitrack FourCC")
		}
		w.fourCC = be32(b[pos:])
		pos += 4
	}
	w.pos = pos
	return w, nil
}

// next returns the next track; ok is false after the last one. A message
// carries at least one track, OneTrack exactly one.
func (w *trackWalk) next() (t trackPart, ok bool, err error) {
	b := w.b
	if w.n > 0 && (w.mt == multitrackOneTrack || w.pos == len(b)) {
		return t, false, nil
	}
	if w.n == MaxTracks {
		return t, false, fmt.Errorf("flv: %s message carries more than %d tracks", w.kind, MaxTracks)
	}
	t.fourCC = w.fourCC
	if w.mt == multitrackManyTracksManyCodecs {
		if len(b)-w.pos < 4 {
			return t, false, tooShort(w.kind, b, fmt.Sprintf("the FourCC of track %d", w.n))
		}
		t.fourCC = be32(b[w.pos:])
		w.pos += 4
	}
	if w.pos >= len(b) {
		return t, false, tooShort(w.kind, b, "track id")
	}
	t.id = b[w.pos]
	w.pos++
	end := len(b)
	if w.mt != multitrackOneTrack {
		if len(b)-w.pos < 3 {
			return t, false, tooShort(w.kind, b, "track size")
		}
		size := u24(b[w.pos:])
		w.pos += 3
		if size > len(b)-w.pos {
			return t, false, fmt.Errorf("flv: %s track %d size %d exceeds the %d bytes left", w.kind, t.id, size, len(b)-w.pos)
		}
		end = w.pos + size
	}
	t.data = b[w.pos:end:end]
	w.pos = end
	w.n++
	return t, true, nil
}

// check validates one track of a message whose tracks share packet type
// pt: a known FourCC and packet type, and the composition time of AVC,
// HEVC and VVC coded frames. It reports whether the track yields a packet:
// an empty track carries nothing, except an end of sequence, whose
// header is the whole message.
func (w *trackWalk) check(t trackPart) (bool, error) {
	if w.kind == "video" {
		if _, err := videoCodecOf(t.fourCC); err != nil {
			return false, err
		}
		if w.pt > packetMPEG2TSSequenceStart {
			return false, fmt.Errorf("%w: video packet type %d", ErrUnsupported, w.pt)
		}
		if len(t.data) == 0 {
			return w.pt == packetSequenceEnd, nil
		}
		if w.pt == packetCodedFrames && hasCTS(t.fourCC) && len(t.data) < 3 {
			return false, fmt.Errorf("flv: video track %d too short for composition time (%d bytes)", t.id, len(t.data))
		}
		return true, nil
	}
	if _, err := audioCodecOf(t.fourCC); err != nil {
		return false, err
	}
	switch w.pt {
	case packetSequenceStart, packetCodedFrames, packetSequenceEnd, packetAudioMultichannel:
	default:
		return false, fmt.Errorf("%w: audio packet type %d", ErrUnsupported, w.pt)
	}
	return len(t.data) > 0 || w.pt == packetSequenceEnd, nil
}

// SplitTracks parses an RTMP audio (8), video (9) or data (18) message
// body, as PacketFromTag does, into one packet per track, appended to dst.
// Packets are appended only when the whole message is valid.
//
// A body without tracks (legacy FLV, single-track E-RTMP, script data) and
// a OneTrack multitrack message of track 0 give PacketFromTag's packet,
// which retains body: what the stream carried before multitrack messages
// were split, byte for byte.
//
// Any other multitrack message (E-RTMP v2 "Multitrack": OneTrack of a
// track other than 0, ManyTracks, ManyTracksManyCodecs) gives one packet
// per track, with Track set to the track id and Data a fresh single-track
// body, the one copy of that track's bytes: a legacy AVC or AAC body for
// avc1 and mp4a tracks (what encoders send on their default track and
// every player reads), an E-RTMP v2 body with the track's FourCC for the
// others and for packet types legacy FLV lacks (video Metadata, audio
// SequenceEnd, MultichannelConfig). Each is a packet of its own codec, as
// PacketFromTag makes it: a header for SequenceStart, a keyframe for a key
// frame type, its own composition time. ModEx blocks (sub-millisecond
// timestamp offsets) are dropped. A track with an empty body carries
// nothing and gives no packet, except an end of sequence.
//
// The message is refused with an error when it carries more than
// MaxTracks tracks, a track id twice, a size past its end, an unknown
// FourCC or packet type (wrapping ErrUnsupported) or a track too short for
// its header fields.
func SplitTracks(dst []*av.Packet, tagType uint8, ts uint32, body []byte) ([]*av.Packet, error) {
	pos, frameType, err := multitrackAt(tagType, body)
	if err != nil {
		return dst, err
	}
	if pos == 0 {
		p, err := PacketFromTag(tagType, ts, body)
		if err != nil || p == nil {
			return dst, err
		}
		return append(dst, p), nil
	}
	kind, multitrackPT := "video", uint8(packetVideoMultitrack)
	if tagType == TagAudio {
		kind, multitrackPT = "audio", packetAudioMultitrack
	}
	w, err := newTrackWalk(kind, body, pos, multitrackPT)
	if err != nil {
		return dst, err
	}
	// First pass: the whole message is valid, or nothing is published.
	first := w
	var seen [4]uint64 // track ids, one bit each
	for {
		t, ok, err := w.next()
		if err != nil {
			return dst, err
		}
		if !ok {
			break
		}
		if seen[t.id>>6]&(1<<(t.id&63)) != 0 {
			return dst, fmt.Errorf("flv: %s message carries track %d twice", kind, t.id)
		}
		seen[t.id>>6] |= 1 << (t.id & 63)
		if _, err := w.check(t); err != nil {
			return dst, err
		}
	}
	w = first
	if w.mt == multitrackOneTrack && body[w.pos] == 0 {
		// Track 0 alone: unchanged.
		p, err := PacketFromTag(tagType, ts, body)
		if err != nil || p == nil {
			return dst, err
		}
		return append(dst, p), nil
	}
	n := len(dst)
	for {
		t, ok, _ := w.next()
		if !ok {
			break
		}
		if keep, _ := w.check(t); !keep {
			continue
		}
		p, err := PacketFromTag(tagType, ts, appendTrackBody(kind, frameType, w.pt, t))
		if p == nil {
			// Not reached for a track check accepted; never publish
			// part of a message.
			if err == nil {
				err = errors.New("no packet")
			}
			clear(dst[n:])
			return dst[:n], fmt.Errorf("flv: %s track %d: %w", kind, t.id, err)
		}
		p.Track = t.id
		dst = append(dst, p)
	}
	return dst, nil
}

// appendTrackBody builds the single-track body of t in a buffer of its own
// (see SplitTracks for the forms).
func appendTrackBody(kind string, frameType, pt uint8, t trackPart) []byte {
	if kind == "video" {
		if t.fourCC == fourCCAVC {
			// FLV v10.1 §E.4.3.1 AVCVIDEOPACKET: AVCPacketType, SI24 CTS.
			switch pt {
			case packetSequenceStart, packetSequenceEnd:
				b := make([]byte, 0, 5+len(t.data))
				b = append(b, frameType<<4|codecIDAVC, pt, 0, 0, 0)
				return append(b, t.data...)
			case packetCodedFrames: // the track's body starts with its CTS
				b := make([]byte, 0, 2+len(t.data))
				b = append(b, frameType<<4|codecIDAVC, packetCodedFrames)
				return append(b, t.data...)
			case packetCodedFramesX:
				b := make([]byte, 0, 5+len(t.data))
				b = append(b, frameType<<4|codecIDAVC, packetCodedFrames, 0, 0, 0)
				return append(b, t.data...)
			}
		}
		b := make([]byte, 0, 5+len(t.data))
		b = append(b, 0x80|frameType<<4|pt)
		b = appendFourCC(b, t.fourCC)
		return append(b, t.data...)
	}
	if t.fourCC == fourCCAAC && (pt == packetSequenceStart || pt == packetCodedFrames) {
		// FLV v10.1 §E.4.2.1: AAC is always sent as 44 kHz, 16-bit,
		// stereo (0xAF); the AudioSpecificConfig says what it is.
		b := make([]byte, 0, 2+len(t.data))
		b = append(b, soundFormatAAC<<4|0x0F, pt)
		return append(b, t.data...)
	}
	b := make([]byte, 0, 5+len(t.data))
	b = append(b, soundFormatExHeader<<4|pt)
	b = appendFourCC(b, t.fourCC)
	return append(b, t.data...)
}

func appendFourCC(b []byte, f uint32) []byte {
	return append(b, byte(f>>24), byte(f>>16), byte(f>>8), byte(f))
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
