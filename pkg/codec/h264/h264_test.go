package h264

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

// avcc builds an AVCC access unit with 4-byte lengths.
func avccAU(units ...[]byte) []byte {
	var b []byte
	for _, u := range units {
		b = append(b, byte(len(u)>>24), byte(len(u)>>16), byte(len(u)>>8), byte(len(u)))
		b = append(b, u...)
	}
	return b
}

func TestIsKeyframe(t *testing.T) {
	sei := []byte{0x06, 0x05, 0x01, 0x80}
	idr := []byte{0x65, 0x88, 0x84}
	slice := []byte{0x41, 0x9a, 0x02}
	cases := []struct {
		name string
		au   []byte
		ls   int
		key  bool
	}{
		{"idr", avccAU(idr), 4, true},
		{"sei then idr", avccAU(sei, idr), 4, true},
		{"p slice", avccAU(slice), 4, false},
		{"empty", nil, 4, false},
		{"truncated before idr", append(avccAU(slice), 0, 0, 0, 9, 0x65), 4, false},
		{"2-byte lengths", []byte{0, 3, 0x65, 0x88, 0x84}, 2, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.key, IsKeyframe(c.au, c.ls))
		})
	}
}

func TestAVCCUnits(t *testing.T) {
	au := avccAU([]byte{0x09, 0xF0}, []byte{0x65, 1, 2})
	var types []NALUType
	for nalu, err := range AVCCUnits(au, 4) {
		require.NoError(t, err)
		types = append(types, TypeOf(nalu))
	}
	require.Equal(t, []NALUType{NALUAUD, NALUIDR}, types)

	for _, err := range AVCCUnits([]byte{0, 0, 0, 5, 1}, 4) {
		require.EqualError(t, err, "h264: NALU length 5 at offset 0 exceeds the 1 bytes left")
	}
	require.Zero(t, testing.AllocsPerRun(100, func() { IsKeyframe(au, 4) }))
}

func BenchmarkIsKeyframe(b *testing.B) {
	au := avccAU([]byte{0x09, 0xF0}, []byte{0x06, 5, 1, 0x80}, append([]byte{0x65}, make([]byte, 4000)...))
	b.ReportAllocs()
	for b.Loop() {
		if !IsKeyframe(au, 4) {
			b.Fatal("not a keyframe")
		}
	}
}
