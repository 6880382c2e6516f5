package hevc

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

func avccAU(units ...[]byte) []byte {
	var b []byte
	for _, u := range units {
		b = append(b, byte(len(u)>>24), byte(len(u)>>16), byte(len(u)>>8), byte(len(u)))
		b = append(b, u...)
	}
	return b
}

// nal returns a two-byte NAL header of type t (layer 0, TemporalId 0) and a payload byte.
func nal(t NALUType) []byte { return []byte{byte(t) << 1, 0x01, 0xAF} }

func TestIsKeyframe(t *testing.T) {
	cases := []struct {
		name string
		au   []byte
		key  bool
	}{
		{"idr_w_radl", avccAU(nal(NALUAUD), nal(NALUIDRWRADL)), true},
		{"idr_n_lp", avccAU(nal(NALUIDRNLP)), true},
		{"cra", avccAU(nal(NALUPrefixSEI), nal(NALUCRA)), true},
		{"bla", avccAU(nal(NALUBLAWLP)), true},
		{"reserved irap 23", avccAU(nal(23)), true},
		{"trail_r", avccAU(nal(1)), false},
		{"rasl", avccAU(nal(9)), false},
		{"reserved 24", avccAU(nal(24)), false},
		{"parameter sets only", avccAU(nal(NALUVPS), nal(NALUSPS), nal(NALUPPS)), false},
		{"truncated", append(avccAU(nal(1)), 0, 0, 0, 9, 0x26), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.key, IsKeyframe(c.au, 4))
		})
	}
	au := avccAU(nal(NALUAUD), nal(NALUIDRWRADL))
	require.Zero(t, testing.AllocsPerRun(100, func() { IsKeyframe(au, 4) }))
}

func TestAVCCUnits(t *testing.T) {
	var types []NALUType
	for u, err := range AVCCUnits(avccAU(nal(NALUVPS), nal(NALUCRA)), 4) {
		require.NoError(t, err)
		types = append(types, TypeOf(u))
	}
	require.Equal(t, []NALUType{NALUVPS, NALUCRA}, types)
	for _, err := range AVCCUnits([]byte{0, 0, 0}, 4) {
		require.EqualError(t, err, "hevc: 3 trailing bytes at offset 0, shorter than the 4-byte NALU length")
	}
}
