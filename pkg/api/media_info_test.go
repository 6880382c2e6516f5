package api

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// hevcHeader is an E-RTMP v2 hvc1 SequenceStart (ex-header 0x90: key frame,
// PacketType 0, FourCC "hvc1") around a 1920x1080 Main level 4 record.
func hevcHeader(t testing.TB) *av.Packet {
	rec, err := hex.DecodeString("01016000000090000000000078f000fcfdf8f800000f03200001001840010c01ffff016000000300900000030000030078959409210001002b420101016000000300900000030000030078a003c0801107cb965654a4c2f0168080000003008000000f0422000100064401c073c189")
	require.NoError(t, err)
	data := append([]byte{0x90, 'h', 'v', 'c', '1'}, rec...)
	return &av.Packet{Kind: av.KindVideo, Codec: av.CodecHEVC, Header: true, Keyframe: true, Data: data}
}

// mediaCases feed TestMediaInfo and the seeds of FuzzMediaInfo.
func mediaCases(t testing.TB) []struct {
	name  string
	st    hub.StreamInfo
	video *Video
	audio *Audio
} {
	g := mediatest.New(mediatest.Config{Width: 1280, Height: 720, FPS: 30})
	return []struct {
		name  string
		st    hub.StreamInfo
		video *Video
		audio *Audio
	}{
		{name: "nothing yet", st: hub.StreamInfo{Key: "a/b"}},
		{
			name: "h264 and aac with metadata",
			st: hub.StreamInfo{Key: "a/b", HasVideo: true, HasAudio: true, VideoCodec: av.CodecH264, AudioCodec: av.CodecAAC,
				VideoHeader: g.VideoHeader(), AudioHeader: g.AudioHeader(), MetaData: g.Metadata()},
			video: &Video{Codec: "h264", Width: 1280, Height: 720, FPS: 30, Profile: "baseline", Level: "4.0"},
			audio: &Audio{Codec: "aac", SampleRate: 44100, Channels: 2},
		},
		{
			name: "h264 header without metadata: no frame rate in the SPS",
			st: hub.StreamInfo{Key: "a/b", HasVideo: true, VideoCodec: av.CodecH264,
				VideoHeader: mediatest.VideoHeader(0, 176, 144)},
			video: &Video{Codec: "h264", Width: 176, Height: 144, Profile: "baseline", Level: "4.0"},
		},
		{
			name: "hevc",
			st: hub.StreamInfo{Key: "a/b", HasVideo: true, VideoCodec: av.CodecHEVC,
				VideoHeader: hevcHeader(t)},
			video: &Video{Codec: "hevc", Width: 1920, Height: 1080, Profile: "main", Level: "4.0"},
		},
		{
			name: "malformed header: codec only",
			st: hub.StreamInfo{Key: "a/b", HasVideo: true, VideoCodec: av.CodecH264,
				VideoHeader: &av.Packet{Kind: av.KindVideo, Codec: av.CodecH264, Header: true, Data: []byte{0x17, 0, 0, 0, 0, 1}}},
			video: &Video{Codec: "h264"},
		},
		{
			name: "metadata only (audio-only mp3)",
			st: hub.StreamInfo{Key: "a/b", HasAudio: true, AudioCodec: av.CodecMP3,
				MetaData: mediatest.New(mediatest.Config{NoVideo: true, Channels: 1}).Metadata()},
			audio: &Audio{Codec: "mp3", SampleRate: 44100, Channels: 1},
		},
	}
}

func TestMediaInfo(t *testing.T) {
	for _, tc := range mediaCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			var m mediaInfo
			v, a := m.describe(&tc.st)
			require.Equal(t, tc.video, v)
			require.Equal(t, tc.audio, a)
			// Cached: same header pointers, same answer, no new entry.
			e := m.streams[tc.st.Key]
			v2, _ := m.describe(&tc.st)
			require.Equal(t, v, v2)
			require.Same(t, e, m.streams[tc.st.Key])
		})
	}
}

func TestMediaInfoReparsesOnNewHeader(t *testing.T) {
	var m mediaInfo
	st := hub.StreamInfo{Key: "a/b", HasVideo: true, VideoCodec: av.CodecH264, VideoHeader: mediatest.VideoHeader(0, 320, 240)}
	v, _ := m.describe(&st)
	require.Equal(t, 320, v.Width)
	st.VideoHeader = mediatest.VideoHeader(0, 640, 480) // the encoder reconnected with a new size
	v, _ = m.describe(&st)
	require.Equal(t, 640, v.Width)
	m.forget(map[string]bool{})
	require.Empty(t, m.streams)
}

// FuzzMediaInfo feeds arbitrary header and metadata bodies: describe must
// never panic and never report absurd sizes.
func FuzzMediaInfo(f *testing.F) {
	for _, tc := range mediaCases(f) {
		var vd, ad, md []byte
		if tc.st.VideoHeader != nil {
			vd = tc.st.VideoHeader.Data
		}
		if tc.st.AudioHeader != nil {
			ad = tc.st.AudioHeader.Data
		}
		if tc.st.MetaData != nil {
			md = tc.st.MetaData.Data
		}
		f.Add(uint8(tc.st.VideoCodec), vd, ad, md)
	}
	f.Fuzz(func(t *testing.T, vc uint8, vd, ad, md []byte) {
		st := hub.StreamInfo{Key: "a/b", HasVideo: true, HasAudio: true,
			VideoCodec: av.Codec(vc % 5), AudioCodec: av.CodecAAC,
			VideoHeader: &av.Packet{Kind: av.KindVideo, Codec: av.Codec(vc % 5), Header: true, Data: vd},
			AudioHeader: &av.Packet{Kind: av.KindAudio, Codec: av.CodecAAC, Header: true, Data: ad},
			MetaData:    &av.Packet{Kind: av.KindData, Data: md},
		}
		var m mediaInfo
		v, a := m.describe(&st)
		require.NotNil(t, v)
		require.NotNil(t, a)
		require.GreaterOrEqual(t, v.FPS, 0.0)
		require.LessOrEqual(t, v.FPS, 1000.0)
		for _, n := range []int{v.Width, v.Height} {
			require.GreaterOrEqual(t, n, 0)
			require.LessOrEqual(t, n, 16384)
		}
		require.GreaterOrEqual(t, a.SampleRate, 0)
		require.GreaterOrEqual(t, a.Channels, 0)
	})
}
