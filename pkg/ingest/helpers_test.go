package ingest

import (
	"encoding/binary"
	"encoding/hex"
	"strings"

	"github.com/ripplemedia/ripple/pkg/codec/hevc"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// Builders of FLV/E-RTMP tag bodies for the case table. They build bytes
// by hand (not with the codec packages' Marshal) so that cases can hold
// what no encoder writes.

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// Parameter sets: a Baseline SPS/PPS from mediatest, and VPS/SPS/PPS of a
// libx265 Main record (pkg/codec/hevc test case "main 202x122").
var (
	avcSPS = mediatest.SPS(320, 240)
	avcPPS = mediatest.PPS()

	hevcVPS, hevcSPS, hevcPPS = hevcParams()
)

func hevcParams() (vps, sps, pps []byte) {
	var dc hevc.DecoderConfig
	rec := mustHex("0101600000009000000000003cf000fcfdf8f800000f03200001001840010c01ffff01600000030090000003000003003c959809210001002a42010101600000030090000003000003003ca01a2020724996566924caf0168080000003008000000c8422000100074401c172b46240")
	if err := dc.Unmarshal(rec); err != nil {
		panic(err)
	}
	return dc.First(hevc.NALUVPS), dc.First(hevc.NALUSPS), dc.First(hevc.NALUPPS)
}

// avcC builds an AVCDecoderConfigurationRecord with the given length size
// field (lengthSizeMinusOne = ls-1) and parameter sets; tail follows the
// PPS list (a high-profile extension, garbage).
func avcC(ls int, sps, pps [][]byte, tail ...byte) []byte {
	prof := []byte{66, 0xC0, 40}
	if len(sps) > 0 && len(sps[0]) >= 4 {
		prof = sps[0][1:4]
	}
	b := []byte{1, prof[0], prof[1], prof[2], 0xFC | byte(ls-1), 0xE0 | byte(len(sps))}
	for _, s := range sps {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	b = append(b, byte(len(pps)))
	for _, s := range pps {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	return append(b, tail...)
}

// hvcArray is one NAL unit array of an hvcC.
type hvcArray struct {
	typ   hevc.NALUType
	nalus [][]byte
}

// hvcC builds an HEVCDecoderConfigurationRecord (Main, level 2) with the
// given length size and arrays.
func hvcC(ls int, arrays ...hvcArray) []byte {
	b := mustHex("01 01 60000000 900000000000 3c f000 fc fd f8 f8 0000")
	b = append(b, 0x0C|byte(ls-1), byte(len(arrays)))
	for _, a := range arrays {
		b = append(b, 0x80|byte(a.typ))
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.nalus)))
		for _, u := range a.nalus {
			b = binary.BigEndian.AppendUint16(b, uint16(len(u)))
			b = append(b, u...)
		}
	}
	return b
}

func hvcDefault(ls int) []byte {
	return hvcC(ls, hvcArray{hevc.NALUVPS, [][]byte{hevcVPS}}, hvcArray{hevc.NALUSPS, [][]byte{hevcSPS}},
		hvcArray{hevc.NALUPPS, [][]byte{hevcPPS}})
}

// au builds an access unit of ls-byte lengths and units.
func au(ls int, units ...[]byte) []byte {
	var b []byte
	for _, u := range units {
		for i := ls - 1; i >= 0; i-- {
			b = append(b, byte(len(u)>>(8*i)))
		}
		b = append(b, u...)
	}
	return b
}

// Legacy FLV video bodies (FLV v10.1 §E.4.3.1): AVC (codec 7).
func avcHeader(record []byte) []byte { return cat([]byte{0x17, 0, 0, 0, 0}, record) }
func avcFrame(key bool, data []byte) []byte {
	ft := byte(0x27)
	if key {
		ft = 0x17
	}
	return cat([]byte{ft, 1, 0, 0, 0}, data)
}

// E-RTMP v2 video: [IsExHeader|FrameType|PacketType] FourCC body.
const (
	keyFrame   = 1
	interFrame = 2
)

func exVideo(ft, pt byte, fourCC string, body []byte) []byte {
	return cat([]byte{0x80 | ft<<4 | pt}, []byte(fourCC), body)
}

// cts0 is the SI24 composition time of CodedFrames for avc1/hvc1.
var cts0 = []byte{0, 0, 0}

func hevcHeader(record []byte) []byte { return exVideo(keyFrame, ptSequenceStart, "hvc1", record) }
func hevcFrame(key bool, data []byte) []byte {
	ft := byte(interFrame)
	if key {
		ft = keyFrame
	}
	return exVideo(ft, ptCodedFrames, "hvc1", cat(cts0, data))
}

// mtTrack is one track of a multitrack message; fourCC is used only for
// ManyTracksManyCodecs.
type mtTrack struct {
	fourCC string
	id     byte
	body   []byte
}

// multitrack builds an E-RTMP v2 multitrack video (or audio, with
// multitrackPT 5 and an audio first byte) message.
func multitrack(first byte, multitrackPT, mt, pt byte, fourCC string, tracks ...mtTrack) []byte {
	b := []byte{first&0xF0 | multitrackPT, mt<<4 | pt}
	if mt != manyTracksManyCodecs {
		b = append(b, fourCC...)
	}
	for _, t := range tracks {
		if mt == manyTracksManyCodecs {
			b = append(b, t.fourCC...)
		}
		b = append(b, t.id)
		if mt != oneTrack {
			b = append(b, byte(len(t.body)>>16), byte(len(t.body)>>8), byte(len(t.body)))
		}
		b = append(b, t.body...)
	}
	return b
}

func mtVideo(ft, mt, pt byte, fourCC string, tracks ...mtTrack) []byte {
	return multitrack(0x80|ft<<4, ptVideoMultitrack, mt, pt, fourCC, tracks...)
}

// AAC: legacy [SoundFormat 10 | 44 kHz | 16-bit | stereo] AACPacketType.
func aacHeader(asc []byte) []byte { return cat([]byte{0xAF, 0}, asc) }
func aacFrame(data []byte) []byte { return cat([]byte{0xAF, 1}, data) }

// E-RTMP audio: [SoundFormat 9 | AudioPacketType] FourCC body.
func exAudio(pt byte, fourCC string, body []byte) []byte {
	return cat([]byte{soundFormatExHeader<<4 | pt}, []byte(fourCC), body)
}

// ascLC is AAC-LC, 44.1 kHz, stereo.
var ascLC = []byte{0x12, 0x10}

// av1Seq is a libaom sequence header OBU (128x72, Main, 8-bit).
var av1Seq = mustHex("0a0a0000000337f8e6d7c802")

func av1C(obus ...byte) []byte { return cat([]byte{0x81, 0x00, 0x0c, 0x00}, obus) }

// av1Frame is a temporal unit: a frame OBU with 4 payload bytes.
var av1Frame = mustHex("32 04 10 20 30 40")

// video and audio tag types, for steps.
const (
	tv = flv.TagVideo
	ta = flv.TagAudio
)
