package aac

import "fmt"

// ADTSHeaderSize is the size of an ADTS header without CRC.
const ADTSHeaderSize = 7

// MaxADTSPayload is the largest raw frame an ADTS header can describe: the
// 13-bit aac_frame_length counts the header too.
const MaxADTSPayload = 1<<13 - 1 - ADTSHeaderSize

// AppendADTSHeader appends the 7-byte ADTS header (ISO/IEC 14496-3
// §1.A.2.2, protection_absent = 1, one raw data block) for a raw AAC frame
// of payloadSize bytes described by c. ADTS can only describe object types
// 1–4 with a Table 1.16 sampling frequency and channel configuration 1–7;
// HE-AAC is written as its core (LC at the core rate), which decoders
// upgrade implicitly when they find the SBR data.
func AppendADTSHeader(dst []byte, c Config, payloadSize int) ([]byte, error) {
	if c.ObjectType < 1 || c.ObjectType > 4 {
		return dst, fmt.Errorf("aac: audio object type %d cannot be carried in ADTS (want 1-4)", c.ObjectType)
	}
	idx := sampleRateIndex(c.SampleRate)
	if idx < 0 {
		return dst, fmt.Errorf("aac: sampling frequency %d has no ADTS index", c.SampleRate)
	}
	if c.ChannelConfig < 1 || c.ChannelConfig > 7 {
		return dst, fmt.Errorf("aac: channel configuration %d cannot be carried in ADTS (want 1-7)", c.ChannelConfig)
	}
	if payloadSize < 0 || payloadSize > MaxADTSPayload {
		return dst, fmt.Errorf("aac: ADTS payload of %d bytes out of range [0, %d]", payloadSize, MaxADTSPayload)
	}
	n := payloadSize + ADTSHeaderSize
	profile := byte(c.ObjectType - 1)
	return append(dst,
		0xFF,
		0xF1, // syncword low nibble, ID 0 (MPEG-4), layer 00, protection_absent 1
		profile<<6|byte(idx)<<2|c.ChannelConfig>>2, // private_bit 0
		(c.ChannelConfig&3)<<6|byte(n>>11),         // original_copy, home, copyright bits 0
		byte(n>>3),
		byte(n&7)<<5|0x1F, // adts_buffer_fullness 0x7FF (VBR)
		0xFC,              // number_of_raw_data_blocks_in_frame 0
	), nil
}
