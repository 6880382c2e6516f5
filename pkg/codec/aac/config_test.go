package aac

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

// configCases feed Unmarshal, Marshal, the ADTS test and the fuzz seeds.
// The "ffmpeg" cases are AAC sequence headers from ffmpeg 5.1's native
// encoder (-f lavfi -i sine=sample_rate=R -ac N -c:a aac -f flv); adts is
// the first header ffmpeg's ADTS muxer wrote for the same stream
// (-c copy -f adts) and payload the size of that first raw frame. The
// others are written by hand from §1.6.2.1 to reach syntax ffmpeg does not
// produce.
var configCases = []struct {
	name    string
	hex     string
	want    Config
	exact   bool   // Marshal reproduces the input bytes
	payload int    // ADTS test: raw frame size
	adts    string // ADTS test: expected header ("" = ADTS not possible)
}{
	{"ffmpeg lc 44100 stereo", "121056e500",
		Config{ObjectType: 2, SampleRate: 44100, ChannelConfig: 2, SyncExtension: true}, true, 338, "fff150802b3ffc"},
	{"ffmpeg lc 48000 mono", "118856e500",
		Config{ObjectType: 2, SampleRate: 48000, ChannelConfig: 1, SyncExtension: true}, true, 212, "fff14c401b7ffc"},
	{"ffmpeg lc 22050 stereo", "139056e500",
		Config{ObjectType: 2, SampleRate: 22050, ChannelConfig: 2, SyncExtension: true}, true, 617, "fff15c804e1ffc"},
	{"ffmpeg lc 8000 mono", "158856e500",
		Config{ObjectType: 2, SampleRate: 8000, ChannelConfig: 1, SyncExtension: true}, true, 601, "fff16c404c1ffc"},
	{"ffmpeg lc 96000 5.1", "103056e500",
		Config{ObjectType: 2, SampleRate: 96000, ChannelConfig: 6, SyncExtension: true}, true, 234, "fff141801e3ffc"},
	{"ffmpeg lc 32000 7.1", "12b856e500",
		Config{ObjectType: 2, SampleRate: 32000, ChannelConfig: 7, SyncExtension: true}, true, 571, "fff155c0485ffc"},
	{"plain lc 44100 stereo", "1210",
		Config{ObjectType: 2, SampleRate: 44100, ChannelConfig: 2}, true, 0, "fff1508000fffc"},
	// 00101 0110 0010 | 0011 00010 | 000: SBR, 24 kHz core, stereo, 48 kHz SBR, LC core.
	{"he-aac hierarchical", "2b118800",
		Config{ObjectType: 2, SampleRate: 24000, ChannelConfig: 2, SBR: true, ExtensionSampleRate: 48000}, true, 100, "fff158800d7ffc"},
	// 11101 0110 0001 | 0011 00010 | 000: HE-AAC v2 (PS), mono core.
	{"he-aac v2 hierarchical", "eb098800",
		Config{ObjectType: 2, SampleRate: 24000, ChannelConfig: 1, SBR: true, PS: true, ExtensionSampleRate: 48000}, true, 10, "fff15840023ffc"},
	// 00010 0110 0010 000 | 01010110111 00101 1 0011 | 10101001000 1: LC + backward-compatible SBR and PS.
	{"he-aac v2 sync extension", "131056e59d4880",
		Config{ObjectType: 2, SampleRate: 24000, ChannelConfig: 2, SBR: true, PS: true, ExtensionSampleRate: 48000, SyncExtension: true}, true, 0, "fff1588000fffc"},
	// 11111 000001 1111 <24 bits 44000> 0010 000: escape object type 33, explicit rate; not a GA type.
	{"escape type explicit rate", "f83e0157c040",
		Config{ObjectType: 33, SampleRate: 44000, ChannelConfig: 2}, true, 0, ""},
	// 00010 1111 <24 bits 44000> 0001 1 1 <14 bits 300> 0: 960 frames, core coder delay.
	{"lc explicit rate 960 delay", "178055f00e0960",
		Config{ObjectType: 2, SampleRate: 44000, ChannelConfig: 1, FrameLengthFlag: true, DependsOnCoreCoder: true, CoreCoderDelay: 300}, true, 0, ""},
	// 00001 0011 0000 000: Main profile, channel configuration 0 (PCE follows, not parsed).
	{"main pce", "0980",
		Config{ObjectType: 1, SampleRate: 48000}, false, 0, ""},
}

var configErrCases = []struct {
	name string
	hex  string
	err  string
}{
	{"empty", "", "aac: audio specific config truncated at bit 0 of 0"},
	{"one byte", "12", "aac: audio specific config truncated at bit 5 of 8"},
	{"null type", "0010", "aac: audio object type 0 (null) invalid"},
	{"reserved rate", "16900000", "aac: sampling frequency index 13 reserved"},
	{"zero explicit rate", "178000000010", "aac: explicit sampling frequency 0 invalid"},
	{"nested sbr", "2b1294", "aac: core audio object type 5 nested in SBR/PS signalling"},
}

func TestConfigUnmarshal(t *testing.T) {
	for _, c := range configCases {
		t.Run(c.name, func(t *testing.T) {
			var got Config
			require.NoError(t, got.Unmarshal(unhex(t, c.hex)))
			require.Equal(t, c.want, got)
		})
	}
	for _, c := range configErrCases {
		t.Run(c.name, func(t *testing.T) {
			var got Config
			require.EqualError(t, got.Unmarshal(unhex(t, c.hex)), c.err)
		})
	}
}

func TestConfigMarshal(t *testing.T) {
	for _, c := range configCases {
		t.Run(c.name, func(t *testing.T) {
			out, err := c.want.Marshal()
			if !c.exact {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.hex, hex.EncodeToString(out))
		})
	}
	bad := []struct {
		name string
		c    Config
		err  string
	}{
		{"zero type", Config{SampleRate: 44100, ChannelConfig: 2}, "aac: audio object type 0 out of range [1, 95]"},
		{"sbr as type", Config{ObjectType: 5, SampleRate: 44100, ChannelConfig: 2}, "aac: audio object type 5 must be expressed with the SBR/PS flags"},
		{"pce", Config{ObjectType: 2, SampleRate: 44100}, "aac: channel configuration 0 out of range [1, 15]"},
		{"ps without sbr", Config{ObjectType: 2, SampleRate: 44100, ChannelConfig: 1, PS: true}, "aac: PS requires SBR"},
		{"rate", Config{ObjectType: 2, SampleRate: 0, ChannelConfig: 1}, "aac: sampling frequency 0 out of range [1, 16777215]"},
		{"delay", Config{ObjectType: 2, SampleRate: 8000, ChannelConfig: 1, CoreCoderDelay: 1 << 14}, "aac: core coder delay 16384 exceeds maximum allowed (16383)"},
		{"sync ext on non-ga", Config{ObjectType: 33, SampleRate: 8000, ChannelConfig: 1, SyncExtension: true}, "aac: sync extension after audio object type 33 with extension flag false not supported"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.c.Marshal()
			require.EqualError(t, err, c.err)
		})
	}
}

func TestConfigHelpers(t *testing.T) {
	cases := []struct {
		ch       uint8
		channels int
	}{{0, 0}, {1, 1}, {2, 2}, {6, 6}, {7, 8}, {8, 0}, {11, 7}, {13, 24}}
	for _, c := range cases {
		require.Equal(t, c.channels, Config{ChannelConfig: c.ch}.ChannelCount(), "config %d", c.ch)
	}
	require.Equal(t, 1024, Config{}.FrameSamples())
	require.Equal(t, 960, Config{FrameLengthFlag: true}.FrameSamples())
}

func FuzzAudioSpecificConfig(f *testing.F) {
	for _, c := range configCases {
		f.Add(unhex(f, c.hex))
	}
	for _, c := range configErrCases {
		f.Add(unhex(f, c.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Config
		if c.Unmarshal(b) != nil {
			return
		}
		require.NotZero(t, c.ObjectType)
		require.Positive(t, c.SampleRate)
		out, err := c.Marshal()
		if err != nil {
			return // channel configuration 0 and other forms Marshal refuses
		}
		var again Config
		require.NoError(t, again.Unmarshal(out))
		require.Equal(t, c, again)
	})
}
