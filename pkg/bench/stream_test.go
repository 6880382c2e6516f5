package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// tsPackets splits a PES into 188-byte TS packets on pid, stuffing the last
// one with an adaptation field (ISO/IEC 13818-1 §2.4.3.2).
func tsPackets(pid int, pes []byte) []byte {
	var out []byte
	first := true
	for len(pes) > 0 {
		pkt := []byte{0x47, byte(pid >> 8), byte(pid), 0x10}
		if first {
			pkt[1] |= 0x40
			first = false
		}
		n := min(len(pes), 184)
		if n < 184 {
			pkt[3] = 0x30
			stuff := 184 - n - 1
			pkt = append(pkt, byte(stuff))
			if stuff > 0 {
				pkt = append(pkt, 0)
				pkt = append(pkt, bytes.Repeat([]byte{0xff}, stuff-1)...)
			}
		}
		pkt = append(pkt, pes[:n]...)
		out = append(out, pkt...)
		pes = pes[n:]
	}
	return out
}

func pes(streamID byte, payload []byte) []byte {
	// PES header with a PTS (header data length 5).
	return append([]byte{0, 0, 1, streamID, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1}, payload...)
}

func TestTSScan(t *testing.T) {
	var seg []byte
	seg = append(seg, tsPackets(0, []byte{0, 0, 0xb0, 13, 0, 1, 0xc1, 0, 0, 0, 1, 0xf0, 0, 1, 2, 3, 4})...) // PAT-like
	var want []Stamp
	for i := range 5 {
		f := mediatest.VideoFrame(0, i == 0, 3000+i*500, byte(i))
		s := Stamp{SendNs: int64(i+1) * 1e9, Seq: uint32(i)}
		stamped, err := InsertStamp(f.Data, s)
		require.NoError(t, err)
		want = append(want, s)
		nals := splitAVCC(t, stamped[5:])
		au := append([]byte{0, 0, 0, 1, 9, 0xf0}, toAnnexB(nals)...)
		seg = append(seg, tsPackets(0x100, pes(0xe0, au))...)
		seg = append(seg, tsPackets(0x101, pes(0xc0, bytes.Repeat([]byte{0xff, 0xf1}, 200)))...)
	}
	seg = append(seg, 0x47, 0x1f) // a truncated packet at the end is ignored
	var ts tsScanner
	var got []Stamp
	ts.scan(seg, func(s Stamp, ok bool) {
		require.True(t, ok)
		got = append(got, s)
	})
	require.Equal(t, want, got)
}

func TestParsePlaylist(t *testing.T) {
	media, target, variant := parsePlaylist([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n" +
		"#EXTINF:2.000,\nseg7.ts\n#EXTINF:2.000,\r\nseg8.ts?token=x\r\n"))
	require.Equal(t, []string{"seg7.ts", "seg8.ts?token=x"}, media)
	require.Equal(t, 2*time.Second, target)
	require.Empty(t, variant)
	media, _, variant = parsePlaylist([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2200000\nlive/index.m3u8\n"))
	require.Empty(t, media)
	require.Equal(t, "live/index.m3u8", variant)
}

// flvBytes is an FLV stream of n stamped video frames with audio between.
func flvBytes(t testing.TB, n int) ([]byte, []Stamp) {
	t.Helper()
	b := flv.Header(true, true)
	h := mediatest.VideoHeader(0, 1280, 720)
	b = flv.AppendTag(b, flv.TagVideo, 0, h.Data)
	var want []Stamp
	for i := range n {
		f := mediatest.VideoFrame(uint32(i*33), i%30 == 0, 200+i*311, byte(i))
		s := Stamp{SendNs: time.Now().UnixNano(), Seq: uint32(i + 1)}
		stamped, err := InsertStamp(f.Data, s)
		require.NoError(t, err)
		want = append(want, s)
		b = flv.AppendTag(b, flv.TagVideo, uint32(i*33), stamped)
		b = flv.AppendTag(b, flv.TagAudio, uint32(i*33), mediatest.AudioFrame(0, 200, byte(i), 2).Data)
	}
	return b, want
}

// chunked encodes b with HTTP/1.1 chunked coding in pieces of size n.
func chunked(b []byte, n int) []byte {
	var out []byte
	for len(b) > 0 {
		k := min(n, len(b))
		out = fmt.Appendf(out, "%x;ext=1\r\n", k)
		out = append(append(out, b[:k]...), "\r\n"...)
		b = b[k:]
	}
	return append(out, "0\r\n\r\n"...)
}

func TestFLVStream(t *testing.T) {
	data, want := flvBytes(t, 60)
	for _, c := range []struct {
		name string
		src  func() source
	}{
		{"plain", func() source { return plainSource{bufio.NewReader(bytes.NewReader(data))} }},
		{"chunked 1000", func() source { return &chunkedSource{br: bufio.NewReader(bytes.NewReader(chunked(data, 1000)))} }},
		{"chunked 7", func() source { return &chunkedSource{br: bufio.NewReader(bytes.NewReader(chunked(data, 7)))} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t0 := time.Now()
			w := &Window{Start: t0.Add(-time.Hour), End: t0.Add(time.Hour), Stall: time.Hour}
			f := &flvStream{src: c.src(), st: &PlayerStats{}, w: w, t0: t0}
			require.ErrorIs(t, f.run(), io.EOF)
			require.Equal(t, uint64(len(want)), f.st.Frames)
			require.Zero(t, f.st.Lost)
			require.Zero(t, f.st.Unstamped)
			require.Equal(t, int64(len(data)), f.st.Bytes.Load())
			require.Equal(t, uint64(len(want)), f.st.Latency.Count())
		})
	}
	t.Run("truncated", func(t *testing.T) {
		st := &PlayerStats{}
		f := &flvStream{src: &chunkedSource{br: bufio.NewReader(bytes.NewReader(chunked(data[:len(data)/2], 100)[:2000]))}, st: st,
			w: &Window{}, t0: time.Now()}
		require.ErrorIs(t, f.run(), io.ErrUnexpectedEOF)
	})
	t.Run("bad header", func(t *testing.T) {
		for _, b := range []string{"FLX\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00", "FLV\x01\x05\x00\x00\x00\x03\x00\x00\x00\x00"} {
			f := &flvStream{src: plainSource{bufio.NewReader(strings.NewReader(b))}, st: &PlayerStats{}, w: &Window{}}
			require.ErrorContains(t, f.run(), "flv header")
		}
	})
}

func TestIsCodedFrame(t *testing.T) {
	for _, c := range []struct {
		b    []byte
		want bool
	}{
		{mediatest.VideoHeader(0, 640, 360).Data, false},
		{mediatest.VideoFrame(0, true, 10, 0).Data, true},
		{[]byte{0x17, 2, 0, 0, 0}, false}, // end of sequence
		{[]byte{0x52, 0}, false},          // command frame
		{exCoded, true},
		{exCodedX, true},
		{[]byte{0x80, 'a', 'v', 'c', '1'}, false}, // SequenceStart
		{[]byte{0x17}, false},
	} {
		require.Equal(t, c.want, isCodedFrame(c.b), "%x", c.b)
	}
	_ = av.KindVideo
}

func TestScanRaw(t *testing.T) {
	// An fMP4 mdat: AVCC access units back to back, audio samples between.
	mdat := []byte("\x00\x00\x00\x00mdat")
	var want []Stamp
	for i := range 4 {
		f := mediatest.VideoFrame(0, i == 0, 500, byte(i))
		s := Stamp{SendNs: int64(i) << 20, Seq: uint32(i) << 8} // zero bytes: escaped
		stamped, err := InsertStamp(f.Data, s)
		require.NoError(t, err)
		want = append(want, s)
		mdat = append(mdat, stamped[5:]...)
		mdat = append(mdat, bytes.Repeat([]byte{0x21}, 300)...)
	}
	var got []Stamp
	scanRaw(mdat, func(s Stamp, _ bool) { got = append(got, s) })
	require.Equal(t, want, got)
}
