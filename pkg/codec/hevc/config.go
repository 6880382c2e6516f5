package hevc

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Bounds checked before allocating. The record's own fields allow 255
// arrays of 65535 units; real encoders send 3–4 arrays of one unit.
const (
	MaxArrays        = 16
	MaxNALUsPerArray = 64
)

// hevcConfigHeaderSize is the fixed part of the record up to numOfArrays.
const hevcConfigHeaderSize = 23

// NALUArray is one array of a DecoderConfig: units of one type.
type NALUArray struct {
	Complete bool // array_completeness: all units of this type are here
	Type     NALUType
	NALUs    [][]byte
}

// DecoderConfig is an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15
// §8.3.3.1): the body of an E-RTMP hvc1 SequenceStart after the FourCC.
type DecoderConfig struct {
	GeneralProfileSpace              uint8 // 2 bits
	GeneralTier                      bool  // true = High tier
	GeneralProfileIdc                uint8 // 5 bits: 1 Main, 2 Main 10, 3 Main Still, 4 RExt
	GeneralProfileCompatibilityFlags uint32
	GeneralConstraintIndicatorFlags  uint64 // 48 bits
	GeneralLevelIdc                  uint8  // 30 × level (e.g. 120 = level 4)
	MinSpatialSegmentationIdc        uint16 // 12 bits
	ParallelismType                  uint8  // 2 bits
	ChromaFormat                     uint8  // chroma_format_idc, 2 bits
	BitDepthLuma                     uint8  // 8–15
	BitDepthChroma                   uint8  // 8–15
	AvgFrameRate                     uint16 // frames per 256 s, 0 = unspecified
	ConstantFrameRate                uint8  // 2 bits
	NumTemporalLayers                uint8  // 3 bits
	TemporalIDNested                 bool
	LengthSize                       int // NALU length prefix size in samples: 1, 2 or 4
	Arrays                           []NALUArray
}

// Unmarshal parses an HEVCDecoderConfigurationRecord. The NAL units alias
// b. Bytes after the last array are ignored.
func (c *DecoderConfig) Unmarshal(b []byte) error {
	*c = DecoderConfig{}
	if len(b) < hevcConfigHeaderSize {
		return fmt.Errorf("hevc: decoder config too short (%d bytes, need at least %d)", len(b), hevcConfigHeaderSize)
	}
	if b[0] != 1 {
		return fmt.Errorf("hevc: decoder config version %d unsupported (want 1)", b[0])
	}
	c.GeneralProfileSpace = b[1] >> 6
	c.GeneralTier = b[1]&0x20 != 0
	c.GeneralProfileIdc = b[1] & 0x1F
	c.GeneralProfileCompatibilityFlags = binary.BigEndian.Uint32(b[2:])
	c.GeneralConstraintIndicatorFlags = uint64(binary.BigEndian.Uint16(b[6:]))<<32 | uint64(binary.BigEndian.Uint32(b[8:]))
	c.GeneralLevelIdc = b[12]
	c.MinSpatialSegmentationIdc = binary.BigEndian.Uint16(b[13:]) & 0x0FFF
	c.ParallelismType = b[15] & 0x03
	c.ChromaFormat = b[16] & 0x03
	c.BitDepthLuma = b[17]&0x07 + 8
	c.BitDepthChroma = b[18]&0x07 + 8
	c.AvgFrameRate = binary.BigEndian.Uint16(b[19:])
	c.ConstantFrameRate = b[21] >> 6
	c.NumTemporalLayers = b[21] >> 3 & 0x07
	c.TemporalIDNested = b[21]&0x04 != 0
	c.LengthSize = int(b[21]&0x03) + 1
	if c.LengthSize == 3 {
		return errors.New("hevc: decoder config NALU length size 3 invalid (want 1, 2 or 4)")
	}
	n := int(b[22])
	rest := b[hevcConfigHeaderSize:]
	if n > MaxArrays {
		return fmt.Errorf("hevc: decoder config array count (%d) exceeds maximum allowed (%d)", n, MaxArrays)
	}
	if n*3 > len(rest) {
		return fmt.Errorf("hevc: decoder config array count %d does not fit in %d bytes", n, len(rest))
	}
	if n > 0 {
		c.Arrays = make([]NALUArray, n)
	}
	for i := range c.Arrays {
		a := &c.Arrays[i]
		if len(rest) < 3 {
			return fmt.Errorf("hevc: decoder config truncated in array %d header", i)
		}
		a.Complete = rest[0]&0x80 != 0
		a.Type = NALUType(rest[0] & 0x3F)
		count := int(binary.BigEndian.Uint16(rest[1:]))
		rest = rest[3:]
		if count > MaxNALUsPerArray {
			return fmt.Errorf("hevc: decoder config array %d NALU count (%d) exceeds maximum allowed (%d)", i, count, MaxNALUsPerArray)
		}
		if count*2 > len(rest) {
			return fmt.Errorf("hevc: decoder config array %d NALU count %d does not fit in %d bytes", i, count, len(rest))
		}
		if count > 0 {
			a.NALUs = make([][]byte, count)
		}
		for j := range a.NALUs {
			if len(rest) < 2 {
				return fmt.Errorf("hevc: decoder config truncated in array %d NALU %d length", i, j)
			}
			l := int(binary.BigEndian.Uint16(rest))
			rest = rest[2:]
			if l > len(rest) {
				return fmt.Errorf("hevc: decoder config array %d NALU %d length %d exceeds the %d bytes left", i, j, l, len(rest))
			}
			a.NALUs[j] = rest[:l:l]
			rest = rest[l:]
		}
	}
	return nil
}

// Marshal encodes c. Reserved bits are written as 1s (§8.3.3.1).
func (c DecoderConfig) Marshal() ([]byte, error) {
	switch {
	case c.LengthSize != 1 && c.LengthSize != 2 && c.LengthSize != 4:
		return nil, fmt.Errorf("hevc: NALU length size %d invalid (want 1, 2 or 4)", c.LengthSize)
	case len(c.Arrays) > 255:
		return nil, fmt.Errorf("hevc: array count (%d) exceeds maximum allowed (255)", len(c.Arrays))
	case c.BitDepthLuma < 8 || c.BitDepthLuma > 15 || c.BitDepthChroma < 8 || c.BitDepthChroma > 15:
		return nil, fmt.Errorf("hevc: bit depths %d, %d out of range [8, 15]", c.BitDepthLuma, c.BitDepthChroma)
	case c.GeneralProfileSpace > 3 || c.GeneralProfileIdc > 31 || c.GeneralConstraintIndicatorFlags >= 1<<48 ||
		c.MinSpatialSegmentationIdc >= 1<<12 || c.ParallelismType > 3 || c.ChromaFormat > 3 ||
		c.ConstantFrameRate > 3 || c.NumTemporalLayers > 7:
		return nil, errors.New("hevc: decoder config field exceeds its bit width")
	}
	size := hevcConfigHeaderSize
	for _, a := range c.Arrays {
		if len(a.NALUs) > 0xFFFF {
			return nil, fmt.Errorf("hevc: array NALU count (%d) exceeds maximum allowed (65535)", len(a.NALUs))
		}
		size += 3
		for _, u := range a.NALUs {
			if len(u) > 0xFFFF {
				return nil, fmt.Errorf("hevc: NAL unit of %d bytes exceeds maximum allowed (65535)", len(u))
			}
			size += 2 + len(u)
		}
	}
	b := make([]byte, hevcConfigHeaderSize, size)
	b[0] = 1
	b[1] = c.GeneralProfileSpace<<6 | c.GeneralProfileIdc
	if c.GeneralTier {
		b[1] |= 0x20
	}
	binary.BigEndian.PutUint32(b[2:], c.GeneralProfileCompatibilityFlags)
	binary.BigEndian.PutUint16(b[6:], uint16(c.GeneralConstraintIndicatorFlags>>32))
	binary.BigEndian.PutUint32(b[8:], uint32(c.GeneralConstraintIndicatorFlags))
	b[12] = c.GeneralLevelIdc
	binary.BigEndian.PutUint16(b[13:], 0xF000|c.MinSpatialSegmentationIdc)
	b[15] = 0xFC | c.ParallelismType
	b[16] = 0xFC | c.ChromaFormat
	b[17] = 0xF8 | (c.BitDepthLuma - 8)
	b[18] = 0xF8 | (c.BitDepthChroma - 8)
	binary.BigEndian.PutUint16(b[19:], c.AvgFrameRate)
	b[21] = c.ConstantFrameRate<<6 | c.NumTemporalLayers<<3 | byte(c.LengthSize-1)
	if c.TemporalIDNested {
		b[21] |= 0x04
	}
	b[22] = byte(len(c.Arrays))
	for _, a := range c.Arrays {
		h := byte(a.Type & 0x3F)
		if a.Complete {
			h |= 0x80
		}
		b = append(b, h)
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.NALUs)))
		for _, u := range a.NALUs {
			b = binary.BigEndian.AppendUint16(b, uint16(len(u)))
			b = append(b, u...)
		}
	}
	return b, nil
}

// First returns the first NAL unit of type t in the record, or nil.
func (c DecoderConfig) First(t NALUType) []byte {
	for _, a := range c.Arrays {
		for _, u := range a.NALUs {
			if TypeOf(u) == t {
				return u
			}
		}
	}
	return nil
}
