package rtmp

import (
	"bytes"
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppendChunkHeadersBytes(t *testing.T) {
	cases := []struct {
		name      string
		chunkSize int
		csid      uint32
		typeID    uint8
		streamID  uint32
		ts        uint32
		length    int
		want      []byte
	}{
		{
			name: "one chunk", chunkSize: 128, csid: 3, typeID: TypeCommandAMF0, streamID: 1, ts: 0x010203, length: 5,
			want: []byte{0x03, 0x01, 0x02, 0x03, 0x00, 0x00, 0x05, 20, 0x01, 0x00, 0x00, 0x00},
		},
		{
			name: "empty payload still one header", chunkSize: 128, csid: 4, typeID: TypeAudio, streamID: 0x01020304, length: 0,
			want: []byte{0x04, 0, 0, 0, 0, 0, 0, 8, 0x04, 0x03, 0x02, 0x01},
		},
		{
			name: "three chunks", chunkSize: 128, csid: 6, typeID: TypeVideo, streamID: 1, ts: 40, length: 257,
			want: []byte{0x06, 0, 0, 40, 0x00, 0x01, 0x01, 9, 1, 0, 0, 0, 0xC6, 0xC6},
		},
		{
			name: "exact multiple has no empty chunk", chunkSize: 128, csid: 6, typeID: TypeVideo, streamID: 1, length: 256,
			want: []byte{0x06, 0, 0, 0, 0x00, 0x01, 0x00, 9, 1, 0, 0, 0, 0xC6},
		},
		{
			name: "extended timestamp on every chunk", chunkSize: 100, csid: 5, typeID: TypeDataAMF0, streamID: 1, ts: 0x01000000, length: 150,
			want: []byte{0x05, 0xFF, 0xFF, 0xFF, 0, 0, 150, 18, 1, 0, 0, 0, 0x01, 0, 0, 0, 0xC5, 0x01, 0, 0, 0},
		},
		{
			name: "timestamp 0xFFFFFF is extended", chunkSize: 128, csid: 4, typeID: TypeAudio, ts: 0xFFFFFF, length: 1,
			want: []byte{0x04, 0xFF, 0xFF, 0xFF, 0, 0, 1, 8, 0, 0, 0, 0, 0x00, 0xFF, 0xFF, 0xFF},
		},
		{
			name: "timestamp 0xFFFFFE is not", chunkSize: 128, csid: 4, typeID: TypeAudio, ts: 0xFFFFFE, length: 1,
			want: []byte{0x04, 0xFF, 0xFF, 0xFE, 0, 0, 1, 8, 0, 0, 0, 0},
		},
		{
			name: "csid 63", chunkSize: 1, csid: 63, typeID: TypeAudio, length: 2,
			want: []byte{0x3F, 0, 0, 0, 0, 0, 2, 8, 0, 0, 0, 0, 0xFF},
		},
		{
			name: "csid 64 two-byte form", chunkSize: 1, csid: 64, typeID: TypeAudio, length: 2,
			want: []byte{0x00, 0x00, 0, 0, 0, 0, 0, 2, 8, 0, 0, 0, 0, 0xC0, 0x00},
		},
		{
			name: "csid 319 two-byte form", chunkSize: 128, csid: 319, typeID: TypeAudio, length: 1,
			want: []byte{0x00, 0xFF, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0},
		},
		{
			name: "csid 320 three-byte form little-endian", chunkSize: 1, csid: 320, typeID: TypeAudio, length: 2,
			want: []byte{0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 2, 8, 0, 0, 0, 0, 0xC1, 0x00, 0x01},
		},
		{
			name: "csid 65599", chunkSize: 128, csid: 65599, typeID: TypeAudio, length: 1,
			want: []byte{0x01, 0xFF, 0xFF, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0},
		},
		{
			name: "chunk size 0 clamps to 1", chunkSize: 0, csid: 4, typeID: TypeAudio, length: 2,
			want: []byte{0x04, 0, 0, 0, 0, 0, 2, 8, 0, 0, 0, 0, 0xC4},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := AppendChunkHeaders([]byte{0xEE}, c.chunkSize, c.csid, c.typeID, c.streamID, c.ts, c.length)
			require.Equal(t, append([]byte{0xEE}, c.want...), got)
		})
	}
}

func testPayload(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7) ^ seed
	}
	return p
}

// TestAppendChunkedMatchesAppendMessage: the shared-header path (headers built
// once, payload never copied) must put the exact bytes of AppendMessage on the
// wire, for every basic header form, timestamp range and chunk count.
func TestAppendChunkedMatchesAppendMessage(t *testing.T) {
	for _, cs := range []int{1, 128, 4096, 65536, MaxChunkSize} {
		for _, csid := range []uint32{2, 63, 64, 319, 320, 65599} {
			for _, ts := range []uint32{0, 0xFFFFFE, 0xFFFFFF, 0x1000000, 0xFFFFFFFF} {
				for _, n := range []int{0, 1, 127, 128, 129, 4097, 70000} {
					if cs == 1 && n > 4097 {
						continue
					}
					t.Run(fmt.Sprintf("cs%d/csid%d/ts%x/len%d", cs, csid, ts, n), func(t *testing.T) {
						m := &Message{TypeID: TypeVideo, StreamID: 1, Timestamp: ts, Payload: testPayload(n, byte(csid))}
						w := NewChunkWriter()
						w.SetChunkSize(cs)
						want := w.AppendMessage(nil, csid, m)

						hdrs := AppendChunkHeaders(nil, cs, csid, m.TypeID, m.StreamID, ts, n)
						bufs := AppendChunked(nil, hdrs, m.Payload, cs)
						var got bytes.Buffer
						_, err := bufs.WriteTo(&got)
						require.NoError(t, err)
						require.Equal(t, want, got.Bytes())
					})
				}
			}
		}
	}
}

func TestAppendChunkedNoCopy(t *testing.T) {
	payload := testPayload(300, 1)
	hdrs := AppendChunkHeaders(nil, 128, 6, TypeVideo, 1, 0x2000000, len(payload))
	bufs := AppendChunked(net.Buffers{}, hdrs, payload, 128)
	require.Len(t, bufs, 6) // header, 128, header, 128, header, 44
	require.Same(t, &payload[0], &bufs[1][0])
	require.Same(t, &payload[128], &bufs[3][0])
	require.Same(t, &payload[256], &bufs[5][0])
	require.Same(t, &hdrs[0], &bufs[0][0])
	for _, b := range bufs {
		require.Equal(t, len(b), cap(b), "shared slices must be capacity-limited")
	}
	// Two players writing the same packet: each consumes its own Buffers.
	a := AppendChunked(nil, hdrs, payload, 128)
	b := AppendChunked(nil, hdrs, payload, 128)
	var wa, wb bytes.Buffer
	_, err := a.WriteTo(&wa)
	require.NoError(t, err)
	_, err = b.WriteTo(&wb)
	require.NoError(t, err)
	require.Equal(t, wa.Bytes(), wb.Bytes())
}

func TestChunkWriterChunkSize(t *testing.T) {
	w := NewChunkWriter()
	require.Equal(t, 128, w.ChunkSize())
	w.SetChunkSize(4096)
	require.Equal(t, 4096, w.ChunkSize())
	w.SetChunkSize(0)
	require.Equal(t, 1, w.ChunkSize())
	w.SetChunkSize(1 << 40)
	require.Equal(t, MaxChunkSize, w.ChunkSize())
}

func BenchmarkAppendChunkHeaders(b *testing.B) {
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	ts := uint32(0)
	for b.Loop() {
		dst = AppendChunkHeaders(dst[:0], 4096, 6, TypeVideo, 1, ts, 60000)
		ts += 33
	}
}

func BenchmarkAppendChunked(b *testing.B) {
	payload := testPayload(60000, 0)
	hdrs := AppendChunkHeaders(nil, 4096, 6, TypeVideo, 1, 1000, len(payload))
	bufs := make(net.Buffers, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		bufs = AppendChunked(bufs[:0], hdrs, payload, 4096)
	}
}

func BenchmarkAppendMessage(b *testing.B) {
	w := NewChunkWriter()
	w.SetChunkSize(4096)
	m := &Message{TypeID: TypeCommandAMF0, StreamID: 1, Payload: testPayload(300, 0)}
	dst := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		dst = w.AppendMessage(dst[:0], 3, m)
	}
}

// AppendMessageChunks is AppendChunked's slices, contiguous: for every
// chunk size, payload length and an extended timestamp.
func TestAppendMessageChunks(t *testing.T) {
	for _, cs := range []int{128, 4096} {
		for _, n := range []int{0, 1, 127, 128, 129, 4096, 10_000} {
			for _, ts := range []uint32{0, 0xFFFFFF, 0x1000000} {
				payload := make([]byte, n)
				for i := range payload {
					payload[i] = byte(i)
				}
				hdrs := AppendChunkHeaders(nil, cs, csidVideo, TypeVideo, 1, ts, n)
				want := bytes.Join(AppendChunked(nil, hdrs, payload, cs), nil)
				got := AppendMessageChunks([]byte{9}, cs, csidVideo, TypeVideo, 1, ts, payload)
				require.Equal(t, append([]byte{9}, want...), got, "cs=%d n=%d ts=%#x", cs, n, ts)
			}
		}
	}
}
