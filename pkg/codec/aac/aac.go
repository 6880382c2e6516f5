// Package aac parses and writes the MPEG-4 audio structures a streaming
// server needs: the AudioSpecificConfig carried in RTMP/FLV AAC sequence
// headers (ISO/IEC 14496-3 §1.6.2.1) and the ADTS frame header that HLS
// (MPEG-TS) needs in front of every raw AAC frame (§1.A.2.2).
package aac

// ObjectType is an MPEG-4 audio object type (ISO/IEC 14496-3 Table 1.17).
type ObjectType uint8

// Object types a live stream may carry.
const (
	ObjectTypeMain ObjectType = 1
	ObjectTypeLC   ObjectType = 2
	ObjectTypeSSR  ObjectType = 3
	ObjectTypeLTP  ObjectType = 4
	ObjectTypeSBR  ObjectType = 5  // HE-AAC (explicit hierarchical signalling)
	ObjectTypePS   ObjectType = 29 // HE-AAC v2
)

// sampleRates is Table 1.16 (samplingFrequencyIndex 0–12; 13 and 14 are
// reserved, 15 escapes to an explicit 24-bit frequency).
var sampleRates = [...]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// sampleRateIndex returns the Table 1.16 index of rate, or -1.
func sampleRateIndex(rate int) int {
	for i, r := range sampleRates {
		if r == rate {
			return i
		}
	}
	return -1
}

// channelCounts maps channelConfiguration to a channel count (Table 1.19
// and its 2009+ amendments: 11 = 6.1, 12 = 7.1 rear, 13 = 22.2, 14 = 7.1
// top). 0 means a program_config_element defines the layout.
var channelCounts = [16]int{0, 1, 2, 3, 4, 5, 6, 8, 0, 0, 0, 7, 8, 24, 8, 0}
