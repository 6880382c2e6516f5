package flv

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
)

// tpkt is an expected packet of SplitTracks: its track and what pkt holds
// (Data never defaults here: every case names the bytes).
type tpkt struct {
	Track uint8
	pkt
}

// size24 is a track size field.
func size24(n int) []byte { return []byte{byte(n >> 16), byte(n >> 8), byte(n)} }

// sized is a ManyTracks track: id, size, body.
func sized(id byte, body ...any) []byte {
	b := cat(body...)
	return cat(id, size24(len(b)), b)
}

var (
	avcKey    = cat(0x17, 1, 0, 0, 0x14, idrAU)      // legacy AVC keyframe, CTS 20
	avcKey1   = cat(0x17, 1, 0, 0, 0x28, idrAU)      // the same with CTS 40
	avcHeader = cat(0x17, 0, 0, 0, 0, avcRecord)     // legacy AVC sequence header
	aacFrame  = cat(0xAF, 1, 0x21, 0x10, 0x04, 0x60) // legacy AAC raw frame
	aacHeader = cat(0xAF, 0, asc)
)

// many17 is a ManyTracks av01 message of 17 one-byte tracks; many16 the
// same with 16.
func manyAV1(n int) []byte {
	b := cat(0x96, 0x13, "av01")
	for i := range n {
		b = append(b, sized(byte(i), byte(i))...)
	}
	return b
}

// splitCases feed TestSplitTracks, TestSplitTracksRoundTrip and the seeds
// of FuzzSplitTracks.
var splitCases = []struct {
	name    string
	tagType uint8
	body    []byte
	want    []tpkt
	err     string
	unsup   bool
}{
	// Bodies without tracks: PacketFromTag's packet, body retained.
	{name: "legacy avc keyframe", tagType: TagVideo, body: avcKey,
		want: []tpkt{{0, pkt{Kind: av.KindVideo, Codec: av.CodecH264, Keyframe: true, CTS: 20, Data: avcKey}}}},
	{name: "hvc1 single track", tagType: TagVideo, body: cat(0x90, "hvc1", hevcRecord),
		want: []tpkt{{0, pkt{Kind: av.KindVideo, Codec: av.CodecHEVC, Header: true, Data: cat(0x90, "hvc1", hevcRecord)}}}},
	{name: "legacy aac", tagType: TagAudio, body: aacFrame,
		want: []tpkt{{0, pkt{Kind: av.KindAudio, Codec: av.CodecAAC, Data: aacFrame}}}},
	{name: "script data", tagType: TagScript, body: amfMeta,
		want: []tpkt{{0, pkt{Kind: av.KindData, Data: amfMeta}}}},
	{name: "empty video", tagType: TagVideo, body: nil},
	{name: "command frame", tagType: TagVideo, body: cat(0xD6, 0x01, "avc1", 1, 0, 0, 0, idrAU)},
	{name: "single track error unchanged", tagType: TagVideo, body: cat(0x17, 1, 0), err: "flv: AVC video tag too short (3 bytes, need 5)"},

	// OneTrack.
	{name: "one track 0 unchanged", tagType: TagVideo, body: cat(0x96, 0x00, "hvc1", 0, hevcRecord),
		want: []tpkt{{0, pkt{Kind: av.KindVideo, Codec: av.CodecHEVC, Header: true, Data: cat(0x96, 0x00, "hvc1", 0, hevcRecord)}}}},
	{name: "one track 0 audio unchanged", tagType: TagAudio, body: cat(0x95, 0x00, "Opus", 0, opusHead),
		want: []tpkt{{0, pkt{Kind: av.KindAudio, Codec: av.CodecOpus, Header: true, Data: cat(0x95, 0x00, "Opus", 0, opusHead)}}}},
	{name: "one track avc1 header to legacy", tagType: TagVideo, body: cat(0x96, 0x00, "avc1", 1, avcRecord),
		want: []tpkt{{1, pkt{Kind: av.KindVideo, Codec: av.CodecH264, Header: true, Data: avcHeader}}}},
	{name: "one track avc1 frame to legacy", tagType: TagVideo, body: cat(0x96, 0x01, "avc1", 2, 0, 0, 0x14, idrAU),
		want: []tpkt{{2, pkt{Kind: av.KindVideo, Codec: av.CodecH264, Keyframe: true, CTS: 20, Data: avcKey}}}},
	{name: "one track avc1 frame x to legacy", tagType: TagVideo, body: cat(0xA6, 0x03, "avc1", 3, idrAU),
		want: []tpkt{{3, pkt{Kind: av.KindVideo, Codec: av.CodecH264, Data: cat(0x27, 1, 0, 0, 0, idrAU)}}}},
	{name: "one track avc1 end to legacy", tagType: TagVideo, body: cat(0x96, 0x02, "avc1", 1),
		want: []tpkt{{1, pkt{Kind: av.KindVideo, Codec: av.CodecH264, Data: cat(0x17, 2, 0, 0, 0)}}}},
	{name: "one track hvc1 frame", tagType: TagVideo, body: cat(0xA6, 0x01, "hvc1", 255, 0xFF, 0xFF, 0xD8, craAU),
		want: []tpkt{{255, pkt{Kind: av.KindVideo, Codec: av.CodecHEVC, CTS: -40, Data: cat(0xA1, "hvc1", 0xFF, 0xFF, 0xD8, craAU)}}}},
	{name: "one track avc1 metadata stays enhanced", tagType: TagVideo, body: cat(0x96, 0x04, "avc1", 1, 2, 0, 1, "c"),
		want: []tpkt{{1, pkt{Kind: av.KindVideo, Codec: av.CodecH264, Data: cat(0x94, "avc1", 2, 0, 1, "c")}}}},
	{name: "one track aac header to legacy", tagType: TagAudio, body: cat(0x95, 0x00, "mp4a", 1, asc),
		want: []tpkt{{1, pkt{Kind: av.KindAudio, Codec: av.CodecAAC, Header: true, Data: aacHeader}}}},
	{name: "one track aac end stays enhanced", tagType: TagAudio, body: cat(0x95, 0x02, "mp4a", 1),
		want: []tpkt{{1, pkt{Kind: av.KindAudio, Codec: av.CodecAAC, Data: cat(0x92, "mp4a")}}}},
	{name: "modex before multitrack dropped", tagType: TagVideo, body: cat(0x97, 0, 0xAB, 0x06, 0x01, "avc1", 1, 0, 0, 0x14, idrAU),
		want: []tpkt{{1, pkt{Kind: av.KindVideo, Codec: av.CodecH264, Keyframe: true, CTS: 20, Data: avcKey}}}},

	// ManyTracks.
	{name: "many tracks avc1", tagType: TagVideo,
		body: cat(0x96, 0x01|0x10, "avc1", sized(0, 0, 0, 0x14, idrAU), sized(1, 0, 0, 0x28, idrAU), sized(2, 0, 0, 0x14, idrAU)),
		want: []tpkt{
			{0, pkt{Kind: av.KindVideo, Codec: av.CodecH264, Keyframe: true, CTS: 20, Data: avcKey}},
			{1, pkt{Kind: av.KindVideo, Codec: av.CodecH264, Keyframe: true, CTS: 40, Data: avcKey1}},
			{2, pkt{Kind: av.KindVideo, Codec: av.CodecH264, Keyframe: true, CTS: 20, Data: avcKey}},
		}},
	{name: "many tracks av01 frames x", tagType: TagVideo, body: cat(0x96, 0x13, "av01", sized(0, 0xA, 0xB), sized(1, 0xC)),
		want: []tpkt{
			{0, pkt{Kind: av.KindVideo, Codec: av.CodecAV1, Keyframe: true, Data: cat(0x93, "av01", 0xA, 0xB)}},
			{1, pkt{Kind: av.KindVideo, Codec: av.CodecAV1, Keyframe: true, Data: cat(0x93, "av01", 0xC)}},
		}},
	{name: "many tracks aac", tagType: TagAudio, body: cat(0x95, 0x11, "mp4a", sized(0, 0x21, 0x10), sized(4, 0x21, 0x11)),
		want: []tpkt{
			{0, pkt{Kind: av.KindAudio, Codec: av.CodecAAC, Data: cat(0xAF, 1, 0x21, 0x10)}},
			{4, pkt{Kind: av.KindAudio, Codec: av.CodecAAC, Data: cat(0xAF, 1, 0x21, 0x11)}},
		}},
	{name: "many tracks of one", tagType: TagVideo, body: cat(0x96, 0x10, "avc1", sized(0, avcRecord)),
		want: []tpkt{{0, pkt{Kind: av.KindVideo, Codec: av.CodecH264, Header: true, Data: avcHeader}}}},
	{name: "zero-size tracks carry nothing", tagType: TagVideo, body: cat(0xA6, 0x13, "av01", sized(0, 0xA), sized(1), sized(2, 0xC)),
		want: []tpkt{
			{0, pkt{Kind: av.KindVideo, Codec: av.CodecAV1, Data: cat(0xA3, "av01", 0xA)}},
			{2, pkt{Kind: av.KindVideo, Codec: av.CodecAV1, Data: cat(0xA3, "av01", 0xC)}},
		}},
	{name: "zero-size sequence ends", tagType: TagVideo, body: cat(0x96, 0x12, "avc1", sized(0), sized(1)),
		want: []tpkt{
			{0, pkt{Kind: av.KindVideo, Codec: av.CodecH264, Data: cat(0x17, 2, 0, 0, 0)}},
			{1, pkt{Kind: av.KindVideo, Codec: av.CodecH264, Data: cat(0x17, 2, 0, 0, 0)}},
		}},
	{name: "all tracks empty", tagType: TagAudio, body: cat(0x95, 0x11, "Opus", sized(1), sized(2))},
	{name: "sixteen tracks", tagType: TagVideo, body: manyAV1(16), want: func() []tpkt {
		var w []tpkt
		for i := range 16 {
			w = append(w, tpkt{uint8(i), pkt{Kind: av.KindVideo, Codec: av.CodecAV1, Keyframe: true, Data: cat(0x93, "av01", i)}})
		}
		return w
	}()},

	// ManyTracksManyCodecs.
	{name: "many codecs", tagType: TagVideo,
		body: cat(0x96, 0x21, "avc1", sized(0, 0, 0, 0x14, idrAU), "hvc1", sized(1, 0, 0, 0x28, craAU), "av01", sized(2, 0x12, 0)),
		want: []tpkt{
			{0, pkt{Kind: av.KindVideo, Codec: av.CodecH264, Keyframe: true, CTS: 20, Data: avcKey}},
			{1, pkt{Kind: av.KindVideo, Codec: av.CodecHEVC, Keyframe: true, CTS: 40, Data: cat(0x91, "hvc1", 0, 0, 0x28, craAU)}},
			{2, pkt{Kind: av.KindVideo, Codec: av.CodecAV1, Keyframe: true, Data: cat(0x91, "av01", 0x12, 0)}},
		}},
	{name: "audio many codecs", tagType: TagAudio, body: cat(0x95, 0x21, "ac-3", sized(0, 0xAA), "Opus", sized(1, 0xBB), "mp4a", sized(2, 0xCC)),
		want: []tpkt{
			{0, pkt{Kind: av.KindAudio, Codec: av.CodecAC3, Data: cat(0x91, "ac-3", 0xAA)}},
			{1, pkt{Kind: av.KindAudio, Codec: av.CodecOpus, Data: cat(0x91, "Opus", 0xBB)}},
			{2, pkt{Kind: av.KindAudio, Codec: av.CodecAAC, Data: cat(0xAF, 1, 0xCC)}},
		}},
	{name: "many codecs header", tagType: TagVideo, body: cat(0x96, 0x20, "avc1", sized(1, avcRecord), "hvc1", sized(2, hevcRecord)),
		want: []tpkt{
			{1, pkt{Kind: av.KindVideo, Codec: av.CodecH264, Header: true, Data: avcHeader}},
			{2, pkt{Kind: av.KindVideo, Codec: av.CodecHEVC, Header: true, Data: cat(0x90, "hvc1", hevcRecord)}},
		}},

	// Refused messages: nothing is published.
	{name: "too many tracks", tagType: TagVideo, body: manyAV1(17), err: "flv: video message carries more than 16 tracks"},
	{name: "track twice", tagType: TagVideo, body: cat(0x96, 0x13, "av01", sized(1, 0xA), sized(1, 0xB)),
		err: "flv: video message carries track 1 twice"},
	{name: "size past the end", tagType: TagVideo, body: cat(0x96, 0x13, "av01", 0, 0, 0, 9, 1),
		err: "flv: video track 0 size 9 exceeds the 1 bytes left"},
	{name: "second size past the end", tagType: TagAudio, body: cat(0x95, 0x11, "Opus", sized(0, 1), 1, 0xFF, 0xFF, 0xFF, 2),
		err: "flv: audio track 1 size 16777215 exceeds the 1 bytes left"},
	{name: "truncated size", tagType: TagVideo, body: cat(0x96, 0x11, "avc1", 0, 0, 0), err: "flv: video tag too short for track size (9 bytes)"},
	{name: "truncated after a track", tagType: TagVideo, body: cat(0x96, 0x13, "av01", sized(0, 1), 1),
		err: "flv: video tag too short for track size (12 bytes)"},
	{name: "no tracks", tagType: TagVideo, body: cat(0x96, 0x11, "avc1"), err: "flv: video tag too short for track id (6 bytes)"},
	{name: "no multitrack type", tagType: TagAudio, body: cat(0x95), err: "flv: audio tag too short for multitrack type (1 bytes)"},
	{name: "truncated fourcc", tagType: TagVideo, body: cat(0x96, 0x11, "av"), err: "flv: video tag too short for multitrack FourCC (4 bytes)"},
	{name: "truncated many codecs fourcc", tagType: TagVideo, body: cat(0x96, 0x21, "avc1", sized(0, 0, 0, 0, 1), "hv"),
		err: "flv: video tag too short for the FourCC of track 1 (16 bytes)"},
	{name: "cts truncated in a track", tagType: TagVideo, body: cat(0x96, 0x21, "av01", sized(0, 1), "avc1", sized(1, 0, 0)),
		err: "flv: video track 1 too short for composition time (2 bytes)"},
	{name: "unknown fourcc in a track", tagType: TagVideo, body: cat(0x96, 0x21, "av01", sized(0, 1), "xyz1", sized(1, 1)),
		err: `flv: unsupported: video FourCC "xyz1"`, unsup: true},
	{name: "audio fourcc in video", tagType: TagVideo, body: cat(0x96, 0x11, "Opus", sized(0, 1)),
		err: `flv: unsupported: video FourCC "Opus"`, unsup: true},
	{name: "unknown audio packet type", tagType: TagAudio, body: cat(0x95, 0x03, "Opus", 1, 1), err: "flv: unsupported: audio packet type 3", unsup: true},
	{name: "unknown video packet type", tagType: TagVideo, body: cat(0x96, 0x18, "av01", sized(1, 1)), err: "flv: unsupported: video packet type 8", unsup: true},
	{name: "multitrack type 3", tagType: TagVideo, body: cat(0x96, 0x31, "hvc1", 0), err: "flv: unsupported: video multitrack type 3", unsup: true},
	{name: "nested multitrack", tagType: TagVideo, body: cat(0x96, 0x06, "hvc1", 0), err: "flv: video multitrack packet type 6 not allowed inside multitrack"},
	{name: "modex inside multitrack", tagType: TagAudio, body: cat(0x95, 0x07, "Opus", 0), err: "flv: audio multitrack packet type 7 not allowed inside multitrack"},
	{name: "modex truncated", tagType: TagVideo, body: cat(0x97, 5, 1), err: "flv: video tag too short for 6 bytes of ModEx data (3 bytes)"},
}

func TestSplitTracks(t *testing.T) {
	sentinel := &av.Packet{}
	for _, c := range splitCases {
		t.Run(c.name, func(t *testing.T) {
			dst := []*av.Packet{sentinel}
			got, err := SplitTracks(dst, c.tagType, 1234, c.body)
			if c.err != "" {
				require.EqualError(t, err, c.err)
				require.Equal(t, c.unsup, errors.Is(err, ErrUnsupported))
				require.Equal(t, dst, got)
				return
			}
			require.NoError(t, err)
			require.Same(t, sentinel, got[0])
			got = got[1:]
			require.Len(t, got, len(c.want))
			for i, w := range c.want {
				p := got[i]
				require.Equal(t, w, tpkt{p.Track, pkt{p.Kind, p.Codec, p.Keyframe, p.Header, p.CTS, p.Data}}, "packet %d", i)
				require.Equal(t, int64(1234), p.DTS)
				if len(c.want) == 1 && w.Track == 0 && c.body[0]&0x0F != 6 && c.body[0] != 0x95 {
					require.Same(t, &c.body[0], &p.Data[0], "a body without tracks is retained")
				}
			}
		})
	}
}

// TestSplitTracksOwnBuffers: every split track has a buffer of its own, so
// the message's buffer is not retained by a packet of another stream.
func TestSplitTracksOwnBuffers(t *testing.T) {
	body := cat(0x96, 0x11, "avc1", sized(0, 0, 0, 0x14, idrAU), sized(1, 0, 0, 0x28, idrAU))
	pkts, err := SplitTracks(nil, TagVideo, 0, body)
	require.NoError(t, err)
	require.Len(t, pkts, 2)
	for i := range body {
		body[i] = 0xEE
	}
	require.Equal(t, avcKey, pkts[0].Data)
	require.Equal(t, avcKey1, pkts[1].Data)
	require.Equal(t, len(pkts[0].Data), cap(pkts[0].Data), "exact-size buffer")
}

// TestSplitTracksRoundTrip: AppendMultitrack of the packets a multitrack
// message split into splits back into the same packets.
func TestSplitTracksRoundTrip(t *testing.T) {
	for _, c := range splitCases {
		if c.err != "" || len(c.want) == 0 || len(c.want) == 1 && c.want[0].Track == 0 {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			pkts, err := SplitTracks(nil, c.tagType, 7, c.body)
			require.NoError(t, err)
			body, err := AppendMultitrack(nil, pkts...)
			require.NoError(t, err)
			again, err := SplitTracks(nil, c.tagType, 7, body)
			require.NoError(t, err)
			require.Len(t, again, len(pkts))
			for i := range pkts {
				require.Equal(t, pkts[i].Track, again[i].Track)
				require.Equal(t, pkts[i].Data, again[i].Data)
				require.Equal(t, pkts[i].Header, again[i].Header)
				require.Equal(t, pkts[i].Keyframe, again[i].Keyframe)
			}
		})
	}
}

func TestAppendMultitrack(t *testing.T) {
	track := func(id uint8, kind av.Kind, data []byte) *av.Packet {
		return &av.Packet{Kind: kind, Track: id, Data: data}
	}
	hvcKey := cat(0x91, "hvc1", 0, 0, 0x28, craAU)
	for _, c := range []struct {
		name string
		pkts []*av.Packet
		want []byte
		err  string
	}{
		{name: "one track legacy avc", pkts: []*av.Packet{track(1, av.KindVideo, avcKey)},
			want: cat(0x96, 0x01, "avc1", 1, 0, 0, 0x14, idrAU)},
		{name: "one track legacy header", pkts: []*av.Packet{track(2, av.KindVideo, avcHeader)},
			want: cat(0x96, 0x00, "avc1", 2, avcRecord)},
		{name: "one track hvc1 frames x", pkts: []*av.Packet{track(1, av.KindVideo, cat(0xA3, "hvc1", craAU))},
			want: cat(0xA6, 0x03, "hvc1", 1, craAU)},
		{name: "one track av01 frames x", pkts: []*av.Packet{track(1, av.KindVideo, cat(0xA3, "av01", 1))},
			want: cat(0xA6, 0x03, "av01", 1, 1)},
		{name: "frames x with frames", pkts: []*av.Packet{
			track(1, av.KindVideo, cat(0xA3, "av01", 1)), track(2, av.KindVideo, cat(0xA3, "hvc1", craAU)), track(3, av.KindVideo, cat(0x27, 1, 0, 0, 1, 2))},
			want: cat(0xA6, 0x21, "av01", sized(1, 1), "hvc1", sized(2, 0, 0, 0, craAU), "avc1", sized(3, 0, 0, 1, 2))},
		{name: "modex dropped", pkts: []*av.Packet{track(1, av.KindVideo, cat(0x97, 0, 0xAB, 0x01, "av01", 1))},
			want: cat(0x96, 0x01, "av01", 1, 1)},
		{name: "legacy hevc", pkts: []*av.Packet{track(1, av.KindVideo, cat(0x1C, 1, 0, 0, 0x28, craAU))},
			want: cat(0x96, 0x01, "hvc1", 1, 0, 0, 0x28, craAU)},
		{name: "many tracks", pkts: []*av.Packet{track(0, av.KindVideo, avcKey), track(1, av.KindVideo, avcKey1)},
			want: cat(0x96, 0x11, "avc1", sized(0, 0, 0, 0x14, idrAU), sized(1, 0, 0, 0x28, idrAU))},
		{name: "many codecs", pkts: []*av.Packet{track(0, av.KindVideo, avcKey), track(3, av.KindVideo, hvcKey)},
			want: cat(0x96, 0x21, "avc1", sized(0, 0, 0, 0x14, idrAU), "hvc1", sized(3, 0, 0, 0x28, craAU))},
		{name: "audio aac and mp3", pkts: []*av.Packet{track(1, av.KindAudio, aacFrame), track(2, av.KindAudio, cat(0x2F, 0xFF, 0xFB))},
			want: cat(0x95, 0x21, "mp4a", sized(1, 0x21, 0x10, 0x04, 0x60), ".mp3", sized(2, 0xFF, 0xFB))},
		{name: "audio opus header", pkts: []*av.Packet{track(1, av.KindAudio, cat(0x90, "Opus", opusHead))},
			want: cat(0x95, 0x00, "Opus", 1, opusHead)},

		{name: "no packets", err: "flv: a multitrack message carries 1 to 16 tracks, not 0"},
		{name: "mixed kinds", pkts: []*av.Packet{track(1, av.KindVideo, avcKey), track(2, av.KindAudio, aacFrame)},
			err: "flv: a multitrack message carries one kind, not video and audio"},
		{name: "mixed packet types", pkts: []*av.Packet{track(1, av.KindVideo, avcKey), track(2, av.KindVideo, avcHeader)},
			err: "flv: the tracks of a multitrack message share their packet and frame type"},
		{name: "mixed frame types", pkts: []*av.Packet{track(1, av.KindVideo, avcKey), track(2, av.KindVideo, cat(0x27, 1, 0, 0, 0, 1))},
			err: "flv: the tracks of a multitrack message share their packet and frame type"},
		{name: "track twice", pkts: []*av.Packet{track(1, av.KindVideo, avcKey), track(1, av.KindVideo, avcKey1)},
			err: "flv: a multitrack message carries track 1 twice"},
		{name: "h263 has no fourcc", pkts: []*av.Packet{track(1, av.KindVideo, cat(0x22, 1))},
			err: "flv: video codec id 2 has no FourCC"},
		{name: "pcm has no fourcc", pkts: []*av.Packet{track(1, av.KindAudio, cat(0x3F, 1))},
			err: "flv: sound format 3 has no FourCC"},
		{name: "already multitrack", pkts: []*av.Packet{track(1, av.KindVideo, cat(0x96, 0x01, "avc1", 1, 0, 0, 0, 1))},
			err: "flv: video packet type 6 is not a track"},
		{name: "command frame", pkts: []*av.Packet{track(1, av.KindVideo, cat(0x57, 0, 0, 0, 0))},
			err: "flv: legacy video packet is not a sequence header, frame or end of sequence"},
		{name: "empty", pkts: []*av.Packet{track(1, av.KindVideo, nil)}, err: "flv: video packet is empty"},
		{name: "script data", pkts: []*av.Packet{track(1, av.KindData, amfMeta)}, err: "flv: data packet cannot be a track"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := AppendMultitrack([]byte("x"), c.pkts...)
			if c.err != "" {
				require.EqualError(t, err, c.err)
				require.Equal(t, []byte("x"), got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, cat("x", c.want), got)
		})
	}
	var tooMany []*av.Packet
	for i := range MaxTracks + 1 {
		tooMany = append(tooMany, track(uint8(i), av.KindVideo, avcKey))
	}
	_, err := AppendMultitrack(nil, tooMany...)
	require.EqualError(t, err, "flv: a multitrack message carries 1 to 16 tracks, not 17")
	_, err = AppendMultitrack(nil, tooMany[:MaxTracks]...)
	require.NoError(t, err)
}

func TestTrackKey(t *testing.T) {
	require.Equal(t, "live/cam", TrackKey("live/cam", 0))
	require.Equal(t, "live/cam_t1", TrackKey("live/cam", 1))
	require.Equal(t, "a/b/cam_t255", TrackKey("a/b/cam", 255))
}

func FuzzSplitTracks(f *testing.F) {
	for _, c := range splitCases {
		f.Add(c.tagType, c.body)
	}
	for _, c := range packetCases {
		f.Add(c.tagType, c.body)
	}
	f.Fuzz(func(t *testing.T, tagType uint8, body []byte) {
		pkts, err := SplitTracks(nil, tagType, 1000, body)
		if err != nil {
			require.Empty(t, pkts)
			return
		}
		require.LessOrEqual(t, len(pkts), MaxTracks)
		var seen [256]bool
		for _, p := range pkts {
			require.False(t, seen[p.Track], "track %d twice", p.Track)
			seen[p.Track] = true
			require.Equal(t, int64(1000), p.DTS)
			require.False(t, p.Header && p.Keyframe)
			// Every packet is what PacketFromTag makes of its own body.
			again, err := PacketFromTag(tagType, 1000, p.Data)
			require.NoError(t, err)
			require.NotNil(t, again)
			require.Equal(t, p.Kind, again.Kind)
			require.Equal(t, p.Codec, again.Codec)
			require.Equal(t, p.Keyframe, again.Keyframe)
			require.Equal(t, p.Header, again.Header)
			require.Equal(t, p.CTS, again.CTS)
			// A split track is single-track: it does not split again.
			if p.Track != 0 || len(pkts) > 1 {
				require.False(t, IsMultitrack(p))
			}
		}
		// A message that split re-encodes and splits into the same
		// frames (CodedFramesX may come back as CodedFrames with a zero
		// composition time when it shared a message with CodedFrames).
		if len(pkts) > 1 || len(pkts) == 1 && pkts[0].Track != 0 {
			b, err := AppendMultitrack(nil, pkts...)
			require.NoError(t, err)
			again, err := SplitTracks(nil, tagType, 1000, b)
			require.NoError(t, err)
			require.Len(t, again, len(pkts))
			for i, p := range pkts {
				q := again[i]
				require.Equal(t, tpkt{p.Track, pkt{p.Kind, p.Codec, p.Keyframe, p.Header, p.CTS, nil}},
					tpkt{q.Track, pkt{q.Kind, q.Codec, q.Keyframe, q.Header, q.CTS, nil}})
				require.Equal(t, VideoPayload(p), VideoPayload(q))
				require.Equal(t, AudioPayload(p), AudioPayload(q))
			}
		}
	})
}

// TestSplitTracksAllocs: a body without tracks costs what PacketFromTag
// costs (the packet); a split costs the packet and the one copy of its
// bytes per track, nothing per message.
func TestSplitTracksAllocs(t *testing.T) {
	dst := make([]*av.Packet, 0, MaxTracks)
	single := cat(0x91, "hvc1", 0, 0, 0, craAU)
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() {
		_, _ = SplitTracks(dst, TagVideo, 0, single)
	}))
	three := cat(0x96, 0x11, "avc1", sized(0, 0, 0, 0x14, idrAU), sized(1, 0, 0, 0x28, idrAU), sized(2, 0, 0, 0, idrAU))
	require.Equal(t, 6.0, testing.AllocsPerRun(100, func() {
		_, _ = SplitTracks(dst, TagVideo, 0, three)
	}))
}
