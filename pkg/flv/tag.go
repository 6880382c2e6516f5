package flv

import (
	"encoding/binary"

	"github.com/ripplemedia/ripple/pkg/av"
)

// Sizes of the FLV framing (FLV v10.1 §E.2, §E.3, §E.4.1).
const (
	FileHeaderSize = 9  // signature, version, flags, DataOffset
	TagHeaderSize  = 11 // TagType, DataSize, Timestamp, TimestampExtended, StreamID
	TrailerSize    = 4  // PreviousTagSize
	// MaxDataSize is the largest tag body DataSize (UI24) can describe.
	MaxDataSize = 1<<24 - 1
)

// TagBytes returns p as one complete FLV tag — the 11-byte header, p.Data and
// the 4-byte PreviousTagSize, contiguous — encoded once per packet and
// cached in av.SlotFLV, so every HTTP-FLV and WS-FLV player shares the same
// bytes. One slice per tag keeps a player's writev short: with three per
// tag (header, body, trailer) a write of a video frame and its audio had
// 11 iovecs, and the kernel's send cost grows with them (10–15 % per call
// in a loopback micro-benchmark against 5 iovecs). The copy of the body is
// made once per packet, not per player. The bytes must not be modified.
//
// The timestamp is uint32(p.DTS): the low 24 bits in Timestamp, bits 24–31
// in TimestampExtended. StreamID is 0. len(p.Data) must not exceed
// MaxDataSize (RTMP ingest bounds messages well below it); larger bodies
// get a truncated DataSize.
func TagBytes(p *av.Packet) []byte {
	return p.Encoded(av.SlotFLV, encodeTag)
}

// TagParts returns the tag header and PreviousTagSize of TagBytes(p): a tag is
// hdr + p.Data + trailer.
func TagParts(p *av.Packet) (hdr, trailer []byte) {
	b := TagBytes(p)
	n := len(b)
	return b[:TagHeaderSize:TagHeaderSize], b[n-TrailerSize : n : n]
}

func encodeTag(p *av.Packet) []byte {
	n := TagHeaderSize + len(p.Data)
	b := make([]byte, n+TrailerSize)
	putTagHeader(b, TagTypeOf(p.Kind), uint32(p.DTS), len(p.Data))
	copy(b[TagHeaderSize:], p.Data)
	binary.BigEndian.PutUint32(b[n:], uint32(n))
	return b
}

// putTagHeader writes an 11-byte tag header into b.
func putTagHeader(b []byte, tagType uint8, ts uint32, size int) {
	_ = b[10]
	b[0] = tagType
	b[1], b[2], b[3] = byte(size>>16), byte(size>>8), byte(size)
	b[4], b[5], b[6] = byte(ts>>16), byte(ts>>8), byte(ts)
	b[7] = byte(ts >> 24) // TimestampExtended: the upper 8 bits
	b[8], b[9], b[10] = 0, 0, 0
}

// Header returns the 9-byte FLV file header (version 1) with the audio and
// video flags, followed by PreviousTagSize0 = 0: the 13 bytes an FLV
// stream starts with. Set the flags to what the stream really carries:
// flv.js and mpegts.js wait for a sequence header of every flagged track.
func Header(hasAudio, hasVideo bool) []byte {
	var flags byte
	if hasAudio {
		flags |= 0x04
	}
	if hasVideo {
		flags |= 0x01
	}
	return []byte{'F', 'L', 'V', 1, flags, 0, 0, 0, FileHeaderSize, 0, 0, 0, 0}
}

// AppendTag appends a complete tag (header, body, PreviousTagSize) to dst.
// len(body) must not exceed MaxDataSize.
func AppendTag(dst []byte, tagType uint8, ts uint32, body []byte) []byte {
	var h [TagHeaderSize]byte
	putTagHeader(h[:], tagType, ts, len(body))
	dst = append(dst, h[:]...)
	dst = append(dst, body...)
	return binary.BigEndian.AppendUint32(dst, uint32(TagHeaderSize+len(body)))
}
