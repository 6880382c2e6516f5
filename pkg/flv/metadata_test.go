package flv

import (
	"testing"

	"github.com/ripplemedia/ripple/pkg/amf0"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/stretchr/testify/require"
)

func TestParseMetaData(t *testing.T) {
	t.Run("ffmpeg", func(t *testing.T) {
		_, _, pkts := readGolden(t, "h264_aac")
		require.True(t, IsMetaData(pkts[0]))
		m, err := ParseMetaData(pkts[0].Data)
		require.NoError(t, err)
		// The encoder settings of mkgolden.py: 160x96@25 H.264, mono 44.1 kHz AAC.
		require.Equal(t, [4]float64{160, 96, 25, 44100}, [4]float64{m.Width, m.Height, m.FrameRate, m.AudioSampleRate})
		require.Equal(t, 1.0, m.AudioChannels) // "stereo": false
		require.Equal(t, av.CodecH264, m.VideoCodec())
		require.Equal(t, av.CodecAAC, m.AudioCodec())
	})
	t.Run("e-rtmp fourcc ids", func(t *testing.T) {
		_, _, pkts := readGolden(t, "hevc_opus_ertmp")
		m, err := ParseMetaData(pkts[0].Data)
		require.NoError(t, err)
		require.Equal(t, float64(1752589105), m.VideoCodecID) // 'hvc1' (E-RTMP v2 example)
		require.Equal(t, av.CodecHEVC, m.VideoCodec())
		require.Equal(t, av.CodecOpus, m.AudioCodec())
		require.Equal(t, "mkgolden.py", m.Encoder)
	})
	t.Run("object and audiochannels", func(t *testing.T) {
		b, err := amf0.Append(nil, "onMetaData", amf0.Object{
			{Key: "width", Value: 1280.0}, {Key: "audiochannels", Value: 6.0}, {Key: "stereo", Value: true},
			{Key: "videocodecid", Value: 12.0}, {Key: "audiocodecid", Value: 2.0},
		})
		require.NoError(t, err)
		m, err := ParseMetaData(b)
		require.NoError(t, err)
		require.Equal(t, MetaData{Width: 1280, AudioChannels: 6, VideoCodecID: 12, AudioCodecID: 2,
			HasVideo: true, HasAudio: true, TracksKnown: true}, m)
		require.Equal(t, av.CodecHEVC, m.VideoCodec())
		require.Equal(t, av.CodecMP3, m.AudioCodec())
	})
	errs := []struct {
		name string
		vals []any
		err  string
	}{
		{"other name", []any{"onTextData", amf0.Object{}}, "flv: script data onTextData is not onMetaData"},
		{"number value", []any{"onMetaData", 1.0}, "flv: onMetaData value is float64, want an ECMA array or object"},
		{"missing value", []any{"onMetaData"}, "flv: onMetaData value: amf0: truncated value"},
	}
	for _, c := range errs {
		t.Run(c.name, func(t *testing.T) {
			b, err := amf0.Append(nil, c.vals...)
			require.NoError(t, err)
			_, err = ParseMetaData(b)
			require.ErrorContains(t, err, c.err)
		})
	}
}

func TestSetMetaDataFlags(t *testing.T) {
	in, err := amf0.Append(nil, "onMetaData", amf0.ECMAArray{
		{Key: "hasVideo", Value: false}, {Key: "width", Value: 640.0}, {Key: "hasAudio", Value: true},
	})
	require.NoError(t, err)
	out, err := SetMetaDataFlags(in, false, true)
	require.NoError(t, err)
	vals, err := amf0.DecodeAll(out)
	require.NoError(t, err)
	require.Equal(t, []any{"onMetaData", amf0.ECMAArray{
		{Key: "width", Value: 640.0}, {Key: "hasAudio", Value: false}, {Key: "hasVideo", Value: true},
	}}, vals)
	p, err := PacketFromTag(TagScript, 0, out)
	require.NoError(t, err)
	require.True(t, IsMetaData(p))

	_, err = SetMetaDataFlags(cat(2, 0, 3, "abc"), true, true)
	require.Error(t, err)
}

func TestTrackMetaData(t *testing.T) {
	meta, err := amf0.Append(nil, "onMetaData", amf0.ECMAArray{
		{Key: "width", Value: 1280.0}, {Key: "height", Value: 720.0}, {Key: "videodatarate", Value: 3000.0},
		{Key: "videoTrackIdInfoMap", Value: amf0.Object{
			{Key: "1", Value: amf0.Object{{Key: "width", Value: 640.0}, {Key: "height", Value: 360.0}, {Key: "videodatarate", Value: 1000.0}}},
			{Key: "2", Value: amf0.ECMAArray{{Key: "width", Value: 320.0}}}, // delta style
			{Key: "4", Value: 5.0}, // not a track object
		}},
		{Key: "audioTrackIdInfoMap", Value: amf0.ECMAArray{{Key: "2", Value: amf0.Object{{Key: "audiodatarate", Value: 64.0}}}}},
		{Key: "audiocodecid", Value: 10.0}, {Key: "encoder", Value: "obs"},
	})
	require.NoError(t, err)
	for _, c := range []struct {
		track uint8
		ok    bool
		want  MetaData
	}{
		{1, true, MetaData{Width: 640, Height: 360, VideoDataRate: 1000, AudioCodecID: 10, Encoder: "obs", HasAudio: true, TracksKnown: true}},
		{2, true, MetaData{Width: 320, Height: 720, VideoDataRate: 3000, AudioCodecID: 10, AudioDataRate: 64, Encoder: "obs", HasAudio: true, TracksKnown: true}},
		{3, false, MetaData{}},
		{4, false, MetaData{}},
	} {
		b, ok, err := TrackMetaData(meta, c.track)
		require.NoError(t, err)
		require.Equal(t, c.ok, ok, "track %d", c.track)
		if !ok {
			require.Nil(t, b)
			continue
		}
		require.True(t, IsMetaData(&av.Packet{Kind: av.KindData, Data: b}))
		got, err := ParseMetaData(b)
		require.NoError(t, err)
		require.Equal(t, c.want, got, "track %d", c.track)
		props, err := metaDataProps(b)
		require.NoError(t, err)
		for _, p := range props {
			require.NotContains(t, []string{"videoTrackIdInfoMap", "audioTrackIdInfoMap"}, p.Key)
		}
	}
	plain, err := amf0.Append(nil, "onMetaData", amf0.ECMAArray{{Key: "width", Value: 1280.0}})
	require.NoError(t, err)
	_, ok, err := TrackMetaData(plain, 1)
	require.NoError(t, err)
	require.False(t, ok, "no per-track properties")
	_, _, err = TrackMetaData(amfMeta[:5], 1)
	require.Error(t, err)
}
