package h264

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxParameterSets bounds the SPS, PPS and SPS-extension lists of a
// DecoderConfig (each). The record's own fields allow 31 SPS and 255 PPS;
// real encoders send one of each.
const MaxParameterSets = 64

// DecoderConfig is an AVCDecoderConfigurationRecord (ISO/IEC 14496-15
// §5.3.3.1): the body of an RTMP/FLV AVC sequence header after the 5-byte
// FLV video header (or after the E-RTMP "avc1" FourCC).
type DecoderConfig struct {
	ProfileIndication    uint8 // profile_idc of the SPS
	ProfileCompatibility uint8 // constraint_set flags of the SPS
	LevelIndication      uint8 // level_idc of the SPS
	LengthSize           int   // size of the NALU length prefix in samples: 1, 2 or 4
	SPS                  [][]byte
	PPS                  [][]byte

	// HasExt reports the High-profile extension (chroma format, bit depths,
	// SPS extensions), which §5.3.3.1 defines for profile_idc 100, 110, 122
	// and 144. ffmpeg also writes it for the other profiles whose SPS has
	// chroma_format_idc (e.g. 244, High 4:4:4), so it is read for all of
	// them. Many encoders omit it: it is optional on input and written only
	// when set.
	HasExt         bool
	ChromaFormat   uint8 // chroma_format_idc, 0–3
	BitDepthLuma   uint8 // 8–15
	BitDepthChroma uint8 // 8–15
	SPSExt         [][]byte
}

func hasExtProfile(p uint8) bool { return p == 144 || highProfile(p) }

// Unmarshal parses an AVCDecoderConfigurationRecord. The parameter sets
// alias b.
func (c *DecoderConfig) Unmarshal(b []byte) error {
	*c = DecoderConfig{}
	if len(b) < 7 {
		return fmt.Errorf("h264: decoder config too short (%d bytes, need at least 7)", len(b))
	}
	if b[0] != 1 {
		return fmt.Errorf("h264: decoder config version %d unsupported (want 1)", b[0])
	}
	c.ProfileIndication, c.ProfileCompatibility, c.LevelIndication = b[1], b[2], b[3]
	c.LengthSize = int(b[4]&0x03) + 1
	if c.LengthSize == 3 {
		return errors.New("h264: decoder config NALU length size 3 invalid (want 1, 2 or 4)")
	}
	rest := b[5:]
	var err error
	n := int(rest[0] & 0x1F)
	if c.SPS, rest, err = readSets(rest[1:], n, "SPS"); err != nil {
		return err
	}
	if len(rest) < 1 {
		return errors.New("h264: decoder config truncated before the PPS count")
	}
	n = int(rest[0])
	if c.PPS, rest, err = readSets(rest[1:], n, "PPS"); err != nil {
		return err
	}
	// The extension is optional in practice: parse it when it is there,
	// ignore trailing bytes otherwise.
	if !hasExtProfile(c.ProfileIndication) || len(rest) < 4 {
		return nil
	}
	c.HasExt = true
	c.ChromaFormat = rest[0] & 0x03
	c.BitDepthLuma = rest[1]&0x07 + 8
	c.BitDepthChroma = rest[2]&0x07 + 8
	n = int(rest[3])
	c.SPSExt, _, err = readSets(rest[4:], n, "SPS extension")
	return err
}

// readSets reads n (u16 length, bytes) entries.
func readSets(b []byte, n int, what string) ([][]byte, []byte, error) {
	if n > MaxParameterSets {
		return nil, nil, fmt.Errorf("h264: decoder config %s count (%d) exceeds maximum allowed (%d)", what, n, MaxParameterSets)
	}
	if n*2 > len(b) {
		return nil, nil, fmt.Errorf("h264: decoder config %s count %d does not fit in %d bytes", what, n, len(b))
	}
	if n == 0 {
		return nil, b, nil
	}
	sets := make([][]byte, n)
	for i := range sets {
		if len(b) < 2 {
			return nil, nil, fmt.Errorf("h264: decoder config truncated in %s %d length", what, i)
		}
		l := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if l > len(b) {
			return nil, nil, fmt.Errorf("h264: decoder config %s %d length %d exceeds the %d bytes left", what, i, l, len(b))
		}
		sets[i] = b[:l:l]
		b = b[l:]
	}
	return sets, b, nil
}

// Marshal encodes c. Reserved bits are written as 1s (§5.3.3.1).
func (c DecoderConfig) Marshal() ([]byte, error) {
	if c.LengthSize != 1 && c.LengthSize != 2 && c.LengthSize != 4 {
		return nil, fmt.Errorf("h264: NALU length size %d invalid (want 1, 2 or 4)", c.LengthSize)
	}
	if len(c.SPS) > 31 {
		return nil, fmt.Errorf("h264: SPS count (%d) exceeds maximum allowed (31)", len(c.SPS))
	}
	if len(c.PPS) > 255 || len(c.SPSExt) > 255 {
		return nil, fmt.Errorf("h264: PPS count (%d) or SPS extension count (%d) exceeds maximum allowed (255)", len(c.PPS), len(c.SPSExt))
	}
	if c.HasExt && (c.ChromaFormat > 3 || c.BitDepthLuma < 8 || c.BitDepthLuma > 15 || c.BitDepthChroma < 8 || c.BitDepthChroma > 15) {
		return nil, fmt.Errorf("h264: extension chroma format %d / bit depths %d, %d out of range", c.ChromaFormat, c.BitDepthLuma, c.BitDepthChroma)
	}
	size := 7
	for _, set := range [][][]byte{c.SPS, c.PPS, c.SPSExt} {
		for _, s := range set {
			if len(s) > 0xFFFF {
				return nil, fmt.Errorf("h264: parameter set of %d bytes exceeds maximum allowed (65535)", len(s))
			}
			size += 2 + len(s)
		}
	}
	if c.HasExt {
		size += 4
	}
	b := make([]byte, 0, size)
	b = append(b, 1, c.ProfileIndication, c.ProfileCompatibility, c.LevelIndication,
		0xFC|byte(c.LengthSize-1), 0xE0|byte(len(c.SPS)))
	b = appendSets(b, c.SPS)
	b = append(b, byte(len(c.PPS)))
	b = appendSets(b, c.PPS)
	if c.HasExt {
		b = append(b, 0xFC|c.ChromaFormat, 0xF8|(c.BitDepthLuma-8), 0xF8|(c.BitDepthChroma-8), byte(len(c.SPSExt)))
		b = appendSets(b, c.SPSExt)
	}
	return b, nil
}

func appendSets(b []byte, sets [][]byte) []byte {
	for _, s := range sets {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	return b
}
