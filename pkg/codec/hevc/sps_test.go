package hevc

import (
	"testing"

	"github.com/ripplemedia/ripple/pkg/codec/internal/bits"
	"github.com/stretchr/testify/require"
)

// buildSPS writes the SPS fields this package reads, with maxSubLayers
// sub-layers whose profile and level flags are all set: libx265 never
// emits sub-layer profile_tier_level entries.
func buildSPS(maxSubLayers int, chroma uint32, w, h uint32, win [4]uint32) []byte {
	bw := bits.NewWriter([]byte{byte(NALUSPS) << 1, 0x01})
	bw.Bits(0, 4)
	bw.Bits(uint32(maxSubLayers-1), 3)
	bw.Flag(true)
	bw.Bits(0x01, 8) // Main
	bw.Bits(0x60000000, 32)
	bw.Bits(0x9000, 16)
	bw.Bits(0, 32)
	bw.Bits(93, 8) // level 3.1
	for range maxSubLayers - 1 {
		bw.Flag(true)
		bw.Flag(true)
	}
	if maxSubLayers > 1 {
		bw.Bits(0, 2*(9-maxSubLayers))
	}
	for range maxSubLayers - 1 {
		bw.Bits(0x01, 8)
		bw.Bits(0xFFFFFFFF, 32) // sub-layer profile data: must be skipped
		bw.Bits(0xFFFF, 16)
		bw.Bits(0xFFFFFFFF, 32)
		bw.Bits(90, 8)
	}
	bw.UE(0)
	bw.UE(chroma)
	if chroma == 3 {
		bw.Flag(false)
	}
	bw.UE(w)
	bw.UE(h)
	bw.Flag(win != [4]uint32{})
	if win != [4]uint32{} {
		for _, o := range win {
			bw.UE(o)
		}
	}
	bw.UE(2)
	bw.UE(2)
	bw.Bits(1, 1)
	return bw.Bytes()
}

var spsBuiltCases = []struct {
	name          string
	sps           []byte
	width, height int
}{
	{"three sub-layers 1080p", buildSPS(3, 1, 1920, 1088, [4]uint32{0, 0, 0, 4}), 1920, 1080},
	{"seven sub-layers 4:2:2", buildSPS(7, 2, 720, 576, [4]uint32{8, 8, 0, 0}), 688, 576},
	{"monochrome", buildSPS(1, 0, 64, 64, [4]uint32{1, 0, 0, 1}), 63, 63},
}

var spsErrCases = []struct {
	name string
	sps  []byte
	err  string
}{
	{"short", []byte{0x42, 0x01}, "hevc: SPS too short (2 bytes, need at least 3)"},
	{"not sps", []byte{0x40, 0x01, 0x0c}, "hevc: NAL unit type 32 is not an SPS (33)"},
	{"truncated", []byte{0x42, 0x01, 0x01, 0x01, 0x60}, "hevc: SPS truncated at bit 16"},
	{"sub-layers 8", []byte{0x42, 0x01, 0x0F, 0x01}, "hevc: SPS sps_max_sub_layers_minus1 7 out of range [0, 6]"},
	{"zero width", buildSPS(1, 1, 0, 64, [4]uint32{}), "hevc: SPS pic_width_in_luma_samples 0 out of range [1, 16384]"},
	{"window too big", buildSPS(1, 1, 64, 64, [4]uint32{16, 16, 0, 0}), "hevc: SPS conformance window (left 16, right 16, top 0, bottom 0) leaves a 0x64 picture"},
}

func TestSPSUnmarshal(t *testing.T) {
	for _, c := range configCases {
		t.Run(c.name, func(t *testing.T) {
			var dc DecoderConfig
			require.NoError(t, dc.Unmarshal(unhex(t, c.hex)))
			var s SPS
			require.NoError(t, s.Unmarshal(dc.First(NALUSPS)))
			require.Equal(t, c.profile, s.GeneralProfileIdc)
			require.Equal(t, c.level, s.GeneralLevelIdc)
			require.Equal(t, c.chroma, s.ChromaFormatIdc)
			require.Equal(t, c.depth, s.BitDepthLuma)
			require.Equal(t, c.width, s.Width())
			require.Equal(t, c.height, s.Height())
			// The record's general fields mirror the SPS (§8.3.3.1.2).
			require.Equal(t, dc.GeneralProfileCompatibilityFlags, s.GeneralProfileCompatibilityFlags)
		})
	}
	for _, c := range spsBuiltCases {
		t.Run(c.name, func(t *testing.T) {
			var s SPS
			require.NoError(t, s.Unmarshal(c.sps))
			require.Equal(t, uint8(93), s.GeneralLevelIdc)
			require.Equal(t, c.width, s.Width())
			require.Equal(t, c.height, s.Height())
			require.Equal(t, uint32(10), s.BitDepthLuma)
		})
	}
	for _, c := range spsErrCases {
		t.Run(c.name, func(t *testing.T) {
			var s SPS
			require.EqualError(t, s.Unmarshal(c.sps), c.err)
		})
	}
}

func FuzzHEVCSPS(f *testing.F) {
	for _, c := range configCases {
		var dc DecoderConfig
		require.NoError(f, dc.Unmarshal(unhex(f, c.hex)))
		f.Add(dc.First(NALUSPS))
	}
	for _, c := range spsBuiltCases {
		f.Add(c.sps)
	}
	for _, c := range spsErrCases {
		f.Add(c.sps)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s SPS
		if s.Unmarshal(b) != nil {
			return
		}
		require.Positive(t, s.Width())
		require.Positive(t, s.Height())
		require.LessOrEqual(t, s.Width(), MaxDimension)
		require.LessOrEqual(t, s.Height(), MaxDimension)
	})
}
