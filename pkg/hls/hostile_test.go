package hls

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/codec/hevc"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

var variants = []Variant{VariantMPEGTS, VariantFMP4, VariantLowLatency}

// hevcRecord is a libx265 HEVCDecoderConfigurationRecord (main, 202x122;
// the first case of pkg/codec/hevc's tests).
const hevcRecord = "0101600000009000000000003cf000fcfdf8f800000f03200001001840010c01ffff01600000030090000003000003003c959809210001002a42010101600000030090000003000003003ca01a2020724996566924caf0168080000003008000000c8422000100074401c172b46240"

// hevcHeader returns an E-RTMP hvc1 sequence start whose SPS is cut to
// spsLen bytes (0: whole).
func hevcHeader(t testing.TB, ts uint32, spsLen int) *av.Packet {
	t.Helper()
	rec, err := hex.DecodeString(hevcRecord)
	require.NoError(t, err)
	var dc hevc.DecoderConfig
	require.NoError(t, dc.Unmarshal(rec))
	if spsLen > 0 {
		for i, a := range dc.Arrays {
			if a.Type == hevc.NALUSPS {
				dc.Arrays[i].NALUs = [][]byte{a.NALUs[0][:spsLen]}
			}
		}
	}
	rec, err = dc.Marshal()
	require.NoError(t, err)
	body := append([]byte{0x90, 'h', 'v', 'c', '1'}, rec...)
	p, err := flv.PacketFromTag(flv.TagVideo, ts, body)
	require.NoError(t, err)
	require.True(t, p.Header)
	return p
}

// TestCrashInputs replays the publisher inputs that used to panic the
// muxer goroutine (and the process), through the muxer's packet path:
//
//   - an AVC header whose PPS is empty, then keyframes: mediacommon's
//     h264.IsRandomAccess indexed the empty PPS (MPEG-TS);
//   - an audio-only start, then an AVC header whose SPS mediacommon cannot
//     parse, then a keyframe: the init section failed, the old container
//     without video stayed (nil c.v in fmp4Container.video);
//   - a codec switch to an HEVC header with a truncated SPS, then audio:
//     nil c.a in fmp4Container.audio.
func TestCrashInputs(t *testing.T) {
	for _, v := range variants {
		t.Run(v.String()+"/empty pps", func(t *testing.T) {
			f := newMuxFixture(t, v, hub.StreamInfo{HasVideo: true, VideoCodec: av.CodecH264}, nil)
			f.send(avcHeader(t, 0, 4, mediatest.SPS(320, 240), []byte{}))
			gen := mediatest.New(mediatest.Config{NoAudio: true, GOP: 10})
			f.sendGen(gen, 5*time.Second)
			require.Empty(t, f.segments(), "no sample written anywhere")
			require.Equal(t, 1, f.log.count("hls stopped"), f.log.String())
			require.Contains(t, f.log.String(), "not a pps")
			require.Zero(t, f.log.count("hls packet skipped"), "nothing per packet")
			f.checkFiles(t)
		})

		t.Run(v.String()+"/audio then unparsable sps", func(t *testing.T) {
			f := newMuxFixture(t, v, hub.StreamInfo{HasAudio: true, AudioCodec: av.CodecAAC}, nil)
			gen := mediatest.New(mediatest.Config{})
			f.send(gen.AudioHeader())
			for range 200 { // 4.6 s of audio: two segments
				f.send(gen.NextAudio())
			}
			before := len(f.segments())
			require.Equal(t, 2, before)
			f.info = streamAV
			f.send(avcHeader(t, 4700, 4, truncatedSPS(), mediatest.PPS()))
			f.sendGen(gen, 9*time.Second)
			f.checkFiles(t)
			if v == VariantMPEGTS {
				// MPEG-TS carries the SPS in-band and never parses it: the
				// stream goes on with video (a player will judge the SPS).
				require.Zero(t, f.log.count("hls stopped"))
				require.Greater(t, len(f.segments()), before+1)
				return
			}
			require.Equal(t, 1, f.log.count("hls stopped"), f.log.String())
			require.Len(t, f.segments(), before+1, "the segment in progress ends, nothing after it")

			// A usable header resumes: discontinuity, fresh init section.
			f.send(gen.VideoHeader())
			f.sendGen(gen, 15*time.Second)
			f.checkFiles(t)
			require.Equal(t, 1, f.log.count("hls resumed"))
			segs := f.segments()
			require.Greater(t, len(segs), before+2)
			resumed := segs[before+1]
			require.True(t, resumed.disc)
			require.True(t, firstVideoSync(t, mustLookup(t, f.media(), resumed.name)))
			require.NotEqual(t, segs[before].initName, resumed.initName)
			require.Contains(t, f.media().codecs, "avc1.")
			require.Equal(t, 1, strings.Count(f.playlist(), "#EXT-X-DISCONTINUITY\n"))
		})

		t.Run(v.String()+"/codec switch to a truncated hevc sps", func(t *testing.T) {
			f := newMuxFixture(t, v, hub.StreamInfo{HasVideo: true, VideoCodec: av.CodecH264}, nil)
			gen := mediatest.New(mediatest.Config{GOP: 15})
			f.send(gen.VideoHeader())
			for range 150 {
				f.send(gen.NextVideo())
			}
			before := len(f.segments())
			require.Positive(t, before)
			f.info = hub.StreamInfo{HasVideo: true, VideoCodec: av.CodecHEVC, HasAudio: true, AudioCodec: av.CodecAAC}
			f.send(hevcHeader(t, 5000, 6), gen.AudioHeader())
			for i := range 450 { // 15 s of HEVC at 30 fps, and audio
				f.send(hevcFrame(t, uint32(5000+i*33), i%15 == 0), gen.NextAudio())
			}
			f.checkFiles(t)
			if v == VariantMPEGTS {
				require.Zero(t, f.log.count("hls stopped"))
				return
			}
			require.Equal(t, 1, f.log.count("hls stopped"), f.log.String())
			require.Len(t, f.segments(), before+1)
		})
	}
}

// hevcFrame returns an E-RTMP hvc1 coded frame holding one small IDR
// (keyframe) or TRAIL_R slice.
func hevcFrame(t testing.TB, ts uint32, key bool) *av.Packet {
	t.Helper()
	body := []byte{0xA1, 'h', 'v', 'c', '1', 0, 0, 0, 0, 0, 0, 3, 0x02, 0x01, 0xAF}
	if key {
		body[0], body[12] = 0x91, 0x26 // FrameType 1; nal_unit_type 19 (IDR_W_RADL)
	}
	p, err := flv.PacketFromTag(flv.TagVideo, ts, body)
	require.NoError(t, err)
	return p
}

func mustLookup(t *testing.T, md *media, name string) []byte {
	t.Helper()
	fl, ok := md.lookup(name)
	require.True(t, ok, name)
	return fl.data
}

// TestUnusableHeaders: a stream whose every header is unusable keeps
// running (its packets are read and dropped) and its HLS says why once;
// a stream with one usable track goes on with it and says why once.
func TestUnusableHeaders(t *testing.T) {
	t.Run("all unusable", func(t *testing.T) {
		f := newMuxFixture(t, VariantFMP4, streamAV, nil)
		f.send(avcHeader(t, 0, 4, []byte{0x67}, mediatest.PPS()))
		f.send(&av.Packet{Kind: av.KindAudio, Codec: av.CodecAAC, Header: true, Data: []byte{0xAF, 0, 0xFF}})
		f.sendGen(mediatest.New(mediatest.Config{}), 10*time.Second)
		require.Empty(t, f.segments())
		require.Equal(t, 1, f.log.count("hls stopped"), f.log.String())
		require.Zero(t, f.log.count("hls packet skipped"))
		require.Nil(t, f.mx.pending, "nothing buffered")
	})
	t.Run("audio unusable", func(t *testing.T) {
		f := newMuxFixture(t, VariantFMP4, streamAV, nil)
		gen := mediatest.New(mediatest.Config{})
		f.send(gen.VideoHeader())
		f.send(&av.Packet{Kind: av.KindAudio, Codec: av.CodecAAC, Header: true, Data: []byte{0xAF, 0, 0xFF}})
		f.sendGen(gen, 10*time.Second)
		require.NotEmpty(t, f.segments())
		require.Equal(t, 1, f.log.count("hls track unusable"), f.log.String())
		require.Zero(t, f.log.count("hls stopped"))
		require.Regexp(t, `^avc1\.[0-9a-f]{6}$`, f.media().codecs)
		f.checkFiles(t)
	})
}

// TestHeaderFloodBoundsInitSections: a publisher changing its sequence
// header over and over must not pile up init sections.
func TestHeaderFloodBoundsInitSections(t *testing.T) {
	f := newMuxFixture(t, VariantFMP4, streamAV, func(c *Config) { c.SegmentCount, c.SegmentKeep = 3, 1 })
	gen := mediatest.New(mediatest.Config{GOP: 2})
	f.send(gen.AudioHeader(), gen.VideoHeader())
	for i := range 300 {
		w := 160 + 16*(i%2)
		f.send(mediatest.VideoHeader(uint32(i*100), w, 120))
		f.sendGen(gen, time.Duration(i+1)*100*time.Millisecond)
	}
	md := f.media()
	md.mu.Lock()
	inits := 0
	for name := range md.files {
		if strings.Contains(name, "-init") {
			inits++
		}
	}
	segs := len(md.segments)
	md.mu.Unlock()
	require.Equal(t, 4, segs)
	require.LessOrEqual(t, inits, segs+1)
	f.checkFiles(t)
}

// TestParseVideoConfigRejects: parameter sets a writer would index into
// are checked here too, whatever ingest validated.
func TestParseVideoConfigRejects(t *testing.T) {
	sps, pps := mediatest.SPS(320, 240), mediatest.PPS()
	for name, c := range map[string]struct{ sps, pps []byte }{
		"empty sps":  {[]byte{}, pps},
		"short sps":  {sps[:3], pps},
		"not an sps": {append([]byte{0x68}, sps[1:]...), pps},
		"empty pps":  {sps, []byte{}},
		"short pps":  {sps, pps[:1]},
		"not a pps":  {sps, append([]byte{0x67}, pps[1:]...)},
	} {
		rec := flv.VideoPayload(avcHeader(t, 0, 4, c.sps, c.pps))
		_, err := parseVideoConfig(av.CodecH264, rec)
		require.Error(t, err, name)
	}
	_, err := parseVideoConfig(av.CodecH264, flv.VideoPayload(avcHeader(t, 0, 4, sps, pps)))
	require.NoError(t, err)

	rec, err := hex.DecodeString(hevcRecord)
	require.NoError(t, err)
	_, err = parseVideoConfig(av.CodecHEVC, rec)
	require.NoError(t, err)
	for _, typ := range []hevc.NALUType{hevc.NALUVPS, hevc.NALUSPS, hevc.NALUPPS} {
		for _, n := range []int{0, 2} {
			var dc hevc.DecoderConfig
			require.NoError(t, dc.Unmarshal(rec))
			for i, a := range dc.Arrays {
				if a.Type == typ {
					dc.Arrays[i].NALUs = [][]byte{a.NALUs[0][:n]}
				}
			}
			b, err := dc.Marshal()
			require.NoError(t, err)
			_, err = parseVideoConfig(av.CodecHEVC, b)
			require.Error(t, err, "type %d cut to %d bytes", typ, n)
		}
	}
}
