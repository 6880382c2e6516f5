package av1

import (
	"fmt"
)

// configHeaderSize is the fixed part of the record, before configOBUs.
const configHeaderSize = 4

// DecoderConfig is an AV1CodecConfigurationRecord (AV1-ISOBMFF §2.3.3): the
// body of an E-RTMP "av01" SequenceStart after the FourCC.
type DecoderConfig struct {
	SeqProfile           uint8 // 3 bits
	SeqLevelIdx0         uint8 // 5 bits
	SeqTier0             bool
	HighBitdepth         bool
	TwelveBit            bool
	Monochrome           bool
	ChromaSubsamplingX   bool
	ChromaSubsamplingY   bool
	ChromaSamplePosition uint8 // 2 bits
	// InitialPresentationDelayMinusOne is meaningful only when
	// InitialPresentationDelayPresent.
	InitialPresentationDelayPresent  bool
	InitialPresentationDelayMinusOne uint8 // 4 bits
	// ConfigOBUs are zero or more OBUs, each with obu_has_size_field set;
	// a Sequence Header OBU, if any, is the first and only one
	// (AV1-ISOBMFF §2.3.4). They alias the record.
	ConfigOBUs []byte
}

// Unmarshal parses an AV1CodecConfigurationRecord and checks the framing
// of its configOBUs (not their contents). ConfigOBUs aliases b. The
// reserved bits are not checked. It does not allocate unless it fails.
func (c *DecoderConfig) Unmarshal(b []byte) error {
	*c = DecoderConfig{}
	if len(b) < configHeaderSize {
		return fmt.Errorf("av1: decoder config too short (%d bytes, need at least %d)", len(b), configHeaderSize)
	}
	if b[0]&0x80 == 0 {
		return fmt.Errorf("av1: decoder config marker bit is 0 (byte 0x%02x)", b[0])
	}
	if v := b[0] & 0x7F; v != 1 {
		return fmt.Errorf("av1: decoder config version %d unsupported (want 1)", v)
	}
	c.SeqProfile = b[1] >> 5
	c.SeqLevelIdx0 = b[1] & 0x1F
	c.SeqTier0 = b[2]&0x80 != 0
	c.HighBitdepth = b[2]&0x40 != 0
	c.TwelveBit = b[2]&0x20 != 0
	c.Monochrome = b[2]&0x10 != 0
	c.ChromaSubsamplingX = b[2]&0x08 != 0
	c.ChromaSubsamplingY = b[2]&0x04 != 0
	c.ChromaSamplePosition = b[2] & 0x03
	c.InitialPresentationDelayPresent = b[3]&0x10 != 0
	if c.InitialPresentationDelayPresent {
		c.InitialPresentationDelayMinusOne = b[3] & 0x0F
	}
	obus := b[configHeaderSize:]
	for i, off := 0, 0; off < len(obus); i++ {
		var o OBU
		if err := o.Unmarshal(obus[off:]); err != nil {
			return fmt.Errorf("av1: decoder config obu %d at offset %d: %s", i, off, reason(err))
		}
		switch {
		case !o.HasSize:
			return fmt.Errorf("av1: decoder config obu %d (type %d) lacks a size field", i, o.Type)
		case o.Type == OBUSequenceHeader && i > 0:
			return fmt.Errorf("av1: decoder config obu %d is a sequence header (allowed only first)", i)
		}
		off += o.Len
	}
	c.ConfigOBUs = obus
	return nil
}

// Marshal encodes c. Reserved bits are written as 0s (AV1-ISOBMFF §2.3.3).
// ConfigOBUs are written as they are.
func (c DecoderConfig) Marshal() ([]byte, error) {
	if c.SeqProfile > 7 || c.SeqLevelIdx0 > 31 || c.ChromaSamplePosition > 3 || c.InitialPresentationDelayMinusOne > 15 {
		return nil, fmt.Errorf("av1: decoder config field exceeds its bit width (profile %d, level %d, chroma position %d, delay %d)",
			c.SeqProfile, c.SeqLevelIdx0, c.ChromaSamplePosition, c.InitialPresentationDelayMinusOne)
	}
	b := make([]byte, configHeaderSize, configHeaderSize+len(c.ConfigOBUs))
	b[0] = 0x81 // marker, version 1
	b[1] = c.SeqProfile<<5 | c.SeqLevelIdx0
	for i, f := range [...]bool{c.SeqTier0, c.HighBitdepth, c.TwelveBit, c.Monochrome, c.ChromaSubsamplingX, c.ChromaSubsamplingY} {
		if f {
			b[2] |= 0x80 >> i
		}
	}
	b[2] |= c.ChromaSamplePosition
	if c.InitialPresentationDelayPresent {
		b[3] = 0x10 | c.InitialPresentationDelayMinusOne
	}
	return append(b, c.ConfigOBUs...), nil
}
