package h264

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// configCases are AVCDecoderConfigurationRecords produced by ffmpeg 5.1 +
// libx264 (ffmpeg -f lavfi -i testsrc2=size=WxH:rate=R -c:v libx264 [opts]
// -f flv), taken from the FLV sequence header. The expected values are the
// encoder settings (size, rate, pix_fmt) and what ffprobe reports for
// profile and level. They feed the Unmarshal, Marshal and fuzz tests of both
// DecoderConfig and SPS.
var configCases = []struct {
	name     string
	hex      string
	profile  uint8
	compat   uint8
	level    uint8
	hasExt   bool
	chroma   uint32 // SPS chroma_format_idc
	depth    uint32 // SPS luma bit depth
	width    int
	height   int
	fps      float64
	progress bool // frame_mbs_only
}{
	{"baseline 200x120@25", "0142c00bffe100196742c00bd903447965c044000003000400000300c83c50a92001000568cb83cb20",
		66, 0xC0, 11, false, 1, 8, 200, 120, 25, true},
	{"main 320x240@30", "014d400dffe10018674d400deca0a0fd8088000003000800000301e078a14cb001000568ebe3cb20",
		77, 0x40, 13, false, 1, 8, 320, 240, 30, true},
	{"high 200x120@25", "0164000bffe1001a6764000bacd943447965c044000003000400000300c83c50a65801000668ebe3cb22c0fdf8f800",
		100, 0, 11, true, 1, 8, 200, 120, 25, true},
	{"high444 202x122@25", "01f4000bffe1001967f4000b919b28688f3cf808800000030080000019078a14cb01000668ebe3c44844fff8f800",
		244, 0, 11, true, 3, 8, 202, 122, 25, true},
	{"high422 200x120@50", "017a000cffe1001a677a000cbcd9434479627011000003000100000300640f14299601000668ebe3cb22c0fef8f800",
		122, 0, 12, true, 2, 8, 200, 120, 50, true},
	{"high10 200x120@25", "016e000bffe1001a676e000ba6cd943447965c0440000003004000000c83c50a658001000668ebe3cb22c0fdfafa00",
		110, 0, 11, true, 1, 10, 200, 120, 25, true},
	{"interlaced 200x120@25", "01640015ffe1001967640015acd94348f2de0220000003002000000643e28532c001000668fba3cb22c0fdf8f800",
		100, 0, 21, true, 1, 8, 200, 120, 25, false},
	{"scaling matrix in pps", "0164000bffe1001a6764000bacd943447965c044000003000400000300c83c50a65801001a68ebe3cb38404620488e20488c442008508021210043080212c0fdf8f800",
		100, 0, 11, true, 1, 8, 200, 120, 25, true},
	{"high 640x360@29.97", "0164001effe100196764001eacd940a02ff9701100000303e90000ea600f162d9601000668ebe3cb22c0fdf8f800",
		100, 0, 30, true, 1, 8, 640, 360, 30000.0 / 1001, true},
}

var configErrCases = []struct {
	name string
	hex  string
	err  string
}{
	{"empty", "", "h264: decoder config too short (0 bytes, need at least 7)"},
	{"version", "0264000bffe100", "h264: decoder config version 2 unsupported (want 1)"},
	{"length size 3", "0164000bfee100", "h264: decoder config NALU length size 3 invalid (want 1, 2 or 4)"},
	{"sps overrun", "0164000bffe1001a6764", "h264: decoder config SPS 0 length 26 exceeds the 2 bytes left"},
	{"sps count", "0164000bffe30001670001", "h264: decoder config SPS count 3 does not fit in 5 bytes"},
	{"no pps count", "0164000bffe100026764", "h264: decoder config truncated before the PPS count"},
	{"too many pps", "0164000bffe0ff",
		"h264: decoder config PPS count (255) exceeds maximum allowed (64)"},
	{"ext overrun", "0164000bffe10002676401000168fdf8f8010009", "h264: decoder config SPS extension 0 length 9 exceeds the 0 bytes left"},
	{"ext truncated", "0164000bffe10002676401000168fdf8f8020001aa00", "h264: decoder config truncated in SPS extension 1 length"},
}

func TestDecoderConfigUnmarshal(t *testing.T) {
	for _, c := range configCases {
		t.Run(c.name, func(t *testing.T) {
			var dc DecoderConfig
			require.NoError(t, dc.Unmarshal(unhex(t, c.hex)))
			require.Equal(t, c.profile, dc.ProfileIndication)
			require.Equal(t, c.compat, dc.ProfileCompatibility)
			require.Equal(t, c.level, dc.LevelIndication)
			require.Equal(t, 4, dc.LengthSize)
			require.Len(t, dc.SPS, 1)
			require.Len(t, dc.PPS, 1)
			require.Equal(t, NALUSPS, TypeOf(dc.SPS[0]))
			require.Equal(t, NALUPPS, TypeOf(dc.PPS[0]))
			// The record repeats the SPS profile bytes (§5.3.3.1).
			require.Equal(t, dc.SPS[0][1:4], []byte{dc.ProfileIndication, dc.ProfileCompatibility, dc.LevelIndication})
			require.Equal(t, c.hasExt, dc.HasExt)
			if dc.HasExt {
				require.Equal(t, uint8(c.chroma), dc.ChromaFormat)
				require.Equal(t, uint8(c.depth), dc.BitDepthLuma)
			}
		})
	}
	for _, c := range configErrCases {
		t.Run(c.name, func(t *testing.T) {
			var dc DecoderConfig
			require.EqualError(t, dc.Unmarshal(unhex(t, c.hex)), c.err)
		})
	}
	t.Run("aliases input", func(t *testing.T) {
		b := unhex(t, configCases[0].hex)
		var dc DecoderConfig
		require.NoError(t, dc.Unmarshal(b))
		b[9] ^= 0xFF
		require.Equal(t, b[8:9+len(dc.SPS[0])-1], dc.SPS[0])
	})
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
	bad := []struct {
		name string
		dc   DecoderConfig
		err  string
	}{
		{"length size", DecoderConfig{LengthSize: 3}, "h264: NALU length size 3 invalid (want 1, 2 or 4)"},
		{"too many sps", DecoderConfig{LengthSize: 4, SPS: make([][]byte, 32)}, "h264: SPS count (32) exceeds maximum allowed (31)"},
		{"ext depth", DecoderConfig{LengthSize: 4, HasExt: true, BitDepthLuma: 7, BitDepthChroma: 8}, "h264: extension chroma format 0 / bit depths 7, 8 out of range"},
		{"big set", DecoderConfig{LengthSize: 4, PPS: [][]byte{make([]byte, 70000)}}, "h264: parameter set of 70000 bytes exceeds maximum allowed (65535)"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.dc.Marshal()
			require.EqualError(t, err, c.err)
		})
	}
}

func FuzzAVCConfig(f *testing.F) {
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
	})
}
