package mediatest

import "github.com/ripplemedia/ripple/pkg/av"

// FLV AudioTagHeader (FLV v10.1 §E.4.2.1) for AAC: SoundFormat 10, rate 3
// (44 kHz; always 3 for AAC), 16-bit, stereo flag; then AACPacketType.
const (
	aacFormat    = 10
	aacSeqHeader = 0
	aacRaw       = 1
)

func audioTagByte(channels int) byte {
	b := byte(aacFormat<<4 | 3<<2 | 1<<1)
	if channels == 2 {
		b |= 1
	}
	return b
}

// AudioHeader returns an AAC sequence header packet whose body ends with the
// AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1): AAC-LC (object type 2),
// 44100 Hz (frequency index 4), channels (1 or 2), GASpecificConfig all 0.
func AudioHeader(ts uint32, channels int) *av.Packet {
	asc := uint16(2)<<11 | uint16(4)<<7 | uint16(channels)<<3
	b := []byte{audioTagByte(channels), aacSeqHeader, byte(asc >> 8), byte(asc)}
	return &av.Packet{Kind: av.KindAudio, Codec: av.CodecAAC, Header: true, DTS: int64(ts), Data: b}
}

// AudioFrame returns a raw AAC frame packet with size filler bytes.
func AudioFrame(ts uint32, size int, seed byte, channels int) *av.Packet {
	b := make([]byte, 0, 2+size)
	b = append(b, audioTagByte(channels), aacRaw)
	for i := range size {
		b = append(b, seed+byte(i))
	}
	return &av.Packet{Kind: av.KindAudio, Codec: av.CodecAAC, DTS: int64(ts), Data: b}
}
