package bits

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReaderBits(t *testing.T) {
	r := NewReader([]byte{0b1010_1100, 0b0101_0011, 0xFF})
	v, err := r.Bits(3)
	require.NoError(t, err)
	require.Equal(t, uint32(0b101), v)
	v, err = r.Bits(9)
	require.NoError(t, err)
	require.Equal(t, uint32(0b0_1100_0101), v)
	require.Equal(t, 12, r.Left())
	require.NoError(t, r.Skip(4))
	v, err = r.Bits(8)
	require.NoError(t, err)
	require.Equal(t, uint32(0xFF), v)
	_, err = r.Bits(1)
	require.ErrorIs(t, err, ErrShort)
	_, err = r.Bits(33)
	require.Error(t, err)
}

func TestExpGolomb(t *testing.T) {
	// H.264 Table 9-2: codeNum 0..8 and the se(v) mapping of Table 9-3.
	cases := []struct {
		code string
		ue   uint32
		se   int32
	}{
		{"1", 0, 0},
		{"010", 1, 1},
		{"011", 2, -1},
		{"00100", 3, 2},
		{"00101", 4, -2},
		{"00110", 5, 3},
		{"00111", 6, -3},
		{"0001000", 7, 4},
		{"0001001", 8, -4},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			w := NewWriter(nil)
			for _, ch := range c.code {
				w.Flag(ch == '1')
			}
			u, err := NewReader(w.Bytes()).UE()
			require.NoError(t, err)
			require.Equal(t, c.ue, u)
			s, err := NewReader(w.Bytes()).SE()
			require.NoError(t, err)
			require.Equal(t, c.se, s)
		})
	}
	t.Run("writer", func(t *testing.T) {
		for _, c := range cases {
			w := NewWriter(nil)
			w.UE(c.ue)
			w.SE(c.se)
			r := NewReader(w.Bytes())
			u, err := r.UE()
			require.NoError(t, err)
			require.Equal(t, c.ue, u)
			s, err := r.SE()
			require.NoError(t, err)
			require.Equal(t, c.se, s)
			require.Less(t, r.Left(), 8)
		}
	})
	t.Run("max", func(t *testing.T) {
		// 31 zeros, 1, 31 ones: codeNum 2^32−2.
		w := NewWriter(nil)
		w.Bits(0, 31)
		w.Bits(1, 1)
		w.Bits(0x7FFFFFFF, 31)
		u, err := NewReader(w.Bytes()).UE()
		require.NoError(t, err)
		require.Equal(t, uint32(1<<32-2), u)
	})
	t.Run("too long", func(t *testing.T) {
		_, err := NewReader(make([]byte, 8)).UE()
		require.ErrorContains(t, err, "leading zeros")
	})
	t.Run("truncated", func(t *testing.T) {
		_, err := NewReader([]byte{0x00, 0x01}).UE()
		require.ErrorIs(t, err, ErrShort)
	})
}

func TestRBSP(t *testing.T) {
	cases := []struct {
		name    string
		in, out []byte
	}{
		{"none", []byte{1, 2, 0, 0, 1}, []byte{1, 2, 0, 0, 1}},
		{"one", []byte{0, 0, 3, 1}, []byte{0, 0, 1}},
		{"two", []byte{0, 0, 3, 0, 0, 3, 0}, []byte{0, 0, 0, 0, 0}},
		{"trailing", []byte{5, 0, 0, 3}, []byte{5, 0, 0}},
		{"not after one zero", []byte{0, 3, 0, 0, 3, 3}, []byte{0, 3, 0, 0, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.out, RBSP(c.in))
		})
	}
}

func TestWriterRoundTrip(t *testing.T) {
	w := NewWriter([]byte{0xAA})
	w.Bits(0b10111, 5)
	w.Bits(0xABCDE, 20)
	w.Flag(true)
	require.Equal(t, 1+4, len(w.Bytes()))
	r := NewReader(w.Bytes()[1:])
	v, _ := r.Bits(5)
	require.Equal(t, uint32(0b10111), v)
	v, _ = r.Bits(20)
	require.Equal(t, uint32(0xABCDE), v)
	f, err := r.Flag()
	require.NoError(t, err)
	require.True(t, f)
}
