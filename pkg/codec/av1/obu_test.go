package av1

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// obuCases are single OBUs at the start of the data (what follows them, if
// anything, belongs to the next OBU). They feed TestOBUUnmarshal and
// FuzzOBU.
var obuCases = []struct {
	name    string
	hex     string
	typ     OBUType
	hasSize bool
	tid     uint8
	sid     uint8
	payload string // hex
	len     int
}{
	{"temporal delimiter", "1200", OBUTemporalDelimiter, true, 0, 0, "", 2},
	{"sequence header", "0a0a0000000337f8e6d7c802", OBUSequenceHeader, true, 0, 0, "0000000337f8e6d7c802", 12},
	{"followed by more", "320301020312", OBUFrame, true, 0, 0, "010203", 5},
	{"extension", "3629030102ff", OBUFrame, true, 1, 1, "0102ff", 6},
	{"no size field", "30aabbcc", OBUFrame, false, 0, 0, "aabbcc", 4},
	{"no size field, extension", "3440aa", OBUFrame, false, 2, 0, "aa", 3},
	{"padded size", "7a8000", OBUPadding, true, 0, 0, "", 3},
	{"two-byte size", "7a8201" + strings.Repeat("ab", 130), OBUPadding, true, 0, 0, strings.Repeat("ab", 130), 133},
	{"reserved type", "02" + "00", 0, true, 0, 0, "", 2},
}

var obuErrCases = []struct {
	name string
	hex  string
	err  string
}{
	{"empty", "", "av1: obu header missing"},
	{"forbidden bit", "b200", "av1: obu header 0xb2 has the forbidden bit set"},
	{"extension missing", "36", "av1: obu extension header missing"},
	{"size missing", "32", "av1: obu size: leb128 truncated after 0 bytes"},
	{"size overrun", "320501", "av1: obu size 5 exceeds the 1 bytes left"},
	{"size truncated", "32ff", "av1: obu size: leb128 truncated after 1 bytes"},
}

func TestOBUUnmarshal(t *testing.T) {
	for _, c := range obuCases {
		t.Run(c.name, func(t *testing.T) {
			var o OBU
			require.NoError(t, o.Unmarshal(unhex(t, c.hex)))
			require.Equal(t, c.typ, o.Type)
			require.Equal(t, c.hasSize, o.HasSize)
			require.Equal(t, c.tid, o.TemporalID)
			require.Equal(t, c.sid, o.SpatialID)
			require.Equal(t, unhex(t, c.payload), append([]byte{}, o.Payload...))
			require.Equal(t, c.len, o.Len)
		})
	}
	for _, c := range obuErrCases {
		t.Run(c.name, func(t *testing.T) {
			var o OBU
			require.EqualError(t, o.Unmarshal(unhex(t, c.hex)), c.err)
		})
	}
}

func TestAppendOBU(t *testing.T) {
	payload := make([]byte, 200)
	b := AppendOBU(nil, OBUMetadata, payload)
	require.Equal(t, []byte{0x2a, 0xc8, 0x01}, b[:3])
	var o OBU
	require.NoError(t, o.Unmarshal(b))
	require.Equal(t, OBUMetadata, o.Type)
	require.Equal(t, payload, o.Payload)
	require.Equal(t, len(b), o.Len)
}

func TestLEB128(t *testing.T) {
	for _, v := range []uint32{0, 1, 127, 128, 16383, 16384, 1<<32 - 1} {
		b := AppendLEB128(nil, v)
		got, n, err := ReadLEB128(b)
		require.NoError(t, err)
		require.Equal(t, uint64(v), got)
		require.Equal(t, len(b), n)
	}
	// Padded encodings are allowed up to 8 bytes (AV1 §4.10.5).
	v, n, err := ReadLEB128([]byte{0x81, 0x80, 0x80, 0x00})
	require.NoError(t, err)
	require.Equal(t, uint64(1), v)
	require.Equal(t, 4, n)
}

func FuzzOBU(f *testing.F) {
	for _, c := range obuCases {
		f.Add(unhex(f, c.hex))
	}
	for _, c := range obuErrCases {
		f.Add(unhex(f, c.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var o OBU
		if o.Unmarshal(b) != nil {
			return
		}
		require.LessOrEqual(t, o.Len, len(b))
		require.Positive(t, o.Len)
		hdr := 1
		if o.Extension {
			hdr = 2
		}
		require.GreaterOrEqual(t, o.Len, hdr+len(o.Payload))
		if !o.HasSize {
			require.Equal(t, len(b), o.Len)
		}
	})
}
