// Package hevc parses the H.265/HEVC structures a streaming server needs:
// the HEVCDecoderConfigurationRecord carried in E-RTMP "hvc1" sequence
// starts and legacy codec-id-12 sequence headers (ISO/IEC 14496-15
// §8.3.3.1), the start of the sequence parameter set (ITU-T H.265 §7.3.2.2)
// for picture size and bit depth, and length-prefixed access units for
// keyframe detection.
//
// Parsers retain their input where documented and never allocate in
// proportion to a count read from the wire before checking it against the
// exported Max* bounds and the bytes actually present.
package hevc

import (
	"iter"

	"github.com/ripplemedia/ripple/pkg/codec/internal/avcc"
)

// NALUType is nal_unit_type (H.265 Table 7-1).
type NALUType uint8

// NAL unit types used by RTMP/FLV/HLS code.
const (
	NALUBLAWLP    NALUType = 16 // first IRAP type
	NALUIDRWRADL  NALUType = 19
	NALUIDRNLP    NALUType = 20
	NALUCRA       NALUType = 21
	NALUIRAPMax   NALUType = 23 // last (reserved) IRAP type
	NALUVPS       NALUType = 32
	NALUSPS       NALUType = 33
	NALUPPS       NALUType = 34
	NALUAUD       NALUType = 35
	NALUEOS       NALUType = 36
	NALUEOB       NALUType = 37
	NALUFD        NALUType = 38
	NALUPrefixSEI NALUType = 39
	NALUSuffixSEI NALUType = 40
)

// MaxNALUsPerAccessUnit bounds the length-prefixed units of one access unit
// that ingest accepts; see h264.MaxNALUsPerAccessUnit for the reasoning
// (mediacommon's readers stop at 21, its writers take any count).
const MaxNALUsPerAccessUnit = 1024

// TypeOf returns the type of a NAL unit from its two-byte header (0 if
// empty).
func TypeOf(nalu []byte) NALUType {
	if len(nalu) == 0 {
		return 0
	}
	return NALUType(nalu[0]>>1) & 0x3F
}

// IsIRAP reports whether t is an intra random access point type
// (BLA, IDR, CRA and the reserved IRAP types 22–23; H.265 §7.4.2.2).
func (t NALUType) IsIRAP() bool { return t >= NALUBLAWLP && t <= NALUIRAPMax }

// AVCCUnits yields the NAL units of a length-prefixed access unit
// (ISO/IEC 14496-15 §8.3.2), aliasing au, without allocating. Zero-length
// units are skipped. On malformed input the final pair is (nil, err).
func AVCCUnits(au []byte, lengthSize int) iter.Seq2[[]byte, error] {
	return avcc.Units("hevc", au, lengthSize)
}

// IsKeyframe reports whether the access unit au contains an IRAP picture
// (NAL unit types 16–23), where decoding can start. Malformed framing
// reports false for the units after the error.
func IsKeyframe(au []byte, lengthSize int) bool {
	for nalu, err := range AVCCUnits(au, lengthSize) {
		if err != nil {
			return false
		}
		if TypeOf(nalu).IsIRAP() {
			return true
		}
	}
	return false
}
