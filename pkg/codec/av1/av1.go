// Package av1 parses the AV1 structures a streaming server needs: the
// AV1CodecConfigurationRecord carried in E-RTMP "av01" sequence starts
// (AV1-ISOBMFF §2.3), and the OBUs of the low overhead bitstream format
// (AV1 §5.3) that make up a temporal unit (an E-RTMP coded frame, an
// AV1-ISOBMFF sample, §2.4).
//
// Parsers alias their input, never allocate, and check every size read
// from the wire against the bytes actually present.
package av1

// OBUType is obu_type (AV1 §6.2.2, Table "OBU types").
type OBUType uint8

// OBU types. 0 and 9–14 are reserved: decoders ignore them (§6.2.2).
const (
	OBUSequenceHeader       OBUType = 1
	OBUTemporalDelimiter    OBUType = 2
	OBUFrameHeader          OBUType = 3
	OBUTileGroup            OBUType = 4
	OBUMetadata             OBUType = 5
	OBUFrame                OBUType = 6
	OBURedundantFrameHeader OBUType = 7
	OBUTileList             OBUType = 8
	OBUPadding              OBUType = 15
)
