// Package h264 parses the H.264/AVC structures a streaming server needs:
// the AVCDecoderConfigurationRecord carried in RTMP/FLV sequence headers
// (ISO/IEC 14496-15 §5.3.3.1), the sequence parameter set (ITU-T H.264
// §7.3.2.1.1) for picture size and frame rate, and length-prefixed (AVCC)
// access units for keyframe detection.
//
// Parsers retain their input where documented and never allocate in
// proportion to a count read from the wire before checking it against the
// exported Max* bounds and the bytes actually present.
package h264

import (
	"iter"

	"github.com/ripplemedia/ripple/pkg/codec/internal/avcc"
)

// NALUType is nal_unit_type (H.264 Table 7-1).
type NALUType uint8

// NAL unit types used by RTMP/FLV/HLS code.
const (
	NALUNonIDR      NALUType = 1
	NALUIDR         NALUType = 5
	NALUSEI         NALUType = 6
	NALUSPS         NALUType = 7
	NALUPPS         NALUType = 8
	NALUAUD         NALUType = 9
	NALUEndOfSeq    NALUType = 10
	NALUEndOfStream NALUType = 11
	NALUFiller      NALUType = 12
	NALUSPSExt      NALUType = 13 // sequence parameter set extension
)

// MaxNALUsPerAccessUnit bounds the length-prefixed units of one AVCC access
// unit that ingest accepts (pkg/ingest). mediacommon's readers stop at
// 25, which real encoders exceed (x264 zerolatency above 1080p, cameras
// that cut one slice per macroblock row: 135 rows at 2160p); its writers
// take any count. 1024 covers one slice per row of an 8K frame with room
// for SEI, and keeps the per-frame work of every muxer bounded.
const MaxNALUsPerAccessUnit = 1024

// TypeOf returns the type of a NAL unit from its first byte (0 if empty).
func TypeOf(nalu []byte) NALUType {
	if len(nalu) == 0 {
		return 0
	}
	return NALUType(nalu[0] & 0x1F)
}

// AVCCUnits yields the NAL units of an AVCC access unit (each prefixed with
// a lengthSize-byte big-endian length, ISO/IEC 14496-15 §5.3.2), aliasing
// au, without allocating. Zero-length units are skipped. On malformed input
// the final pair is (nil, err).
func AVCCUnits(au []byte, lengthSize int) iter.Seq2[[]byte, error] {
	return avcc.Units("h264", au, lengthSize)
}

// IsKeyframe reports whether the AVCC access unit au contains an IDR slice
// (nal_unit_type 5), i.e. decoding can start there. Malformed framing
// reports false for the units after the error.
func IsKeyframe(au []byte, lengthSize int) bool {
	for nalu, err := range AVCCUnits(au, lengthSize) {
		if err != nil {
			return false
		}
		if TypeOf(nalu) == NALUIDR {
			return true
		}
	}
	return false
}
