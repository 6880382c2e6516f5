package h264

import (
	"testing"

	"github.com/ripplemedia/ripple/pkg/codec/internal/bits"
	"github.com/stretchr/testify/require"
)

// built describes an SPS written field by field by buildSPS, for syntax
// libx264 never emits (scaling lists in the SPS, POC type 1, monochrome,
// explicit SAR, no VUI). Values are chosen by hand; the expectations follow
// from §7.4.2.1.1 and Table 6-1.
type built struct {
	profile      uint8
	chroma       uint32
	scaling      bool // seq_scaling_matrix_present with lists 0 and 6 present
	pocType      uint32
	widthMbs     uint32
	heightMaps   uint32
	frameMbsOnly bool
	crop         [4]uint32 // left, right, top, bottom
	vui          bool
	sar          [2]uint16 // Extended_SAR when non-zero
	timing       [2]uint32 // num_units_in_tick, time_scale
}

func buildSPS(s built) []byte {
	w := bits.NewWriter([]byte{0x67})
	w.Bits(uint32(s.profile), 8)
	w.Bits(0, 8)
	w.Bits(40, 8) // level 4.0
	w.UE(0)       // seq_parameter_set_id
	if highProfile(s.profile) {
		w.UE(s.chroma)
		if s.chroma == 3 {
			w.Flag(false)
		}
		w.UE(0) // bit depths
		w.UE(0)
		w.Flag(false)
		w.Flag(s.scaling)
		if s.scaling {
			n := 8
			if s.chroma == 3 {
				n = 12
			}
			for i := range n {
				present := i == 0 || i == 6
				w.Flag(present)
				if !present {
					continue
				}
				size := 16
				if i >= 6 {
					size = 64
				}
				for j := range size {
					w.SE(int32(j%3) - 1) // a non-flat list
				}
			}
		}
	}
	w.UE(0) // log2_max_frame_num_minus4
	w.UE(s.pocType)
	switch s.pocType {
	case 0:
		w.UE(2)
	case 1:
		w.Flag(false)
		w.SE(-2)
		w.SE(3)
		w.UE(3)
		w.SE(1)
		w.SE(-1)
		w.SE(7)
	}
	w.UE(4) // max_num_ref_frames
	w.Flag(false)
	w.UE(s.widthMbs - 1)
	w.UE(s.heightMaps - 1)
	w.Flag(s.frameMbsOnly)
	if !s.frameMbsOnly {
		w.Flag(true)
	}
	w.Flag(true)
	cropping := s.crop != [4]uint32{}
	w.Flag(cropping)
	if cropping {
		for _, c := range s.crop {
			w.UE(c)
		}
	}
	w.Flag(s.vui)
	if s.vui {
		w.Flag(s.sar != [2]uint16{})
		if s.sar != [2]uint16{} {
			w.Bits(255, 8)
			w.Bits(uint32(s.sar[0]), 16)
			w.Bits(uint32(s.sar[1]), 16)
		}
		w.Flag(false) // overscan
		w.Flag(true)  // video_signal_type
		w.Bits(5, 3)
		w.Flag(false)
		w.Flag(true)
		w.Bits(0x010101, 24)
		w.Flag(true) // chroma_loc
		w.UE(1)
		w.UE(1)
		w.Flag(s.timing != [2]uint32{})
		if s.timing != [2]uint32{} {
			w.Bits(s.timing[0], 32)
			w.Bits(s.timing[1], 32)
			w.Flag(true)
		}
		w.Flag(false) // nal_hrd
	}
	w.Bits(1, 1) // rbsp_stop_one_bit
	// Insert emulation prevention like an encoder would.
	raw := w.Bytes()
	out := []byte{raw[0]}
	zeros := 0
	for _, c := range raw[1:] {
		if zeros >= 2 && c <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

var spsBuiltCases = []struct {
	name          string
	in            built
	width, height int
	fps           float64
	chroma        uint32
	sar           [2]uint16
}{
	{"baseline no vui", built{profile: 66, widthMbs: 120, heightMaps: 68, frameMbsOnly: true, crop: [4]uint32{0, 0, 0, 4}},
		1920, 1080, 0, 1, [2]uint16{}},
	{"high scaling lists poc1", built{profile: 100, chroma: 1, scaling: true, pocType: 1, widthMbs: 80, heightMaps: 45, frameMbsOnly: true,
		vui: true, timing: [2]uint32{1, 120}}, 1280, 720, 60, 1, [2]uint16{}},
	{"high444 scaling 12 lists", built{profile: 244, chroma: 3, scaling: true, widthMbs: 2, heightMaps: 2, frameMbsOnly: true,
		crop: [4]uint32{1, 2, 3, 4}}, 29, 25, 0, 3, [2]uint16{}},
	{"monochrome interlaced crop", built{profile: 100, chroma: 0, pocType: 2, widthMbs: 45, heightMaps: 18, crop: [4]uint32{0, 0, 0, 4},
		vui: true, sar: [2]uint16{64, 45}, timing: [2]uint32{1001, 60000}}, 720, 568, 30000.0 / 1001, 0, [2]uint16{64, 45}},
	{"4:2:2 field crop", built{profile: 122, chroma: 2, widthMbs: 45, heightMaps: 18, crop: [4]uint32{4, 4, 2, 2}},
		704, 568, 0, 2, [2]uint16{}},
}

var spsErrCases = []struct {
	name string
	hex  string
	err  string
}{
	{"short", "6742", "h264: SPS too short (2 bytes, need at least 4)"},
	{"not sps", "68ebe3cb22c0", "h264: NAL unit type 8 is not an SPS (7)"},
	{"truncated", "6764000bacd9", "h264: SPS truncated at bit 40"},
	{"bad chroma", "6764000b9c", "h264: SPS chroma_format_idc 6 out of range [0, 3]"},
	{"bad sps id", "6742c00b0420", "h264: SPS seq_parameter_set_id 32 out of range [0, 31]"},
}

func TestSPSUnmarshal(t *testing.T) {
	for _, c := range configCases {
		t.Run(c.name, func(t *testing.T) {
			var dc DecoderConfig
			require.NoError(t, dc.Unmarshal(unhex(t, c.hex)))
			var s SPS
			require.NoError(t, s.Unmarshal(dc.SPS[0]))
			require.Equal(t, c.profile, s.ProfileIdc)
			require.Equal(t, c.compat, s.ConstraintFlags)
			require.Equal(t, c.level, s.LevelIdc)
			require.Equal(t, c.chroma, s.ChromaFormatIdc)
			require.Equal(t, c.depth, s.BitDepthLuma)
			require.Equal(t, c.progress, s.FrameMbsOnly)
			require.Equal(t, c.width, s.Width())
			require.Equal(t, c.height, s.Height())
			require.InDelta(t, c.fps, s.FrameRate(), 1e-9)
		})
	}
	t.Run("sar 4:3", func(t *testing.T) {
		// ffmpeg -vf setsar=4/3 -c:v libx264: Table E-1 aspect_ratio_idc 14.
		var s SPS
		require.NoError(t, s.Unmarshal(unhex(t, "6764000bacd943447965c384000003000400000300c83c50a658")))
		require.Equal(t, uint8(14), s.AspectRatioIdc)
		require.Equal(t, 200, s.Width())
	})
	for _, c := range spsBuiltCases {
		t.Run(c.name, func(t *testing.T) {
			var s SPS
			require.NoError(t, s.Unmarshal(buildSPS(c.in)))
			require.Equal(t, c.in.profile, s.ProfileIdc)
			require.Equal(t, c.chroma, s.ChromaFormatIdc)
			require.Equal(t, c.width, s.Width())
			require.Equal(t, c.height, s.Height())
			require.InDelta(t, c.fps, s.FrameRate(), 1e-9)
			require.Equal(t, c.sar, [2]uint16{s.SARWidth, s.SARHeight})
		})
	}
	for _, c := range spsErrCases {
		t.Run(c.name, func(t *testing.T) {
			var s SPS
			require.EqualError(t, s.Unmarshal(unhex(t, c.hex)), c.err)
		})
	}
	t.Run("crop exceeds picture", func(t *testing.T) {
		var s SPS
		err := s.Unmarshal(buildSPS(built{profile: 66, widthMbs: 1, heightMaps: 1, frameMbsOnly: true, crop: [4]uint32{4, 4, 0, 0}}))
		require.EqualError(t, err, "h264: SPS frame cropping (left 4, right 4, top 0, bottom 0) leaves a 0x16 picture")
	})
	t.Run("too wide", func(t *testing.T) {
		var s SPS
		err := s.Unmarshal(buildSPS(built{profile: 66, widthMbs: 1025, heightMaps: 1, frameMbsOnly: true}))
		require.EqualError(t, err, "h264: SPS pic_width_in_mbs_minus1 1024 out of range [0, 1023]")
	})
}

func FuzzSPS(f *testing.F) {
	for _, c := range configCases {
		var dc DecoderConfig
		require.NoError(f, dc.Unmarshal(unhex(f, c.hex)))
		f.Add(dc.SPS[0])
	}
	for _, c := range spsBuiltCases {
		f.Add(buildSPS(c.in))
	}
	for _, c := range spsErrCases {
		f.Add(unhex(f, c.hex))
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
		require.GreaterOrEqual(t, s.FrameRate(), 0.0)
	})
}
