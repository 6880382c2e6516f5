package mediatest

import (
	"encoding/binary"
	"encoding/hex"
	"strings"

	"github.com/ripplemedia/ripple/pkg/flv"
)

// Hostile sequences: what a broken or malicious publisher can send. Bodies
// are built by hand so they can hold what no encoder writes.

// Parameter sets and frames (ISO/IEC 14496-15 framing, 4-byte lengths).
var (
	hostileSPS = SPS(320, 240)
	hostilePPS = PPS()
	// A libx265 Main HEVCDecoderConfigurationRecord (202x122, 4-byte
	// lengths) and an IDR_W_RADL / TRAIL_R unit.
	hevcRecord = mustHex("0101600000009000000000003cf000fcfdf8f800000f03200001001840010c01ffff01600000030090000003000003003c959809210001002a42010101600000030090000003000003003ca01a2020724996566924caf0168080000003008000000c8422000100074401c172b46240")
	hevcIDR    = []byte{19 << 1, 0x01, 0xAF, 0x10, 0x42}
	hevcTrail  = []byte{1 << 1, 0x01, 0xD0, 0x11}
	// An AV1CodecConfigurationRecord holding a libaom sequence header OBU
	// (128x72, Main, 8-bit), a temporal delimiter and a frame OBU.
	av1Record = mustHex("8100 0c00 0a0a0000000337f8e6d7c802")
	av1TU     = mustHex("1200 32 04 10 20 30 40")
	ascLC     = []byte{0x12, 0x10} // AAC-LC 44.1 kHz stereo
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// nalus prefixes each unit with a 4-byte length.
func nalus(units ...[]byte) []byte {
	var b []byte
	for _, u := range units {
		b = binary.BigEndian.AppendUint32(b, uint32(len(u)))
		b = append(b, u...)
	}
	return b
}

// avcRecord builds an AVCDecoderConfigurationRecord (4-byte lengths).
func avcRecord(sps, pps [][]byte) []byte {
	b := []byte{1, avcProfileBase, 0xC0, avcLevel40, 0xFF, 0xE0 | byte(len(sps))}
	for _, s := range sps {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	b = append(b, byte(len(pps)))
	for _, s := range pps {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	return b
}

// Legacy FLV tag bodies (FLV v10.1 §E.4.2.1, §E.4.3.1).
func avcHeaderBody(rec []byte) []byte { return cat([]byte{0x17, 0, 0, 0, 0}, rec) }
func avcKeyBody(seed byte) []byte {
	return cat([]byte{0x17, 1, 0, 0, 0}, nalus([]byte{0x65, 0x88, seed, 0x21}))
}
func avcInterBody(seed byte) []byte {
	return cat([]byte{0x27, 1, 0, 0, 0x28}, nalus([]byte{0x41, 0x9A, seed}))
}
func aacHeaderBody(asc []byte) []byte { return cat([]byte{0xAF, 0}, asc) }
func aacFrameBody(seed byte) []byte   { return []byte{0xAF, 1, 0x21, seed, 0x05} }

// E-RTMP v2 bodies: [IsExHeader|FrameType|PacketType] FourCC ...
func exVideoBody(frameType, pt byte, fourCC string, body []byte) []byte {
	return cat([]byte{0x80 | frameType<<4 | pt}, []byte(fourCC), body)
}
func exAudioBody(pt byte, fourCC string, body []byte) []byte {
	return cat([]byte{9<<4 | pt}, []byte(fourCC), body)
}

// E-RTMP v2 packet types and FrameType values used below.
const (
	exSeqStart   = 0
	exCoded      = 1
	exSeqEnd     = 2
	exCodedX     = 3
	exMetadata   = 4
	exTSSeqStart = 5
	exAudioMT    = 5
	exVideoMT    = 6
	exModEx      = 7
	ftKey        = 1
	ftInter      = 2
)

var cts0 = []byte{0, 0, 0}

// hostileCases are the crafted seed streams.
func hostileCases() []PipelineCase {
	var cs []PipelineCase
	add := func(name string, tags ...Tag) { cs = append(cs, PipelineCase{Name: name, Tags: tags}) }
	// v steps the clock by 40 ms per video tag; a and d ride at it (audio
	// 23 ms later).
	ts := uint32(0)
	v := func(body []byte) Tag { ts += 40; return Tag{Type: flv.TagVideo, Timestamp: ts, Body: body} }
	a := func(body []byte) Tag { return Tag{Type: flv.TagAudio, Timestamp: ts + 23, Body: body} }
	d := func(body []byte) Tag { return Tag{Type: flv.TagScript, Timestamp: ts, Body: body} }
	reset := func() { ts = 0 }

	avcOK := avcHeaderBody(avcRecord([][]byte{hostileSPS}, [][]byte{hostilePPS}))
	meta := New(Config{}).Metadata().Data

	// The publish that crashed HLS muxers (docs/hardening.md §1): an empty PPS, then keyframes.
	reset()
	add("avc empty pps then keyframes",
		d(meta), v(avcHeaderBody(avcRecord([][]byte{hostileSPS}, [][]byte{{}}))), a(aacHeaderBody(ascLC)),
		v(avcKeyBody(1)), a(aacFrameBody(1)), v(avcInterBody(2)), v(avcKeyBody(3)), a(aacFrameBody(2)), v(avcInterBody(4)))

	reset()
	var tags []Tag
	tags = append(tags, a(aacHeaderBody(ascLC)))
	for i := range 12 {
		ts += 23
		tags = append(tags, a(aacFrameBody(byte(i))))
	}
	tags = append(tags, v(avcHeaderBody(avcRecord([][]byte{hostileSPS[:2]}, [][]byte{hostilePPS}))),
		v(avcKeyBody(1)), a(aacFrameBody(1)), v(avcInterBody(2)), v(avcKeyBody(3)))
	add("audio only then avc with truncated sps then keyframe", tags...)

	reset()
	add("video only then truncated sps then aac",
		v(avcOK), v(avcKeyBody(1)), v(avcInterBody(2)), v(avcInterBody(3)), v(avcKeyBody(4)),
		v(avcHeaderBody(avcRecord([][]byte{hostileSPS[:3]}, [][]byte{hostilePPS}))),
		// An SPS length running past the record.
		v(cat(avcHeaderBody([]byte{1, 66, 0xC0, 40, 0xFF, 0xE1, 0x01, 0x00}), hostileSPS[:4])),
		a(aacHeaderBody(ascLC)), a(aacFrameBody(1)), v(avcKeyBody(5)), a(aacFrameBody(2)), v(avcInterBody(6)))

	reset()
	add("codec switches h264 hevc h264",
		d(meta), v(avcOK), a(aacHeaderBody(ascLC)), v(avcKeyBody(1)), a(aacFrameBody(1)), v(avcInterBody(2)),
		v(exVideoBody(ftKey, exSeqStart, "hvc1", hevcRecord)),
		v(exVideoBody(ftKey, exCoded, "hvc1", cat(cts0, nalus(hevcIDR)))), a(aacFrameBody(2)),
		v(exVideoBody(ftInter, exCodedX, "hvc1", nalus(hevcTrail))),
		// Legacy codec id 12 (CDN-Union HEVC), rewritten by flv to hvc1.
		v(cat([]byte{0x1C, 0, 0, 0, 0}, hevcRecord)), v(cat([]byte{0x1C, 1, 0, 0, 0}, nalus(hevcIDR))),
		v(avcOK), v(avcInterBody(3)), v(avcKeyBody(4)), a(aacFrameBody(3)), v(avcInterBody(5)))

	reset()
	tags = []Tag{v(avcOK), a(aacHeaderBody(ascLC)), v(avcKeyBody(1))}
	setData := cat([]byte("\x02\x00\x0d@setDataFrame"), meta)
	floods := [][]byte{
		meta, setData,
		// onMetaData as an object, truncated, with garbage, and other names.
		cat([]byte("\x02\x00\x0aonMetaData\x03\x00\x05width\x00\x40\x74\x00\x00\x00\x00\x00\x00\x00\x00\x09")),
		[]byte("\x02\x00\x0aonMetaData"), []byte("\x02\x00\x0aonMetaData\x08\xff\xff\xff\xff"),
		[]byte("\x02\x00\x0aonTextData\x08\x00\x00\x00\x00\x00\x00\x09"), []byte("\x02\x00\x0aonCuePoint"),
		[]byte("\x02\x00\x0d@setDataFrame"), []byte("\x00\x00"),
	}
	for i := range 150 {
		tags = append(tags, d(floods[i%len(floods)]))
		if i%25 == 0 {
			tags = append(tags, v(avcInterBody(byte(i))), a(aacFrameBody(byte(i))))
		}
	}
	tags = append(tags, v(avcKeyBody(9)), a(aacFrameBody(9)))
	add("metadata flood", tags...)

	// Timestamps: back-steps (jitter and large), wrap past 2^32, jumps
	// forward and back, audio far from video.
	reset()
	at := func(t uint32, tag Tag) Tag { tag.Timestamp = t; return tag }
	add("timestamps back wrap jump",
		at(0xFFFFFF00, v(avcOK)), at(0xFFFFFF00, a(aacHeaderBody(ascLC))),
		at(0xFFFFFF00, v(avcKeyBody(1))), at(0xFFFFFF10, a(aacFrameBody(1))),
		at(0xFFFFFFF0, v(avcInterBody(2))), at(0x00000010, v(avcInterBody(3))), at(0x00000008, a(aacFrameBody(2))),
		at(0x00000004, v(avcInterBody(4))), at(0xFFFFFE00, v(avcInterBody(5))), at(0x00000050, v(avcKeyBody(6))),
		at(0x00100000, v(avcInterBody(7))), at(0x00100020, a(aacFrameBody(3))), at(0x00000000, v(avcKeyBody(8))),
		at(0x7FFFFFFF, a(aacFrameBody(4))), at(0x80000000, v(avcInterBody(9))), at(0x80000000, v(avcInterBody(10))),
		at(0x00000100, a(aacFrameBody(5))), at(0x00000120, v(avcKeyBody(11))))

	reset()
	add("zero length bodies",
		d(nil), v(nil), a(nil), v(avcOK), a(aacHeaderBody(ascLC)), v(nil), v(avcKeyBody(1)), a(nil), a(aacFrameBody(1)),
		d(nil), v(avcInterBody(2)), v([]byte{0x17}), a([]byte{0xAF}), v([]byte{0x17, 1}), v(avcKeyBody(3)),
		v(cat([]byte{0x17, 1, 0, 0, 0}, nalus(nil))), v([]byte{0x17, 0, 0, 0, 0}), a([]byte{0xAF, 0}))

	// E-RTMP v2: ModEx (TimestampOffsetNano, 3 bytes) before the real
	// packet type, multitrack in all three layouts, AV1, VP9, metadata,
	// sequence end, commands, Opus and AAC in ex-headers.
	reset()
	modEx := func(frameType, pt byte, fourCC string, body []byte) []byte {
		return cat([]byte{0x80 | frameType<<4 | exModEx, 2, 0x00, 0x01, 0x02, 0<<4 | pt}, []byte(fourCC), body)
	}
	mtVideo := func(frameType, mt, pt byte, tracks ...[]byte) []byte {
		return cat(append([][]byte{{0x80 | frameType<<4 | exVideoMT, mt<<4 | pt}}, tracks...)...)
	}
	track := func(id byte, body []byte) []byte {
		return cat([]byte{id, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body)
	}
	avcRec := avcRecord([][]byte{hostileSPS}, [][]byte{hostilePPS})
	avcKey := nalus([]byte{0x65, 0x88, 0x80, 0x21})
	add("ertmp modex and multitrack",
		d(meta),
		v(exVideoBody(ftKey, exSeqStart, "hvc1", hevcRecord)),
		v(modEx(ftKey, exCoded, "hvc1", cat(cts0, nalus(hevcIDR)))),
		v(modEx(ftInter, exCodedX, "hvc1", nalus(hevcTrail))),
		// A 256-byte ModEx (the UI16 size escape).
		v(cat([]byte{0x80 | ftInter<<4 | exModEx, 0xFF, 0x00, 0xFF}, make([]byte, 256), []byte{exCodedX}, []byte("hvc1"), nalus(hevcTrail))),
		a(exAudioBody(exSeqStart, "Opus", []byte("OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00\x00\x00\x00"))),
		a(exAudioBody(exCoded, "Opus", []byte{0xFC, 0xFF, 0xFE})),
		a(cat([]byte{9<<4 | exModEx, 2, 0, 0, 1, exCoded}, []byte("Opus"), []byte{0xFC, 0x01})),
		// Multitrack video: OneTrack (track 0: the main one), ManyTracks,
		// ManyTracksManyCodecs (one track's body broken).
		v(mtVideo(ftKey, 0, exSeqStart, []byte("avc1"), []byte{0}, avcRec)),
		v(mtVideo(ftKey, 0, exCoded, []byte("avc1"), []byte{0}, cts0, avcKey)),
		v(mtVideo(ftKey, 1, exCodedX, []byte("avc1"), track(0, avcKey), track(1, avcKey))),
		v(mtVideo(ftKey, 2, exSeqStart, []byte("avc1"), track(0, avcRec), []byte("hvc1"), track(1, hevcRecord))),
		v(mtVideo(ftKey, 2, exCodedX, []byte("avc1"), track(0, avcKey), []byte("hvc1"), track(1, []byte{0, 0, 0, 9, 1}))),
		// Multitrack audio: two Opus tracks.
		a(cat([]byte{9<<4 | exAudioMT, 1<<4 | exCoded}, []byte("Opus"), track(0, []byte{0xFC, 1}), track(1, []byte{0xFC, 2}))),
		// E-RTMP AAC: AudioSpecificConfig in mp4a, then a frame.
		a(exAudioBody(exSeqStart, "mp4a", ascLC)), a(exAudioBody(exCoded, "mp4a", []byte{0x21, 0x10})),
		// Video metadata (colorInfo), sequence end, a command frame.
		v(exVideoBody(ftKey, exMetadata, "hvc1", []byte("\x02\x00\x09colorInfo\x03\x00\x00\x09"))),
		v(exVideoBody(ftKey, exSeqEnd, "hvc1", nil)),
		v([]byte{0x80 | 5<<4 | exCoded, 0}), v([]byte{0x57, 0}),
		v(exVideoBody(ftKey, exSeqStart, "av01", av1Record)),
		v(exVideoBody(ftKey, exTSSeqStart, "av01", []byte{0x80, 4, 0x81, 0, 0x0c, 0})),
		v(exVideoBody(ftKey, exCoded, "av01", av1TU)),
		v(exVideoBody(ftInter, exCodedX, "av01", []byte{0x32, 0x09, 1})), // an OBU size past the end
		v(exVideoBody(ftKey, exSeqStart, "vp09", []byte{1, 0, 0, 0, 0x1F, 0x80, 0, 0})),
		v(exVideoBody(ftKey, exCodedX, "vp09", []byte{0x82, 0x49, 0x83})),
		v(exVideoBody(ftKey, exSeqStart, "vp08", nil)), v(exVideoBody(ftKey, exCoded, "xyz1", nil)),
		v(avcOK), v(avcKeyBody(1)))

	reset()
	add("legacy codecs and unknown tag types",
		d(meta), v([]byte{0x12, 0, 0, 0x84, 0}), v([]byte{0x22, 0, 0, 0x84, 0}), v([]byte{0x14, 0x01, 0x23}),
		a([]byte{0x2F, 0xFF, 0xFB, 0x90}), a([]byte{0x0E, 1, 2}), a([]byte{0x7E, 0xD5}), a([]byte{0xBE, 1}),
		a([]byte{0xF0}), a([]byte{0xAF, 7}), v([]byte{0x17, 9, 0, 0, 0}), v([]byte{0x1C, 1, 0, 0}),
		Tag{Type: 15, Timestamp: ts, Body: []byte{1}}, Tag{Type: 0x1F, Timestamp: ts}, Tag{Type: 0x29, Timestamp: ts, Body: []byte{8}},
		v(avcOK), v(avcKeyBody(1)), a([]byte{0x2F, 0xFF, 0xFB, 0x90}))
	return cs
}
