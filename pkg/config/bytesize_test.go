package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// byteSizeCases feed TestParseByteSize and FuzzParseByteSize.
var byteSizeCases = []struct {
	in   string
	want ByteSize
	err  string
}{
	{in: "0", want: 0},
	{in: "4096", want: 4096},
	{in: " 8388608 ", want: 8 * MiB},
	{in: "8MiB", want: 8 * MiB},
	{in: "8 MiB", want: 8 * MiB},
	{in: "8mib", want: 8 * MiB},
	{in: "512KiB", want: 512 * KiB},
	{in: "1GiB", want: GiB},
	{in: "16B", want: 16},
	{in: "2.5MB", want: 2_500_000},
	{in: "1.5KiB", want: 1536},
	{in: "2.50kb", want: 2500},
	{in: "3.0GB", want: 3 * GB},
	{in: "9223372036854775807", want: 1<<63 - 1},
	{in: "", err: `invalid size "": want a non-negative number of bytes, optionally with a unit such as MiB`},
	{in: "-1", err: `invalid size "-1": want a non-negative number of bytes`},
	{in: "+1", err: `invalid size "+1": want a non-negative number of bytes`},
	{in: "MiB", err: `invalid size "MiB": want a non-negative number of bytes`},
	{in: "8XB", err: `invalid size "8XB": unknown unit "XB" (use B, KiB, MiB, GiB, KB, MB, GB)`},
	{in: "8 M iB", err: `invalid size "8 M iB": unknown unit "iB"`},
	{in: "1.", err: `invalid size "1.": want a non-negative number of bytes`},
	{in: ".5KB", err: `invalid size ".5KB": want a non-negative number of bytes`},
	{in: "1.1B", err: `invalid size "1.1B": not a whole number of bytes`},
	{in: "0.3KiB", err: `invalid size "0.3KiB": not a whole number of bytes`},
	{in: "1.0000000001GB", err: `invalid size "1.0000000001GB": more than 9 fractional digits`},
	{in: "9223372036854775808", err: `invalid size "9223372036854775808": too large`},
	{in: "9000000000GiB", err: `invalid size "9000000000GiB": too large`},
	{in: "8589934591.5GiB", want: 1<<63 - 1<<29},
	{in: "9223372036.9GB", err: `invalid size "9223372036.9GB": too large`},
}

func TestParseByteSize(t *testing.T) {
	for _, tc := range byteSizeCases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseByteSize(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestByteSizeString(t *testing.T) {
	for _, tc := range []struct {
		in   ByteSize
		want string
	}{
		{0, "0"}, {1, "1"}, {8 * MiB, "8MiB"}, {1536, "1536"}, {3 * GiB, "3GiB"}, {2_500_000, "2500000"}, {1000, "1000"},
	} {
		require.Equal(t, tc.want, tc.in.String())
		back, err := ParseByteSize(tc.in.String())
		require.NoError(t, err)
		require.Equal(t, tc.in, back)
	}
}

func FuzzParseByteSize(f *testing.F) {
	for _, tc := range byteSizeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseByteSize(s)
		if err != nil {
			return
		}
		if b < 0 {
			t.Fatalf("ParseByteSize(%q) = %d, negative", s, b)
		}
		back, err := ParseByteSize(b.String())
		if err != nil || back != b {
			t.Fatalf("round trip of %q: %d → %q → %d, %v", s, b, b.String(), back, err)
		}
	})
}
