package aac

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppendADTSHeader(t *testing.T) {
	for _, c := range configCases {
		t.Run(c.name, func(t *testing.T) {
			out, err := AppendADTSHeader([]byte{0xAA}, c.want, c.payload)
			if c.adts == "" {
				require.Error(t, err)
				require.Equal(t, []byte{0xAA}, out)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "aa"+c.adts, hex.EncodeToString(out))
		})
	}
	bad := []struct {
		name    string
		c       Config
		payload int
		err     string
	}{
		{"type", Config{ObjectType: 33, SampleRate: 44100, ChannelConfig: 2}, 1, "aac: audio object type 33 cannot be carried in ADTS (want 1-4)"},
		{"rate", Config{ObjectType: 2, SampleRate: 44000, ChannelConfig: 2}, 1, "aac: sampling frequency 44000 has no ADTS index"},
		{"channels", Config{ObjectType: 2, SampleRate: 44100, ChannelConfig: 0}, 1, "aac: channel configuration 0 cannot be carried in ADTS (want 1-7)"},
		{"too big", Config{ObjectType: 2, SampleRate: 44100, ChannelConfig: 2}, MaxADTSPayload + 1, "aac: ADTS payload of 8185 bytes out of range [0, 8184]"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := AppendADTSHeader(nil, c.c, c.payload)
			require.EqualError(t, err, c.err)
		})
	}
	t.Run("max payload", func(t *testing.T) {
		out, err := AppendADTSHeader(nil, configCases[0].want, MaxADTSPayload)
		require.NoError(t, err)
		n := int(out[3]&3)<<11 | int(out[4])<<3 | int(out[5])>>5
		require.Equal(t, 1<<13-1, n)
	})
}

func BenchmarkAppendADTSHeader(b *testing.B) {
	buf := make([]byte, 0, 16)
	c := configCases[0].want
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendADTSHeader(buf[:0], c, 300); err != nil {
			b.Fatal(err)
		}
	}
}
