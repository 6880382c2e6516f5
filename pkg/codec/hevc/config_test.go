package hevc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// configCases are HEVCDecoderConfigurationRecords written by ffmpeg 5.1 +
// libx265 3.5 (ffmpeg -f lavfi -i testsrc2=size=WxH:rate=R -c:v libx265
// -x265-params info=0 [opts] -f mp4; the hvcC box payload). The expected
// values are the encoder settings and what ffprobe reports for profile and
// level. They feed the Unmarshal, Marshal and fuzz tests of DecoderConfig
// and SPS.
var configCases = []struct {
	name    string
	hex     string
	profile uint8  // general_profile_idc: 1 Main, 2 Main 10, 4 RExt
	level   uint8  // general_level_idc
	chroma  uint32 // chroma_format_idc
	depth   uint32 // luma bit depth
	width   int
	height  int
}{
	{"main 202x122", "0101600000009000000000003cf000fcfdf8f800000f03200001001840010c01ffff01600000030090000003000003003c959809210001002a42010101600000030090000003000003003ca01a2020724996566924caf0168080000003008000000c8422000100074401c172b46240",
		1, 60, 1, 8, 202, 122},
	{"main 1920x1080", "01016000000090000000000078f000fcfdf8f800000f03200001001840010c01ffff016000000300900000030000030078959409210001002b420101016000000300900000030000030078a003c0801107cb965654a4c2f0168080000003008000000f0422000100064401c073c189",
		1, 120, 1, 8, 1920, 1080},
	{"main10 320x240", "0102200000009000000000003ff000fcfdfafa00000f03200001001840010c01ffff02200000030090000003000003003f959809210001002942010102200000030090000003000003003fa00a080f1365959a4932bc05a02000000300200000064122000100074401c172b46240",
		2, 63, 1, 10, 320, 240},
	{"rext 444 200x120", "0104080000009e08000000003cf000fcfff8f800000f03200001001740010c01ffff0408000003009e0800000300003c95980921000100294201010408000003009e0800000300003c9003240f2cb2b349265780b404000003000400000300642022000100084401c172860c4624",
		4, 60, 3, 8, 200, 120},
	{"rext 422 10-bit 200x120", "0104080000009d08000000003cf000fcfefafa00000f03200001001740010c01ffff0408000003009d0800000300003c95980921000100294201010408000003009d0800000300003cb0192079365959a4932bc05a02000003000200000300321022000100074401c172b46240",
		4, 60, 2, 10, 200, 120},
	{"main 640x360 hrd", "0101600000009000000000003ff000fcfdf8f800000f03200001001840010c01ffff01600000030090000003000003003f959409210001002942010101600000030090000003000003003fa005020171f2e595952930bc05a02000007d20000ea60122000100064401c073c189",
		1, 63, 1, 8, 640, 360},
}

var configErrCases = []struct {
	name string
	hex  string
	err  string
}{
	{"short", "0101", "hevc: decoder config too short (2 bytes, need at least 23)"},
	{"version", "0001600000009000000000003cf000fcfdf8f800000f00", "hevc: decoder config version 0 unsupported (want 1)"},
	{"length size 3", "0101600000009000000000003cf000fcfdf8f800000e00", "hevc: decoder config NALU length size 3 invalid (want 1, 2 or 4)"},
	{"too many arrays", "0101600000009000000000003cf000fcfdf8f800000f11", "hevc: decoder config array count (17) exceeds maximum allowed (16)"},
	{"arrays do not fit", "0101600000009000000000003cf000fcfdf8f800000f02200001", "hevc: decoder config array count 2 does not fit in 3 bytes"},
	{"too many nalus", "0101600000009000000000003cf000fcfdf8f800000f01200041", "hevc: decoder config array 0 NALU count (65) exceeds maximum allowed (64)"},
	{"nalu overrun", "0101600000009000000000003cf000fcfdf8f800000f01200001001840", "hevc: decoder config array 0 NALU 0 length 24 exceeds the 1 bytes left"},
	{"nalus do not fit", "0101600000009000000000003cf000fcfdf8f800000f0120000200", "hevc: decoder config array 0 NALU count 2 does not fit in 1 bytes"},
	{"array header truncated", "0101600000009000000000003cf000fcfdf8f800000f02200001000000", "hevc: decoder config truncated in array 1 header"},
}

func TestDecoderConfigUnmarshal(t *testing.T) {
	for _, c := range configCases {
		t.Run(c.name, func(t *testing.T) {
			var dc DecoderConfig
			require.NoError(t, dc.Unmarshal(unhex(t, c.hex)))
			require.Equal(t, c.profile, dc.GeneralProfileIdc)
			require.Equal(t, c.level, dc.GeneralLevelIdc)
			require.Equal(t, uint8(c.chroma), dc.ChromaFormat)
			require.Equal(t, uint8(c.depth), dc.BitDepthLuma)
			require.Equal(t, 4, dc.LengthSize)
			require.Len(t, dc.Arrays, 3)
			for i, typ := range []NALUType{NALUVPS, NALUSPS, NALUPPS} {
				require.Equal(t, typ, dc.Arrays[i].Type)
				require.Len(t, dc.Arrays[i].NALUs, 1)
				require.Equal(t, typ, TypeOf(dc.Arrays[i].NALUs[0]))
				require.Equal(t, dc.Arrays[i].NALUs[0], dc.First(typ))
			}
			require.Nil(t, dc.First(NALUPrefixSEI))
		})
	}
	for _, c := range configErrCases {
		t.Run(c.name, func(t *testing.T) {
			var dc DecoderConfig
			require.EqualError(t, dc.Unmarshal(unhex(t, c.hex)), c.err)
		})
	}
}

func TestDecoderConfigMarshal(t *testing.T) {
	for _, c := range configCases {
		t.Run(c.name, func(t *testing.T) {
			in := unhex(t, c.hex)
			var dc DecoderConfig
			require.NoError(t, dc.Unmarshal(in))
			out, err := dc.Marshal()
			require.NoError(t, err)
			require.Equal(t, in, out)
		})
	}
	ok := DecoderConfig{LengthSize: 4, BitDepthLuma: 8, BitDepthChroma: 8}
	bad := []struct {
		name string
		mod  func(*DecoderConfig)
		err  string
	}{
		{"length size", func(c *DecoderConfig) { c.LengthSize = 3 }, "hevc: NALU length size 3 invalid (want 1, 2 or 4)"},
		{"depth", func(c *DecoderConfig) { c.BitDepthChroma = 16 }, "hevc: bit depths 8, 16 out of range [8, 15]"},
		{"width", func(c *DecoderConfig) { c.NumTemporalLayers = 8 }, "hevc: decoder config field exceeds its bit width"},
		{"arrays", func(c *DecoderConfig) { c.Arrays = make([]NALUArray, 256) }, "hevc: array count (256) exceeds maximum allowed (255)"},
		{"big nalu", func(c *DecoderConfig) { c.Arrays = []NALUArray{{NALUs: [][]byte{make([]byte, 1<<16)}}} },
			"hevc: NAL unit of 65536 bytes exceeds maximum allowed (65535)"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			dc := ok
			c.mod(&dc)
			_, err := dc.Marshal()
			require.EqualError(t, err, c.err)
		})
	}
}

func FuzzHEVCConfig(f *testing.F) {
	for _, c := range configCases {
		f.Add(unhex(f, c.hex))
	}
	for _, c := range configErrCases {
		f.Add(unhex(f, c.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var dc DecoderConfig
		if dc.Unmarshal(b) != nil {
			return
		}
		out, err := dc.Marshal()
		require.NoError(t, err)
		var again DecoderConfig
		require.NoError(t, again.Unmarshal(out))
		require.Equal(t, dc, again)
		if sps := dc.First(NALUSPS); sps != nil {
			var s SPS
			if s.Unmarshal(sps) == nil {
				require.Positive(t, s.Width())
				require.Positive(t, s.Height())
			}
		}
	})
}
