// Package flv converts between FLV tags and av.Packets. An RTMP audio (8),
// video (9) or data (18) message payload is byte for byte an FLV tag body
// (FLV v10.1 Annex E.4), so the same code serves RTMP ingest, RTMP play,
// HTTP-FLV and WebSocket-FLV.
//
// Ingest: PacketFromTag classifies a tag body (legacy FLV and Enhanced RTMP
// v2, veovera) into an av.Packet that retains the body; SplitTracks splits
// an E-RTMP v2 multitrack message into one packet per track (and
// AppendMultitrack builds one, for publishing clients). Output: TagBytes
// encodes a packet's whole tag once and shares it between all writers
// (TagParts slices its header and PreviousTagSize); Header writes the file
// header.
// Reader reads FLV files and streams tag by tag. VideoPayload and
// AudioPayload strip the FLV/E-RTMP header bytes for muxers (HLS) that need
// the bare codec data.
package flv

import (
	"errors"
	"fmt"

	"github.com/ripplemedia/ripple/pkg/av"
)

// FLV tag types (FLV v10.1 §E.4.1), equal to the RTMP message type ids.
const (
	TagAudio  uint8 = 8
	TagVideo  uint8 = 9
	TagScript uint8 = 18
)

// TagTypeOf returns the FLV tag type of kind k, or 0 for an unknown kind.
func TagTypeOf(k av.Kind) uint8 {
	switch k {
	case av.KindAudio:
		return TagAudio
	case av.KindVideo:
		return TagVideo
	case av.KindData:
		return TagScript
	}
	return 0
}

// ErrUnsupported is wrapped by PacketFromTag errors for well-formed tags
// that use a codec or packet type this package does not know (a FourCC or
// an E-RTMP packet type added after v2). E-RTMP v2 asks receivers to fail
// "in a controlled manner": callers should drop such messages, not the
// connection. Other errors mean a malformed body.
var ErrUnsupported = errors.New("flv: unsupported")

// fourCC packs a FourCC big-endian (E-RTMP v2 "FOURCC").
func fourCC(s string) uint32 {
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}

// Video and audio FourCCs of E-RTMP v2 (and vvc1, which encoders already
// send ahead of the spec).
var (
	fourCCAVC  = fourCC("avc1")
	fourCCHEVC = fourCC("hvc1")
	fourCCVVC  = fourCC("vvc1")
	fourCCAV1  = fourCC("av01")
	fourCCVP9  = fourCC("vp09")
	fourCCVP8  = fourCC("vp08")

	fourCCOpus = fourCC("Opus")
	fourCCFLAC = fourCC("fLaC")
	fourCCAAC  = fourCC("mp4a")
	fourCCAC3  = fourCC("ac-3")
	fourCCEAC3 = fourCC("ec-3")
	fourCCMP3  = fourCC(".mp3")
)

// fourCCString renders a FourCC for error messages.
func fourCCString(f uint32) string {
	b := []byte{byte(f >> 24), byte(f >> 16), byte(f >> 8), byte(f)}
	for _, c := range b {
		if c < 0x20 || c > 0x7E {
			return fmt.Sprintf("0x%08x", f)
		}
	}
	return string(b)
}

// si24 sign-extends a big-endian 24-bit value (FLV "SI24").
func si24(b []byte) int32 {
	return int32(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8) >> 8
}

func u24(b []byte) int { return int(b[0])<<16 | int(b[1])<<8 | int(b[2]) }
