package avcc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func collect(au []byte, ls int) ([][]byte, error) {
	var out [][]byte
	for u, err := range Units("t", au, ls) {
		if err != nil {
			return out, err
		}
		out = append(out, u)
	}
	return out, nil
}

func TestUnits(t *testing.T) {
	cases := []struct {
		name  string
		au    []byte
		ls    int
		units [][]byte
		err   string
	}{
		{"empty", nil, 4, nil, ""},
		{"two", []byte{0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x41}, 4, [][]byte{{0x65, 1}, {0x41}}, ""},
		{"len2", []byte{0, 1, 9, 0, 2, 7, 8}, 2, [][]byte{{9}, {7, 8}}, ""},
		{"len1", []byte{1, 9}, 1, [][]byte{{9}}, ""},
		{"zero skipped", []byte{0, 0, 0, 0, 0, 0, 0, 1, 5}, 4, [][]byte{{5}}, ""},
		{"overrun", []byte{0, 0, 0, 9, 1}, 4, nil, "t: NALU length 9 at offset 0 exceeds the 1 bytes left"},
		{"short prefix", []byte{0, 0, 0, 1, 5, 0, 0}, 4, [][]byte{{5}}, "t: 2 trailing bytes at offset 5, shorter than the 4-byte NALU length"},
		{"bad size", []byte{1}, 5, nil, "t: NALU length size 5 out of range [1, 4]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			units, err := collect(c.au, c.ls)
			if c.err != "" {
				require.EqualError(t, err, c.err)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, c.units, units)
		})
	}
}

func TestUnitsBreak(t *testing.T) {
	au := []byte{0, 0, 0, 1, 1, 0, 0, 0, 1, 2}
	n := 0
	for _, err := range Units("t", au, 4) {
		require.NoError(t, err)
		n++
		break
	}
	require.Equal(t, 1, n)
}

func TestUnitsNoAlloc(t *testing.T) {
	au := []byte{0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x41}
	allocs := testing.AllocsPerRun(100, func() {
		for u, err := range Units("t", au, 4) {
			if err != nil || len(u) == 0 {
				panic("unexpected")
			}
		}
	})
	require.Zero(t, allocs)
}
