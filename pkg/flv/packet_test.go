package flv

import (
	"errors"
	"testing"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/stretchr/testify/require"
)

// cat concatenates bytes, byte slices and strings into a tag body.
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case int:
			b = append(b, byte(p))
		case byte:
			b = append(b, p)
		case []byte:
			b = append(b, p...)
		case string:
			b = append(b, p...)
		default:
			panic("cat: unsupported part")
		}
	}
	return b
}

var (
	avcRecord  = cat(1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 2, 0x67, 0x64, 1, 0, 1, 0x68)
	hevcRecord = cat(1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 0x5D, 0xF0, 0, 0xFC, 0xFD, 0xF8, 0xF8, 0, 0, 0x0F, 0)
	idrAU      = cat(0, 0, 0, 3, 0x65, 0x88, 0x84)
	craAU      = cat(0, 0, 0, 3, 0x2A, 0x01, 0xAF)
	asc        = cat(0x12, 0x10)
	opusHead   = cat("OpusHead", 1, 2, 0x38, 1, 0x80, 0xBB, 0, 0, 0, 0, 0)
	amfMeta    = cat(2, 0, 10, "onMetaData", 8, 0, 0, 0, 0, 0, 0, 9)
)

// pkt is the expected part of an av.Packet (which must not be copied).
type pkt struct {
	Kind     av.Kind
	Codec    av.Codec
	Keyframe bool
	Header   bool
	CTS      int32
	Data     []byte
}

// packetCases feed TestPacketFromTag, TestPayloads and FuzzPacketFromTag.
// want describes the packet (Data defaults to body); payload is what
// VideoPayload/AudioPayload must return (nil = empty).
var packetCases = []struct {
	name    string
	tagType uint8
	body    []byte
	nilPkt  bool
	err     string
	unsup   bool // err wraps ErrUnsupported
	want    pkt
	payload []byte
}{
	// Legacy video (FLV v10.1 §E.4.3.1).
	{name: "avc sequence header", tagType: TagVideo, body: cat(0x17, 0, 0, 0, 0, avcRecord),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecH264, Header: true}, payload: avcRecord},
	{name: "avc keyframe", tagType: TagVideo, body: cat(0x17, 1, 0, 0, 0x50, idrAU),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecH264, Keyframe: true, CTS: 80}, payload: idrAU},
	{name: "avc inter negative cts", tagType: TagVideo, body: cat(0x27, 1, 0xFF, 0xFF, 0xF6, 0, 0, 0, 1, 0x41),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecH264, CTS: -10}, payload: cat(0, 0, 0, 1, 0x41)},
	{name: "avc max cts", tagType: TagVideo, body: cat(0x27, 1, 0x7F, 0xFF, 0xFF),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecH264, CTS: 1<<23 - 1}},
	{name: "avc end of sequence", tagType: TagVideo, body: cat(0x17, 2, 0, 0, 0),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecH264}},
	{name: "avc header ignores cts", tagType: TagVideo, body: cat(0x17, 0, 0, 0, 9, avcRecord),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecH264, Header: true}, payload: avcRecord},
	{name: "avc command frame", tagType: TagVideo, body: cat(0x57, 0), nilPkt: true},
	{name: "avc too short", tagType: TagVideo, body: cat(0x17, 1, 0), err: "flv: AVC video tag too short (3 bytes, need 5)"},
	{name: "avc packet type 3", tagType: TagVideo, body: cat(0x17, 3, 0, 0, 0), err: "flv: AVC packet type 3 unknown"},
	{name: "h263 inter", tagType: TagVideo, body: cat(0x22, 0xAB),
		want: pkt{Kind: av.KindVideo}, payload: cat(0xAB)},
	{name: "vp6 key", tagType: TagVideo, body: cat(0x14, 0, 0xCD),
		want: pkt{Kind: av.KindVideo, Keyframe: true}, payload: cat(0, 0xCD)},
	{name: "codec 13 unknown", tagType: TagVideo, body: cat(0x1D, 0, 0, 0, 0, 1),
		want: pkt{Kind: av.KindVideo, Keyframe: true}, payload: cat(0, 0, 0, 0, 1)},
	{name: "legacy one byte", tagType: TagVideo, body: cat(0x12),
		want: pkt{Kind: av.KindVideo, Keyframe: true}},

	// Legacy HEVC, codec id 12: rewritten to E-RTMP hvc1.
	{name: "legacy hevc header", tagType: TagVideo, body: cat(0x1C, 0, 0, 0, 0, hevcRecord),
		want:    pkt{Kind: av.KindVideo, Codec: av.CodecHEVC, Header: true, Data: cat(0x90, "hvc1", hevcRecord)},
		payload: hevcRecord},
	{name: "legacy hevc keyframe", tagType: TagVideo, body: cat(0x1C, 1, 0, 0, 0x28, craAU),
		want:    pkt{Kind: av.KindVideo, Codec: av.CodecHEVC, Keyframe: true, CTS: 40, Data: cat(0x91, "hvc1", 0, 0, 0x28, craAU)},
		payload: craAU},
	{name: "legacy hevc inter negative cts", tagType: TagVideo, body: cat(0x2C, 1, 0xFF, 0xFF, 0xD8, 0, 0, 0, 1, 2),
		want:    pkt{Kind: av.KindVideo, Codec: av.CodecHEVC, CTS: -40, Data: cat(0xA1, "hvc1", 0xFF, 0xFF, 0xD8, 0, 0, 0, 1, 2)},
		payload: cat(0, 0, 0, 1, 2)},
	{name: "legacy hevc end", tagType: TagVideo, body: cat(0x1C, 2, 0, 0, 0),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecHEVC, Data: cat(0x92, "hvc1")}},
	{name: "legacy hevc too short", tagType: TagVideo, body: cat(0x1C, 1), err: "flv: HEVC video tag too short (2 bytes, need 5)"},

	// Enhanced video (E-RTMP v2).
	{name: "hvc1 sequence start", tagType: TagVideo, body: cat(0x90, "hvc1", hevcRecord),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecHEVC, Header: true}, payload: hevcRecord},
	{name: "hvc1 coded frames cts", tagType: TagVideo, body: cat(0x91, "hvc1", 0, 0, 0x50, craAU),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecHEVC, Keyframe: true, CTS: 80}, payload: craAU},
	{name: "hvc1 coded frames x", tagType: TagVideo, body: cat(0xA3, "hvc1", 0, 0, 0, 1, 2),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecHEVC}, payload: cat(0, 0, 0, 1, 2)},
	{name: "hvc1 disposable", tagType: TagVideo, body: cat(0xB3, "hvc1", 9),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecHEVC}, payload: cat(9)},
	{name: "hvc1 sequence end", tagType: TagVideo, body: cat(0x92, "hvc1"),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecHEVC}},
	{name: "hvc1 metadata", tagType: TagVideo, body: cat(0x84, "hvc1", 2, 0, 9, "colorInfo", 3, 0, 0, 9),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecHEVC}, payload: cat(2, 0, 9, "colorInfo", 3, 0, 0, 9)},
	{name: "metadata with command frame type", tagType: TagVideo, body: cat(0xD4, "hvc1", 5),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecHEVC}, payload: cat(5)},
	{name: "avc1 coded frames cts", tagType: TagVideo, body: cat(0x91, "avc1", 0xFF, 0xFF, 0xFF, idrAU),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecH264, Keyframe: true, CTS: -1}, payload: idrAU},
	{name: "av01 sequence start", tagType: TagVideo, body: cat(0x90, "av01", 0x81, 0, 0x0C, 0),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecAV1, Header: true}, payload: cat(0x81, 0, 0x0C, 0)},
	{name: "av01 coded frames no cts", tagType: TagVideo, body: cat(0x91, "av01", 0x12, 0, 0x0A, 0x0B),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecAV1, Keyframe: true}, payload: cat(0x12, 0, 0x0A, 0x0B)},
	{name: "av01 mpeg2ts sequence start", tagType: TagVideo, body: cat(0x95, "av01", 0x80, 4),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecAV1, Header: true}, payload: cat(0x80, 4)},
	{name: "vp09 inter", tagType: TagVideo, body: cat(0xA1, "vp09", 0x86),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecVP9}, payload: cat(0x86)},
	{name: "vp08 carried as unknown", tagType: TagVideo, body: cat(0x91, "vp08", 0x10),
		want: pkt{Kind: av.KindVideo, Keyframe: true}, payload: cat(0x10)},
	{name: "vvc1 coded frames cts", tagType: TagVideo, body: cat(0x91, "vvc1", 0, 0, 0x28, 7),
		want: pkt{Kind: av.KindVideo, Keyframe: true, CTS: 40}, payload: cat(7)},
	{name: "enhanced command frame", tagType: TagVideo, body: cat(0xD0, 1), nilPkt: true},
	{name: "enhanced command without byte", tagType: TagVideo, body: cat(0xD1), nilPkt: true},
	{name: "enhanced too short", tagType: TagVideo, body: cat(0x90, "hv"), err: "flv: video tag too short for FourCC (3 bytes)"},
	{name: "enhanced cts truncated", tagType: TagVideo, body: cat(0x91, "hvc1", 0, 0), err: "flv: video tag too short for composition time (7 bytes)"},
	{name: "enhanced unknown fourcc", tagType: TagVideo, body: cat(0x91, "xyz1", 0), err: `flv: unsupported: video FourCC "xyz1"`, unsup: true},
	{name: "enhanced binary fourcc", tagType: TagVideo, body: cat(0x91, 0, 1, 2, 3), err: `flv: unsupported: video FourCC "0x00010203"`, unsup: true},
	{name: "enhanced packet type 8", tagType: TagVideo, body: cat(0x98, "hvc1"), err: "flv: unsupported: video packet type 8", unsup: true},

	// ModEx (E-RTMP v2): skipped, the packet type after it applies.
	{name: "modex nano offset", tagType: TagVideo, body: cat(0x97, 2, 0x07, 0xA1, 0x20, 0x01, "hvc1", 0, 0, 0x28, craAU),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecHEVC, Keyframe: true, CTS: 40}, payload: craAU},
	{name: "modex chained", tagType: TagVideo, body: cat(0x97, 0, 0xAA, 0x07, 1, 1, 2, 0x13, "avc1", idrAU),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecH264, Keyframe: true}, payload: idrAU},
	{name: "modex 16-bit size", tagType: TagVideo, body: cat(0x97, 0xFF, 0, 1, make([]byte, 2), 0x00, "av01"),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecAV1, Header: true}},
	{name: "modex truncated", tagType: TagVideo, body: cat(0x97, 5, 1, 2), err: "flv: video tag too short for 6 bytes of ModEx data (4 bytes)"},
	{name: "modex then command", tagType: TagVideo, body: cat(0xD7, 0, 0, 0x00, 1), nilPkt: true},

	// Multitrack (E-RTMP v2).
	{name: "multitrack one track 0 header", tagType: TagVideo, body: cat(0x96, 0x00, "hvc1", 0, hevcRecord),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecHEVC, Header: true}, payload: hevcRecord},
	{name: "multitrack one track 0 key", tagType: TagVideo, body: cat(0x96, 0x01, "hvc1", 0, 0, 0, 0x28, craAU),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecHEVC, Keyframe: true, CTS: 40}, payload: craAU},
	{name: "multitrack one track 1 no claims", tagType: TagVideo, body: cat(0x96, 0x00, "hvc1", 1, hevcRecord),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecHEVC}, payload: hevcRecord},
	{name: "multitrack many tracks", tagType: TagVideo, body: cat(0x96, 0x13, "av01", 0, 0, 0, 2, 0xA, 0xB, 1, 0, 0, 1, 0xC),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecAV1}, payload: cat(0xA, 0xB)},
	{name: "multitrack many codecs", tagType: TagVideo, body: cat(0x96, 0x21, "avc1", 0, 0, 0, 10, 0, 0, 0x14, idrAU, "hvc1", 1, 0, 0, 4, 0, 0, 0, 1),
		want: pkt{Kind: av.KindVideo, Codec: av.CodecH264, CTS: 20}, payload: idrAU},
	{name: "multitrack size overrun", tagType: TagVideo, body: cat(0x96, 0x13, "av01", 0, 0, 0, 9, 1), err: "flv: video track 0 size 9 exceeds the 1 bytes left"},
	{name: "multitrack nested", tagType: TagVideo, body: cat(0x96, 0x06, "hvc1", 0), err: "flv: video multitrack packet type 6 not allowed inside multitrack"},
	{name: "multitrack type 3", tagType: TagVideo, body: cat(0x96, 0x31, "hvc1", 0), err: "flv: unsupported: video multitrack type 3", unsup: true},
	{name: "multitrack truncated", tagType: TagVideo, body: cat(0x96, 0x01, "hvc1"), err: "flv: video tag too short for track id (6 bytes)"},

	// Legacy audio (FLV v10.1 §E.4.2.1).
	{name: "aac sequence header", tagType: TagAudio, body: cat(0xAF, 0, asc),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecAAC, Header: true}, payload: asc},
	{name: "aac raw", tagType: TagAudio, body: cat(0xAF, 1, 0x21, 0x10),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecAAC}, payload: cat(0x21, 0x10)},
	{name: "aac empty raw", tagType: TagAudio, body: cat(0xAF, 1),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecAAC}},
	{name: "aac too short", tagType: TagAudio, body: cat(0xAF), err: "flv: AAC audio tag too short (1 bytes, need 2)"},
	{name: "aac packet type 2", tagType: TagAudio, body: cat(0xAF, 2, 0), err: "flv: AAC packet type 2 unknown"},
	{name: "mp3", tagType: TagAudio, body: cat(0x2F, 0xFF, 0xFB),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecMP3}, payload: cat(0xFF, 0xFB)},
	{name: "mp3 8k", tagType: TagAudio, body: cat(0xE2, 0xFF),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecMP3}, payload: cat(0xFF)},
	{name: "pcma", tagType: TagAudio, body: cat(0x72, 0xD5),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecG711A}, payload: cat(0xD5)},
	{name: "pcmu", tagType: TagAudio, body: cat(0x82, 0xFF),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecG711U}, payload: cat(0xFF)},
	{name: "speex", tagType: TagAudio, body: cat(0xB2, 1),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecSpeex}, payload: cat(1)},
	{name: "nellymoser 8k", tagType: TagAudio, body: cat(0x52, 1),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecNellymoser}, payload: cat(1)},
	{name: "pcm little endian", tagType: TagAudio, body: cat(0x3F, 0, 0),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecPCM}, payload: cat(0, 0)},
	{name: "adpcm unknown", tagType: TagAudio, body: cat(0x1F, 0),
		want: pkt{Kind: av.KindAudio}, payload: cat(0)},

	// Enhanced audio (E-RTMP v2, SoundFormat 9).
	{name: "opus sequence start", tagType: TagAudio, body: cat(0x90, "Opus", opusHead),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecOpus, Header: true}, payload: opusHead},
	{name: "opus coded frames", tagType: TagAudio, body: cat(0x91, "Opus", 0xFC, 0xFF),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecOpus}, payload: cat(0xFC, 0xFF)},
	{name: "flac", tagType: TagAudio, body: cat(0x90, "fLaC", "fLaC"),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecFLAC, Header: true}, payload: cat("fLaC")},
	{name: "mp4a sequence start", tagType: TagAudio, body: cat(0x90, "mp4a", asc),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecAAC, Header: true}, payload: asc},
	{name: "ac-3", tagType: TagAudio, body: cat(0x91, "ac-3", 0x0B, 0x77),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecAC3}, payload: cat(0x0B, 0x77)},
	{name: "ec-3", tagType: TagAudio, body: cat(0x91, "ec-3", 0x0B, 0x77),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecEAC3}, payload: cat(0x0B, 0x77)},
	{name: ".mp3", tagType: TagAudio, body: cat(0x91, ".mp3", 0xFF),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecMP3}, payload: cat(0xFF)},
	{name: "audio sequence end", tagType: TagAudio, body: cat(0x92, "Opus"),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecOpus}},
	{name: "multichannel config not a header", tagType: TagAudio, body: cat(0x94, "Opus", 1, 2, 0, 0, 0, 3),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecOpus}, payload: cat(1, 2, 0, 0, 0, 3)},
	{name: "audio modex", tagType: TagAudio, body: cat(0x97, 2, 0, 0, 1, 0x01, "Opus", 0xFC),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecOpus}, payload: cat(0xFC)},
	{name: "audio multitrack track 0 header", tagType: TagAudio, body: cat(0x95, 0x00, "Opus", 0, opusHead),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecOpus, Header: true}, payload: opusHead},
	{name: "audio multitrack track 2", tagType: TagAudio, body: cat(0x95, 0x00, "mp4a", 2, asc),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecAAC}, payload: asc},
	{name: "audio multitrack many codecs", tagType: TagAudio, body: cat(0x95, 0x21, "ac-3", 0, 0, 0, 1, 0xAA, "Opus", 1, 0, 0, 1, 0xBB),
		want: pkt{Kind: av.KindAudio, Codec: av.CodecAC3}, payload: cat(0xAA)},
	{name: "audio unknown fourcc", tagType: TagAudio, body: cat(0x91, "vorb", 0), err: `flv: unsupported: audio FourCC "vorb"`, unsup: true},
	{name: "audio packet type 3", tagType: TagAudio, body: cat(0x93, "Opus"), err: "flv: unsupported: audio packet type 3", unsup: true},
	{name: "audio ex too short", tagType: TagAudio, body: cat(0x91, "Op"), err: "flv: audio tag too short for FourCC (3 bytes)"},

	// Zero-length media: E-RTMP "silence", dropped.
	{name: "empty video", tagType: TagVideo, body: []byte{}, nilPkt: true},
	{name: "empty audio", tagType: TagAudio, body: nil, nilPkt: true},

	// Script data.
	{name: "onMetaData", tagType: TagScript, body: amfMeta, want: pkt{Kind: av.KindData}},
	{name: "setDataFrame stripped", tagType: TagScript, body: cat(2, 0, 13, "@setDataFrame", amfMeta),
		want: pkt{Kind: av.KindData, Data: amfMeta}},
	{name: "onTextData", tagType: TagScript, body: cat(2, 0, 10, "onTextData", 3, 0, 0, 9), want: pkt{Kind: av.KindData}},
	{name: "script empty", tagType: TagScript, body: nil, err: "flv: script data empty"},
	{name: "script not a string", tagType: TagScript, body: cat(0, 0, 0, 0, 0, 0, 0, 0, 0), err: "flv: script data does not start with an AMF0 string (marker 0x00)"},
	{name: "script name truncated", tagType: TagScript, body: cat(2, 0, 10, "onMeta"), err: "flv: script data name length 10 exceeds the 6 bytes left"},
	{name: "script short", tagType: TagScript, body: cat(2, 0), err: "flv: script data name truncated (2 bytes)"},
	{name: "setDataFrame then number", tagType: TagScript, body: cat(2, 0, 13, "@setDataFrame", 0, 0, 0, 0, 0, 0, 0, 0, 0),
		err: "flv: script data after @setDataFrame does not start with an AMF0 string (marker 0x00)"},
	{name: "setDataFrame alone", tagType: TagScript, body: cat(2, 0, 13, "@setDataFrame"), err: "flv: script data after @setDataFrame empty"},

	{name: "unknown tag type", tagType: 15, body: cat(1), err: "flv: tag type 15 unknown (want 8, 9 or 18)"},
}

func TestPacketFromTag(t *testing.T) {
	for _, c := range packetCases {
		t.Run(c.name, func(t *testing.T) {
			p, err := PacketFromTag(c.tagType, 0x01020304, c.body)
			if c.err != "" {
				require.EqualError(t, err, c.err)
				require.Equal(t, c.unsup, errors.Is(err, ErrUnsupported))
				require.Nil(t, p)
				return
			}
			require.NoError(t, err)
			if c.nilPkt {
				require.Nil(t, p)
				return
			}
			require.NotNil(t, p)
			want := c.want
			if want.Data == nil {
				want.Data = c.body
			}
			require.Equal(t, want.Kind, p.Kind)
			require.Equal(t, want.Codec, p.Codec, "codec %s", p.Codec)
			require.Equal(t, want.Keyframe, p.Keyframe, "keyframe")
			require.Equal(t, want.Header, p.Header, "header")
			require.Equal(t, int64(0x01020304), p.DTS)
			require.Equal(t, want.CTS, p.CTS, "cts")
			require.Equal(t, want.Data, p.Data)
			if !(p.Kind == av.KindVideo && c.body[0]&0x8F == 0x0C) && p.Kind != av.KindData { //nolint:staticcheck // reads as "not legacy HEVC"
				// Retained, not copied (only legacy HEVC is rewritten).
				require.Same(t, &c.body[0], &p.Data[0])
			}
		})
	}
}

func TestPayloads(t *testing.T) {
	for _, c := range packetCases {
		if c.err != "" || c.nilPkt {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			p, err := PacketFromTag(c.tagType, 0, c.body)
			require.NoError(t, err)
			var got []byte
			switch p.Kind {
			case av.KindVideo:
				got = VideoPayload(p)
				require.Nil(t, AudioPayload(p))
			case av.KindAudio:
				got = AudioPayload(p)
				require.Nil(t, VideoPayload(p))
			default:
				require.Nil(t, VideoPayload(p))
				require.Nil(t, AudioPayload(p))
			}
			if len(c.payload) == 0 {
				require.Empty(t, got)
			} else {
				require.Equal(t, c.payload, got)
			}
		})
	}
}

func TestClassifiers(t *testing.T) {
	for _, c := range packetCases {
		if c.err != "" || c.nilPkt {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			p, err := PacketFromTag(c.tagType, 0, c.body)
			require.NoError(t, err)
			meta := p.Kind == av.KindVideo && p.Data[0]&0x8F == 0x84
			require.Equal(t, meta, IsVideoMetadata(p))
			multi := len(p.Data) > 0 && p.Data[0]&0x80 != 0 &&
				(p.Kind == av.KindVideo && p.Data[0]&0x0F == 6 || p.Kind == av.KindAudio && p.Data[0] == 0x95)
			require.Equal(t, multi, IsMultitrack(p))
			require.Equal(t, p.Kind == av.KindData && c.name != "onTextData", IsMetaData(p))
		})
	}
}

func TestTagTypeOf(t *testing.T) {
	require.Equal(t, TagAudio, TagTypeOf(av.KindAudio))
	require.Equal(t, TagVideo, TagTypeOf(av.KindVideo))
	require.Equal(t, TagScript, TagTypeOf(av.KindData))
	require.Zero(t, TagTypeOf(av.Kind(0)))
}

func TestSetDataFrame(t *testing.T) {
	withSDF := AppendSetDataFrame(nil, amfMeta)
	require.Equal(t, cat(2, 0, 13, "@setDataFrame", amfMeta), withSDF)
	stripped, ok := StripSetDataFrame(withSDF)
	require.True(t, ok)
	require.Equal(t, amfMeta, stripped)
	same, ok := StripSetDataFrame(amfMeta)
	require.False(t, ok)
	require.Equal(t, amfMeta, same)
}

func FuzzPacketFromTag(f *testing.F) {
	for _, c := range packetCases {
		f.Add(c.tagType, c.body)
	}
	f.Fuzz(func(t *testing.T, tagType uint8, body []byte) {
		p, err := PacketFromTag(tagType, 1000, body)
		if err != nil || p == nil {
			require.Nil(t, p)
			return
		}
		require.False(t, p.Header && p.Keyframe, "header packets are never keyframes")
		require.Equal(t, tagType, TagTypeOf(p.Kind))
		require.Equal(t, int64(1000), p.DTS)
		// Payload helpers never panic and stay inside Data.
		if pl := VideoPayload(p); pl != nil {
			require.LessOrEqual(t, len(pl), len(p.Data))
		}
		if pl := AudioPayload(p); pl != nil {
			require.LessOrEqual(t, len(pl), len(p.Data))
		}
		IsVideoMetadata(p)
		IsMultitrack(p)
		// A rewritten (legacy HEVC) body must parse again as the same packet.
		if p.Kind == av.KindVideo {
			again, err := PacketFromTag(TagVideo, 1000, p.Data)
			require.NoError(t, err)
			require.NotNil(t, again)
			require.Equal(t, p.Codec, again.Codec)
			require.Equal(t, p.Keyframe, again.Keyframe)
			require.Equal(t, p.Header, again.Header)
			require.Equal(t, p.CTS, again.CTS)
			require.Equal(t, p.Data, again.Data)
		}
	})
}

func TestIsSequenceEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
		want bool
	}{
		{"avc end of sequence", []byte{0x17, 2, 0, 0, 0}, true},
		{"avc end of sequence with trailing bytes", []byte{0x37, 2, 0x30, 0x30, 0x30, 0x30}, true},
		{"avc frame", []byte{0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41}, false},
		{"avc header", []byte{0x17, 0, 0, 0, 0, 1, 66, 0, 30, 0xFF, 0xE0, 0}, false},
		{"ertmp sequence end", []byte{0x92, 'h', 'v', 'c', '1'}, true},
		{"ertmp coded frames", []byte{0x91, 'h', 'v', 'c', '1', 0, 0, 0}, false},
		{"vp6 frame", []byte{0x24, 0, 1, 2}, false},
	} {
		p := &av.Packet{Kind: av.KindVideo, Data: tc.body}
		require.Equal(t, tc.want, IsSequenceEnd(p), tc.name)
	}
	require.False(t, IsSequenceEnd(&av.Packet{Kind: av.KindAudio, Data: []byte{0xAF, 2}}))
}
