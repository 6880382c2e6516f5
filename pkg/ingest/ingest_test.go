package ingest

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/codec/h264"
	"github.com/ripplemedia/ripple/pkg/codec/hevc"
	"github.com/ripplemedia/ripple/pkg/flv"
)

// step is one tag a publisher sends and what Check must say about the
// packet flv.PacketFromTag makes of it ("" = valid).
type step struct {
	tag  uint8
	body []byte
	err  string
}

func ok(tag uint8, body []byte) step { return step{tag: tag, body: body} }

var (
	idr    = []byte{0x65, 0x88, 0x84, 0x00, 0x21}
	pslice = []byte{0x41, 0x9a, 0x02}
	sei    = []byte{0x06, 0x05, 0x01, 0x80}
	hIDR   = []byte{byte(hevc.NALUIDRWRADL) << 1, 0x01, 0xAF, 0x10}
	hTrail = []byte{0x02, 0x01, 0xD0}

	avcOK    = avcHeader(avcC(4, [][]byte{avcSPS}, [][]byte{avcPPS}))
	avcOK2   = avcHeader(avcC(2, [][]byte{avcSPS}, [][]byte{avcPPS}))
	hevcOK   = hevcHeader(hvcDefault(4))
	key4     = avcFrame(true, au(4, sei, idr))
	key2     = avcFrame(true, au(2, sei, idr))
	hevcKey4 = hevcFrame(true, au(4, hIDR))
)

// manyNALUs is an access unit of n one-byte units (4-byte lengths).
func manyNALUs(n int) []byte {
	units := make([][]byte, n)
	for i := range units {
		units[i] = pslice[:1]
	}
	return au(4, units...)
}

// cases feeds TestCheck and the seeds of FuzzValidator. Each case is one
// publish session: the steps run in order on one Validator.
var cases = []struct {
	name  string
	steps []step
}{
	// The known crash: HLS panicked in mediacommon on the empty PPS once
	// keyframes came. The header is dropped, the frames go on.
	{"avc empty pps then keyframes", []step{
		{tv, avcHeader(avcC(4, [][]byte{avcSPS}, [][]byte{{}})), "avc sequence header: pps 0 has length 0"},
		ok(tv, key4), ok(tv, avcFrame(false, au(4, pslice))), ok(tv, key4),
	}},
	{"avc valid", []step{ok(tv, avcOK), ok(tv, key4), ok(tv, avcFrame(false, au(4, pslice)))}},
	{"avc empty sps", []step{{tv, avcHeader(avcC(4, [][]byte{{}}, [][]byte{avcPPS})), "avc sequence header: sps 0 has length 0"}}},
	{"avc short sps", []step{{tv, avcHeader(avcC(4, [][]byte{avcSPS[:3]}, [][]byte{avcPPS})), "avc sequence header: sps 0 is 3 bytes (want at least 4)"}}},
	{"avc pps as sps", []step{{tv, avcHeader(avcC(4, [][]byte{avcPPS}, [][]byte{avcPPS})), "avc sequence header: sps 0 has nal unit type 8 (want 7)"}}},
	{"avc sps as pps", []step{{tv, avcHeader(avcC(4, [][]byte{avcSPS}, [][]byte{avcPPS, avcSPS})), "avc sequence header: pps 1 has nal unit type 7 (want 8)"}}},
	{"avc no pps", []step{{tv, avcHeader(avcC(4, [][]byte{avcSPS}, nil)), "avc sequence header: 1 sps and 0 pps (want at least 1 of each)"}}},
	{"avc no sps", []step{{tv, avcHeader(avcC(4, nil, [][]byte{avcPPS})), "avc sequence header: 0 sps and 1 pps (want at least 1 of each)"}}},
	{"avc version 0", []step{{tv, avcHeader(cat([]byte{0}, avcC(4, [][]byte{avcSPS}, [][]byte{avcPPS})[1:])), "avc sequence header: decoder config version 0 unsupported (want 1)"}}},
	{"avc length size 3", []step{{tv, avcHeader(avcC(3, [][]byte{avcSPS}, [][]byte{avcPPS})), "avc sequence header: decoder config NALU length size 3 invalid (want 1, 2 or 4)"}}},
	{"avc empty record", []step{{tv, avcHeader(nil), "avc sequence header: decoder config too short (0 bytes, need at least 7)"}}},
	{"avc pps past the end", []step{{tv, avcHeader(avcC(4, [][]byte{avcSPS}, [][]byte{avcPPS})[:len(avcSPS)+12]), "avc sequence header: decoder config PPS 0 length 4 exceeds the 1 bytes left"}}},
	{"avc sps count past the end", []step{{tv, avcHeader(mustHex("0142c028ffe30001")), "avc sequence header: decoder config SPS count 3 does not fit in 2 bytes"}}},
	{"avc sps past the end", []step{{tv, avcHeader(mustHex("0142c028ffe3000267420001")), "avc sequence header: decoder config SPS 1 length 1 exceeds the 0 bytes left"}}},
	{"avc too many pps", []step{{tv, avcHeader(cat(avcC(4, [][]byte{avcSPS}, nil)[:len(avcSPS)+8], []byte{65}, bytes.Repeat([]byte{0, 1, 0x68}, 65))),
		"avc sequence header: decoder config PPS count (65) exceeds maximum allowed (64)"}}},
	{"avc high extension with wrong type", []step{{tv, avcHeader(avcC(4, [][]byte{highSPS}, [][]byte{avcPPS}, 0xFD, 0xF8, 0xF8, 1, 0, 2, 0x67, 0x01)),
		"avc sequence header: sps extension 0 has nal unit type 7 (want 13)"}}},
	{"avc high extension", []step{ok(tv, avcHeader(avcC(4, [][]byte{highSPS}, [][]byte{avcPPS}, 0xFD, 0xF8, 0xF8, 1, 0, 2, 0x6D, 0x01)))}},
	{"avc trailing bytes after the pps", []step{ok(tv, avcHeader(avcC(4, [][]byte{avcSPS}, [][]byte{avcPPS}, 0xFC, 0xF8, 0xF8, 0x00)))}},

	{"h264 nalu past the end", []step{ok(tv, avcOK),
		{tv, avcFrame(true, cat(binary.BigEndian.AppendUint32(nil, 70000), make([]byte, 512))), "h264 frame: nalu length 70000 at offset 0 exceeds the 512 bytes left"},
		{tv, avcFrame(true, cat(au(4, sei), binary.BigEndian.AppendUint32(nil, 9), idr)), "h264 frame: nalu length 9 at offset 8 exceeds the 5 bytes left"}}},
	{"h264 trailing bytes", []step{{tv, avcFrame(true, cat(au(4, idr), []byte{0, 0})), "h264 frame: 2 trailing bytes at offset 9, shorter than the 4-byte nalu length"}}},
	{"h264 nalu count", []step{ok(tv, avcOK), ok(tv, avcFrame(false, manyNALUs(h264.MaxNALUsPerAccessUnit))),
		{tv, avcFrame(false, manyNALUs(h264.MaxNALUsPerAccessUnit+1)), "h264 frame: nalu count exceeds maximum allowed (1024)"}}},
	{"h264 annex b", []step{ok(tv, avcOK), {tv, avcFrame(true, cat([]byte{0, 0, 0, 1}, avcSPS, []byte{0, 0, 0, 1}, avcPPS, []byte{0, 0, 1}, idr)),
		"h264 frame: nalu length 1119889626 at offset 5 exceeds the 19 bytes left (the frame starts with an annex b start code; flv carries length-prefixed nal units)"}}},
	{"h264 zero-length nalus pass", []step{ok(tv, avcOK), ok(tv, avcFrame(true, au(4, nil, idr, nil)))}},
	{"h264 empty frame passes", []step{ok(tv, avcOK), ok(tv, avcFrame(false, nil))}},
	{"h264 end of sequence", []step{ok(tv, avcOK), ok(tv, []byte{0x17, 2, 0, 0, 0})}},
	{"h264 frames before a header use 4-byte lengths", []step{ok(tv, key4), {tv, key2, "h264 frame: nalu length 263685 at offset 0 exceeds the 9 bytes left"}}},
	{"avc length size 2", []step{ok(tv, avcOK2), ok(tv, key2), ok(tv, avcFrame(false, au(2, pslice))),
		{tv, avcFrame(true, au(1, idr)), "h264 frame: nalu length 1381 at offset 0 exceeds the 4 bytes left"}}},
	{"avc length size 1", []step{ok(tv, avcHeader(avcC(1, [][]byte{avcSPS}, [][]byte{avcPPS}))), ok(tv, avcFrame(true, au(1, sei, idr)))}},
	{"an invalid header keeps the last valid one", []step{ok(tv, avcOK2),
		{tv, avcHeader(avcC(4, [][]byte{avcSPS}, [][]byte{{}})), "avc sequence header: pps 0 has length 0"},
		ok(tv, key2)}},

	{"hevc valid", []step{ok(tv, hevcOK), ok(tv, hevcKey4), ok(tv, hevcFrame(false, au(4, hTrail))),
		ok(tv, exVideo(interFrame, ptCodedFramesX, "hvc1", au(4, hTrail)))}},
	{"hevc with sei arrays", []step{ok(tv, hevcHeader(hvcC(4, hvcArray{hevc.NALUVPS, [][]byte{hevcVPS}}, hvcArray{hevc.NALUSPS, [][]byte{hevcSPS}},
		hvcArray{hevc.NALUPPS, [][]byte{hevcPPS}}, hvcArray{hevc.NALUPrefixSEI, [][]byte{{0x4E, 0x01, 0x05, 0x00}}})))}},
	{"hevc no pps", []step{{tv, hevcHeader(hvcC(4, hvcArray{hevc.NALUVPS, [][]byte{hevcVPS}}, hvcArray{hevc.NALUSPS, [][]byte{hevcSPS}})),
		"hevc sequence header: 1 vps, 1 sps and 0 pps (want at least 1 of each)"}}},
	{"hevc empty pps", []step{{tv, hevcHeader(hvcC(4, hvcArray{hevc.NALUVPS, [][]byte{hevcVPS}}, hvcArray{hevc.NALUSPS, [][]byte{hevcSPS}},
		hvcArray{hevc.NALUPPS, [][]byte{{}}})), "hevc sequence header: array 2 (type 34) nalu 0 has length 0"}}},
	{"hevc one-byte sps", []step{{tv, hevcHeader(hvcC(4, hvcArray{hevc.NALUVPS, [][]byte{hevcVPS}}, hvcArray{hevc.NALUSPS, [][]byte{hevcSPS[:1]}},
		hvcArray{hevc.NALUPPS, [][]byte{hevcPPS}})), "hevc sequence header: array 1 (type 33) nalu 0 is 1 byte, shorter than the 2-byte nal unit header"}}},
	{"hevc pps in the sps array", []step{{tv, hevcHeader(hvcC(4, hvcArray{hevc.NALUVPS, [][]byte{hevcVPS}}, hvcArray{hevc.NALUSPS, [][]byte{hevcPPS}},
		hvcArray{hevc.NALUPPS, [][]byte{hevcPPS}})), "hevc sequence header: array 1 (type 33) nalu 0 has nal unit type 34"}}},
	{"hevc aud array", []step{{tv, hevcHeader(hvcC(4, hvcArray{hevc.NALUVPS, [][]byte{hevcVPS}}, hvcArray{hevc.NALUSPS, [][]byte{hevcSPS}},
		hvcArray{hevc.NALUPPS, [][]byte{hevcPPS}}, hvcArray{hevc.NALUAUD, [][]byte{{0x46, 0x01, 0x50}}})),
		"hevc sequence header: array 3 has nal unit type 35 (want 32, 33, 34, 39 or 40)"}}},
	{"hevc array count past the end", []step{{tv, hevcHeader(hvcDefault(4)[:30]), "hevc sequence header: decoder config array count 3 does not fit in 7 bytes"}}},
	{"hevc vps past the end", []step{{tv, hevcHeader(hvcDefault(4)[:38]), "hevc sequence header: decoder config array 0 NALU 0 length 24 exceeds the 10 bytes left"}}},
	{"hevc length size 3", []step{{tv, hevcHeader(hvcDefault(3)), "hevc sequence header: decoder config NALU length size 3 invalid (want 1, 2 or 4)"}}},
	{"hevc one-byte nalu", []step{ok(tv, hevcOK), {tv, hevcFrame(true, au(4, hIDR, hIDR[:1])), "hevc frame: nalu 1 at offset 8 is 1 byte, shorter than the 2-byte nal unit header"}}},
	{"hevc length size 2", []step{ok(tv, hevcHeader(hvcDefault(2))), ok(tv, hevcFrame(true, au(2, hIDR))),
		{tv, hevcFrame(true, au(1, hIDR)), "hevc frame: nalu length 1062 at offset 0 exceeds the 3 bytes left"}}},
	{"hevc mpeg-2 ts sequence start", []step{{tv, exVideo(keyFrame, ptMPEG2TSSequenceStart, "hvc1", hvcDefault(4)),
		"hevc mpeg-2 ts sequence start: defined for av01 only (e-rtmp v2)"}}},
	{"hevc legacy codec 12", []step{
		{tv, cat([]byte{0x1C, 0, 0, 0, 0}, hvcC(4, hvcArray{hevc.NALUVPS, [][]byte{hevcVPS}})), "hevc sequence header: 1 vps, 0 sps and 0 pps (want at least 1 of each)"},
		ok(tv, cat([]byte{0x1C, 0, 0, 0, 0}, hvcDefault(2))), ok(tv, cat([]byte{0x1C, 1, 0, 0, 0}, au(2, hIDR)))}},
	{"sequence end and metadata pass", []step{ok(tv, hevcOK), ok(tv, exVideo(keyFrame, ptSequenceEnd, "hvc1", nil)),
		ok(tv, exVideo(keyFrame, ptMetadata, "hvc1", mustHex("02 0009 636f6c6f72496e666f 03 000009")))}},
	{"modex wrapped frame", []step{ok(tv, hevcOK), ok(tv, cat([]byte{0x80 | interFrame<<4 | ptModEx, 2, 0, 0, 0, 0x01}, []byte("hvc1"), cts0, au(4, hTrail))),
		{tv, cat([]byte{0x80 | interFrame<<4 | ptModEx, 0, 0, 0x01}, []byte("hvc1"), cts0, au(4, hTrail[:1])), "hevc frame: nalu 0 at offset 0 is 1 byte, shorter than the 2-byte nal unit header"}}},

	{"codec change follows the last valid header", []step{ok(tv, avcOK2), ok(tv, key2), ok(tv, hevcOK), ok(tv, hevcKey4),
		ok(tv, key4), {tv, key2, "h264 frame: nalu length 263685 at offset 0 exceeds the 9 bytes left"},
		ok(tv, avcOK2), ok(tv, key2)}},

	{"av1 valid", []step{ok(tv, exVideo(keyFrame, ptSequenceStart, "av01", av1C(av1Seq...))),
		ok(tv, exVideo(keyFrame, ptCodedFrames, "av01", cat(av1Seq, av1Frame))), ok(tv, exVideo(interFrame, ptCodedFrames, "av01", av1Frame)),
		ok(tv, exVideo(interFrame, ptCodedFrames, "av01", mustHex("30 aabbcc"))), ok(tv, exVideo(keyFrame, ptSequenceStart, "av01", av1C()))}},
	{"av1 header marker", []step{{tv, exVideo(keyFrame, ptSequenceStart, "av01", cat([]byte{0x01}, av1C(av1Seq...)[1:])), "av1 sequence header: decoder config marker bit is 0 (byte 0x01)"}}},
	{"av1 header short", []step{{tv, exVideo(keyFrame, ptSequenceStart, "av01", []byte{0x81, 0}), "av1 sequence header: decoder config too short (2 bytes, need at least 4)"}}},
	{"av1 header obu past the end", []step{{tv, exVideo(keyFrame, ptSequenceStart, "av01", av1C(av1Seq[:8]...)), "av1 sequence header: decoder config obu 0 at offset 0: obu size 10 exceeds the 6 bytes left"}}},
	{"av1 header two sequence headers", []step{{tv, exVideo(keyFrame, ptSequenceStart, "av01", av1C(cat(av1Seq, av1Seq)...)), "av1 sequence header: decoder config obu 1 is a sequence header (allowed only first)"}}},
	{"av1 frame obu past the end", []step{{tv, exVideo(keyFrame, ptCodedFrames, "av01", cat(av1Seq, av1Frame[:4])), "av1 frame: obu 1 at offset 12: obu size 4 exceeds the 2 bytes left"}}},
	{"av1 frame forbidden bit", []step{{tv, exVideo(interFrame, ptCodedFramesX, "av01", mustHex("b2 00")), "av1 frame: obu 0 at offset 0: obu header 0xb2 has the forbidden bit set"}}},
	{"av1 mpeg-2 ts sequence start", []step{ok(tv, exVideo(keyFrame, ptMPEG2TSSequenceStart, "av01", mustHex("80 04 81 00 0c 00"))),
		{tv, exVideo(keyFrame, ptMPEG2TSSequenceStart, "av01", mustHex("80 06 81 00 0c 00")), "av1 mpeg-2 ts sequence start: descriptor length 6 exceeds the 4 bytes left"},
		{tv, exVideo(keyFrame, ptMPEG2TSSequenceStart, "av01", av1C()), "av1 mpeg-2 ts sequence start: descriptor tag 0x81 (want 0x80)"}}},
	{"vp9 is not checked", []step{ok(tv, exVideo(keyFrame, ptSequenceStart, "vp09", []byte{1})), ok(tv, exVideo(keyFrame, ptCodedFrames, "vp09", []byte{0xFF}))}},

	{"multitrack one track", []step{
		ok(tv, mtVideo(keyFrame, oneTrack, ptSequenceStart, "avc1", mtTrack{id: 1, body: avcC(2, [][]byte{avcSPS}, [][]byte{avcPPS})})),
		ok(tv, mtVideo(keyFrame, oneTrack, ptCodedFrames, "avc1", mtTrack{id: 1, body: cat(cts0, au(2, idr))})),
		{tv, mtVideo(keyFrame, oneTrack, ptCodedFrames, "avc1", mtTrack{id: 1, body: cat(cts0, au(1, idr))}), "h264 frame (track 1): nalu length 1381 at offset 0 exceeds the 4 bytes left"},
		ok(tv, key4)}},
	{"multitrack many tracks", []step{
		ok(tv, mtVideo(keyFrame, manyTracks, ptSequenceStart, "avc1",
			mtTrack{id: 0, body: avcC(4, [][]byte{avcSPS}, [][]byte{avcPPS})}, mtTrack{id: 1, body: avcC(2, [][]byte{avcSPS}, [][]byte{avcPPS})})),
		ok(tv, mtVideo(keyFrame, manyTracks, ptCodedFrames, "avc1", mtTrack{id: 0, body: cat(cts0, au(4, idr))}, mtTrack{id: 1, body: cat(cts0, au(2, idr))})),
		{tv, mtVideo(keyFrame, manyTracks, ptCodedFrames, "avc1", mtTrack{id: 0, body: cat(cts0, au(4, idr))}, mtTrack{id: 1, body: cat(cts0, au(1, idr))}),
			"h264 frame (track 1): nalu length 1381 at offset 0 exceeds the 4 bytes left"}}},
	{"multitrack invalid track keeps every track's header", []step{
		ok(tv, avcOK),
		{tv, mtVideo(keyFrame, manyTracks, ptSequenceStart, "avc1",
			mtTrack{id: 0, body: avcC(2, [][]byte{avcSPS}, [][]byte{avcPPS})}, mtTrack{id: 1, body: avcC(4, [][]byte{avcSPS}, [][]byte{{}})}),
			"avc sequence header (track 1): pps 0 has length 0"},
		ok(tv, key4)}},
	{"multitrack many codecs", []step{
		ok(tv, mtVideo(keyFrame, manyTracksManyCodecs, ptSequenceStart, "",
			mtTrack{fourCC: "avc1", id: 0, body: avcC(4, [][]byte{avcSPS}, [][]byte{avcPPS})}, mtTrack{fourCC: "hvc1", id: 1, body: hvcDefault(2)})),
		ok(tv, mtVideo(keyFrame, manyTracksManyCodecs, ptCodedFrames, "",
			mtTrack{fourCC: "avc1", id: 0, body: cat(cts0, au(4, idr))}, mtTrack{fourCC: "hvc1", id: 1, body: cat(cts0, au(2, hIDR))})),
		{tv, mtVideo(keyFrame, manyTracksManyCodecs, ptSequenceStart, "",
			mtTrack{fourCC: "avc1", id: 0, body: avcC(4, [][]byte{avcSPS}, [][]byte{avcPPS})}, mtTrack{fourCC: "hvc1", id: 1, body: hvcDefault(3)}),
			"hevc sequence header (track 1): decoder config NALU length size 3 invalid (want 1, 2 or 4)"}}},
	{"multitrack second track past the end", []step{
		{tv, cat(mtVideo(keyFrame, manyTracks, ptCodedFrames, "avc1", mtTrack{id: 0, body: cat(cts0, au(4, idr))}), []byte{1, 0, 0, 100, 1, 2, 3}),
			"video tag: track 1 size 100 exceeds the 3 bytes left"}}},

	{"aac valid", []step{ok(ta, aacHeader(ascLC)), ok(ta, aacFrame([]byte{0x21, 0x10})), ok(ta, aacFrame(nil))}},
	{"aac he-aac v2", []step{ok(ta, aacHeader(mustHex("eb09880000")))}},
	{"aac pce channels", []step{ok(ta, aacHeader([]byte{0x12, 0x00}))}},
	{"aac empty config", []step{{ta, aacHeader(nil), "aac sequence header: audio specific config empty"}}},
	{"aac reserved sample rate", []step{{ta, aacHeader([]byte{0x16, 0x90}), "aac sequence header: sampling frequency index 13 reserved"}}},
	{"aac reserved channels", []step{{ta, aacHeader([]byte{0x12, 0x40}), "aac sequence header: channel configuration 8 reserved"}}},
	{"aac object type 0", []step{{ta, aacHeader([]byte{0x02, 0x10}), "aac sequence header: audio object type 0 (null) invalid"}}},
	{"aac truncated", []step{{ta, aacHeader([]byte{0x12}), "aac sequence header: audio specific config truncated at bit 5 of 8"}}},
	{"e-rtmp aac", []step{ok(ta, exAudio(ptSequenceStart, "mp4a", ascLC)), ok(ta, exAudio(ptCodedFrames, "mp4a", []byte{1, 2})),
		{ta, exAudio(ptSequenceStart, "mp4a", []byte{0x12, 0x78}), "aac sequence header: channel configuration 15 reserved"}}},
	{"e-rtmp multitrack aac", []step{
		{ta, multitrack(soundFormatExHeader<<4, ptAudioMultitrack, manyTracks, ptSequenceStart, "mp4a", mtTrack{id: 0, body: ascLC}, mtTrack{id: 1, body: nil}),
			"aac sequence header (track 1): audio specific config empty"}}},
	{"opus is not checked", []step{ok(ta, exAudio(ptSequenceStart, "Opus", []byte("OpusHead"))), ok(ta, []byte{0x2F, 0xFF})}},
}

// highSPS is a High-profile SPS (profile_idc 100), whose record may carry
// the chroma/bit depth extension (§5.3.3.1).
var highSPS = mustHex("6764000bacd943447965c044000003000400000300c83c50a658")

// run feeds steps to v through flv.PacketFromTag, as RTMP ingest does.
func run(t *testing.T, v *Validator, steps []step) {
	t.Helper()
	for i, s := range steps {
		p, err := flv.PacketFromTag(s.tag, uint32(i*40), s.body)
		require.NoError(t, err, "step %d: flv must accept the case's tags", i)
		require.NotNil(t, p, "step %d", i)
		err = v.Check(p)
		if s.err == "" {
			require.NoError(t, err, "step %d", i)
		} else {
			require.EqualError(t, err, s.err, "step %d", i)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { run(t, New(), c.steps) })
	}
}

func TestCheckPacketsNotFromFLV(t *testing.T) {
	v := New()
	require.EqualError(t, v.Check(&av.Packet{Kind: av.KindVideo, Codec: av.CodecH264}), "video tag empty")
	require.EqualError(t, v.Check(&av.Packet{Kind: av.KindAudio, Codec: av.CodecAAC}), "audio tag empty")
	require.NoError(t, v.Check(&av.Packet{Kind: av.KindData}))
	require.EqualError(t, v.Check(&av.Packet{Kind: av.KindVideo, Data: []byte{0x17, 0}}), "h264 video tag: 2 bytes (need at least 5)")
	require.EqualError(t, v.Check(&av.Packet{Kind: av.KindVideo, Data: []byte{0x17, 3, 0, 0, 0}}), "h264 video tag: packet type 3 unknown (want 0, 1 or 2)")
	require.EqualError(t, v.Check(&av.Packet{Kind: av.KindVideo, Data: []byte{0x90, 'h', 'v'}}), "video tag: truncated before the fourcc")
	require.EqualError(t, v.Check(&av.Packet{Kind: av.KindVideo, Data: exVideo(keyFrame, 9, "hvc1", nil)}), "video tag: packet type 9 unknown")
	require.EqualError(t, v.Check(&av.Packet{Kind: av.KindAudio, Data: []byte{0xAF}}), "aac audio tag: 1 byte (need at least 2)")
	require.EqualError(t, v.Check(&av.Packet{Kind: av.KindVideo, Data: exVideo(keyFrame, ptCodedFrames, "hvc1", []byte{0, 0})}),
		"hevc frame: 2 bytes, too short for the composition time")
	require.NoError(t, v.Check(&av.Packet{Kind: av.KindVideo, Data: []byte{0x52, 0}}), "command frame")
	// Legacy codec 12 as is (flv rewrites it to hvc1 before the hub).
	require.EqualError(t, v.Check(&av.Packet{Kind: av.KindVideo, Data: cat([]byte{0x1C, 0, 0, 0, 0}, hvcDefault(3))}),
		"hevc sequence header: decoder config NALU length size 3 invalid (want 1, 2 or 4)")
	require.NoError(t, v.Check(&av.Packet{Kind: av.KindVideo, Data: cat([]byte{0x1C, 0, 0, 0, 0}, hvcDefault(2))}))
	require.NoError(t, v.Check(&av.Packet{Kind: av.KindVideo, Data: cat([]byte{0x1C, 1, 0, 0, 0}, au(2, hIDR))}))
	require.EqualError(t, v.Check(&av.Packet{Kind: av.KindVideo, Data: cat([]byte{0x1C, 1, 0, 0, 0}, au(1, hIDR))}),
		"hevc frame: nalu length 1062 at offset 0 exceeds the 3 bytes left")
}
