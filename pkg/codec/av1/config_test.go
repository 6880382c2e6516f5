package av1

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// configCases are AV1CodecConfigurationRecords: the av1C box payloads that
// ffmpeg 5.1's MP4 muxer writes for libaom 3.6 (-usage realtime), SVT-AV1
// 1.4 and rav1e 0.6 encoding testsrc2 at 128x72 (yuv420p unless noted),
// plus the bare 4-byte record some encoders send without configOBUs. They
// feed the Unmarshal, Marshal and fuzz tests.
var configCases = []struct {
	name    string
	hex     string
	profile uint8
	level   uint8
	hbd     bool
	obus    int // configOBUs
}{
	{"libaom", "81000c000a0a0000000337f8e6d7c802", 0, 0, false, 1},
	{"libaom 10-bit", "81004c000a0a0000000337f8e6d7ca02", 0, 0, true, 1},
	{"svt-av1", "81000c000a0a0000000337f8e017c002", 0, 0, false, 1},
	{"rav1e", "811f0c000a0d000000f99bfc71085440808085", 0, 31, false, 1},
	{"no config obus", "81000c00", 0, 0, false, 0},
	{"sequence header and metadata", "81000c000a0a0000000337f8e6d7c8022a03010203", 0, 0, false, 2},
	{"delay present", "81082c1a", 0, 8, false, 0},
}

var configErrCases = []struct {
	name string
	hex  string
	err  string
}{
	{"empty", "", "av1: decoder config too short (0 bytes, need at least 4)"},
	{"short", "81000c", "av1: decoder config too short (3 bytes, need at least 4)"},
	{"no marker", "01000c00", "av1: decoder config marker bit is 0 (byte 0x01)"},
	{"version 2", "82000c00", "av1: decoder config version 2 unsupported (want 1)"},
	{"no size field", "81000c0008000000", "av1: decoder config obu 0 (type 1) lacks a size field"},
	{"size overrun", "81000c000a0a00", "av1: decoder config obu 0 at offset 0: obu size 10 exceeds the 1 bytes left"},
	{"size truncated", "81000c000a80", "av1: decoder config obu 0 at offset 0: obu size: leb128 truncated after 1 bytes"},
	{"size too long", "81000c000affffffffffffffff01", "av1: decoder config obu 0 at offset 0: obu size: leb128 longer than 8 bytes"},
	{"size too big", "81000c000affffffff7f", "av1: decoder config obu 0 at offset 0: obu size: leb128 value 34359738367 exceeds maximum allowed (4294967295)"},
	{"forbidden bit", "81000c008a00", "av1: decoder config obu 0 at offset 0: obu header 0x8a has the forbidden bit set"},
	{"extension missing", "81000c000e", "av1: decoder config obu 0 at offset 0: obu extension header missing"},
	{"second sequence header", "81000c000a000a00", "av1: decoder config obu 1 is a sequence header (allowed only first)"},
	{"metadata then sequence header", "81000c002a000a00", "av1: decoder config obu 1 is a sequence header (allowed only first)"},
}

func TestDecoderConfigUnmarshal(t *testing.T) {
	for _, c := range configCases {
		t.Run(c.name, func(t *testing.T) {
			b := unhex(t, c.hex)
			var dc DecoderConfig
			require.NoError(t, dc.Unmarshal(b))
			require.Equal(t, c.profile, dc.SeqProfile)
			require.Equal(t, c.level, dc.SeqLevelIdx0)
			require.Equal(t, c.hbd, dc.HighBitdepth)
			require.True(t, dc.ChromaSubsamplingX)
			require.True(t, dc.ChromaSubsamplingY)
			require.Equal(t, b[4:], dc.ConfigOBUs)
			n := 0
			for off := 0; off < len(dc.ConfigOBUs); n++ {
				var o OBU
				require.NoError(t, o.Unmarshal(dc.ConfigOBUs[off:]))
				if n == 0 {
					require.Equal(t, OBUSequenceHeader, o.Type)
				}
				off += o.Len
			}
			require.Equal(t, c.obus, n)
		})
	}
	for _, c := range configErrCases {
		t.Run(c.name, func(t *testing.T) {
			var dc DecoderConfig
			require.EqualError(t, dc.Unmarshal(unhex(t, c.hex)), c.err)
		})
	}
	t.Run("delay", func(t *testing.T) {
		var dc DecoderConfig
		require.NoError(t, dc.Unmarshal(unhex(t, "81082c1a")))
		require.True(t, dc.InitialPresentationDelayPresent)
		require.Equal(t, uint8(10), dc.InitialPresentationDelayMinusOne)
		require.Equal(t, uint8(0), dc.ChromaSamplePosition)
		require.True(t, dc.TwelveBit)
	})
	t.Run("does not allocate", func(t *testing.T) {
		b := unhex(t, configCases[0].hex)
		var dc DecoderConfig
		require.Zero(t, testing.AllocsPerRun(100, func() { _ = dc.Unmarshal(b) }))
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
	_, err := DecoderConfig{SeqLevelIdx0: 32}.Marshal()
	require.EqualError(t, err, "av1: decoder config field exceeds its bit width (profile 0, level 32, chroma position 0, delay 0)")
}

func FuzzAV1Config(f *testing.F) {
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
