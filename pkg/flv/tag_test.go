package flv

import (
	"testing"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/stretchr/testify/require"
)

func TestTagParts(t *testing.T) {
	cases := []struct {
		name    string
		kind    av.Kind
		dts     int64
		size    int
		hdr     []byte
		trailer []byte
	}{
		{"video", av.KindVideo, 40, 300, cat(9, 0, 1, 0x2C, 0, 0, 40, 0, 0, 0, 0), cat(0, 0, 1, 0x37)},
		{"audio extended timestamp", av.KindAudio, 0x12345678, 7, cat(8, 0, 0, 7, 0x34, 0x56, 0x78, 0x12, 0, 0, 0), cat(0, 0, 0, 18)},
		{"data zero", av.KindData, 0, 0, cat(18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), cat(0, 0, 0, 11)},
		{"0xFFFFFF boundary", av.KindVideo, 0xFFFFFF, 1, cat(9, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0), cat(0, 0, 0, 12)},
		{"past 32 bits wraps", av.KindVideo, 1<<32 + 5, 1, cat(9, 0, 0, 1, 0, 0, 5, 0, 0, 0, 0), cat(0, 0, 0, 12)},
		{"max size", av.KindVideo, 0, MaxDataSize, cat(9, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0), cat(1, 0, 0, 10)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &av.Packet{Kind: c.kind, DTS: c.dts, Data: make([]byte, c.size)}
			hdr, trailer := TagParts(p)
			require.Equal(t, c.hdr, hdr)
			require.Equal(t, c.trailer, trailer)
			require.Equal(t, TagHeaderSize, cap(hdr), "appending to hdr must not reach the trailer")
			require.Equal(t, TrailerSize, cap(trailer))
			// Cached: the same bytes come back.
			hdr2, trailer2 := TagParts(p)
			require.Same(t, &hdr[0], &hdr2[0])
			require.Same(t, &trailer[0], &trailer2[0])
			// AppendTag writes the same tag.
			full := AppendTag([]byte{0xEE}, TagTypeOf(c.kind), uint32(c.dts), p.Data)
			require.Equal(t, byte(0xEE), full[0])
			require.Equal(t, c.hdr, full[1:1+TagHeaderSize])
			require.Equal(t, c.trailer, full[len(full)-TrailerSize:])
			require.Len(t, full, 1+TagHeaderSize+c.size+TrailerSize)
			// TagBytes is the whole tag, contiguous, and what TagParts
			// slices.
			tag := TagBytes(p)
			require.Equal(t, full[1:], tag)
			require.Same(t, &tag[0], &hdr[0])
			require.Same(t, &tag[len(tag)-TrailerSize], &trailer[0])
		})
	}
}

func TestTagPartsAllocs(t *testing.T) {
	p := &av.Packet{Kind: av.KindVideo, DTS: 1, Data: make([]byte, 10)}
	// First encode: exactly one allocation (AllocsPerRun adds a warm-up run).
	fresh := make([]av.Packet, 11)
	i := 0
	require.Equal(t, 1.0, testing.AllocsPerRun(10, func() { TagParts(&fresh[i]); i++ }))
	TagParts(p)
	require.Zero(t, testing.AllocsPerRun(100, func() { TagParts(p) }))
}

func TestHeader(t *testing.T) {
	cases := []struct {
		audio, video bool
		flags        byte
	}{{true, true, 5}, {false, true, 1}, {true, false, 4}, {false, false, 0}}
	for _, c := range cases {
		h := Header(c.audio, c.video)
		require.Equal(t, cat("FLV", 1, c.flags, 0, 0, 0, 9, 0, 0, 0, 0), h)
	}
	// Each call returns a fresh slice.
	a, b := Header(true, true), Header(true, true)
	a[0] = 'X'
	require.Equal(t, byte('F'), b[0])
}

func BenchmarkTagParts(b *testing.B) {
	b.Run("cached", func(b *testing.B) {
		p := &av.Packet{Kind: av.KindVideo, DTS: 123456, Data: make([]byte, 4000)}
		TagParts(p)
		b.ReportAllocs()
		for b.Loop() {
			hdr, trailer := TagParts(p)
			if len(hdr)+len(trailer) != 15 {
				b.Fatal("bad parts")
			}
		}
	})
	b.Run("first", func(b *testing.B) {
		// Fresh packets, reset outside the timer in batches: measures the
		// first encode only (the 15-byte allocation).
		data := make([]byte, 8)
		pkts := make([]av.Packet, 1024)
		b.ReportAllocs()
		for i := 0; i < b.N; {
			b.StopTimer()
			for j := range pkts {
				pkts[j] = av.Packet{Kind: av.KindVideo, DTS: int64(j), Data: data}
			}
			b.StartTimer()
			for j := 0; j < len(pkts) && i < b.N; j, i = j+1, i+1 {
				TagParts(&pkts[j])
			}
		}
	})
}
