package rtmp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// Chunk builders written from RTMP 1.0 §5.3.1, independently of ChunkWriter.
// Timestamps and deltas >= 0xFFFFFF get the extended field automatically.

func wBasic(format uint8, csid uint32) []byte {
	switch {
	case csid < 64:
		return []byte{format<<6 | byte(csid)}
	case csid < 320:
		return []byte{format << 6, byte(csid - 64)}
	}
	return []byte{format<<6 | 1, byte((csid - 64) & 0xFF), byte((csid - 64) >> 8)}
}

func wTS(b []byte, ts uint32) []byte {
	if ts >= 0xFFFFFF {
		return append(b, 0xFF, 0xFF, 0xFF)
	}
	return append(b, byte(ts>>16), byte(ts>>8), byte(ts))
}

func wExt(b []byte, ts uint32) []byte {
	if ts >= 0xFFFFFF {
		return binary.BigEndian.AppendUint32(b, ts)
	}
	return b
}

func wH0(csid, ts uint32, length int, typ uint8, msid uint32) []byte {
	b := wTS(wBasic(0, csid), ts)
	b = append(b, byte(length>>16), byte(length>>8), byte(length), typ)
	b = binary.LittleEndian.AppendUint32(b, msid)
	return wExt(b, ts)
}

func wH1(csid, delta uint32, length int, typ uint8) []byte {
	b := wTS(wBasic(1, csid), delta)
	b = append(b, byte(length>>16), byte(length>>8), byte(length), typ)
	return wExt(b, delta)
}

func wH2(csid, delta uint32) []byte { return wExt(wTS(wBasic(2, csid), delta), delta) }

func wH3(csid uint32) []byte { return wBasic(3, csid) }

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func join(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

type readerCase struct {
	name string
	in   []byte
	max  int        // maxMessageSize, 0 = default
	want []*Message // messages expected before the end
	err  string     // error expected after them; "" = io.EOF
}

func msg(typ uint8, msid, ts uint32, p []byte) *Message {
	return &Message{TypeID: typ, StreamID: msid, Timestamp: ts, Payload: p}
}

func readerCases() []readerCase {
	p3, q3, r3 := []byte{1, 2, 3}, []byte{4, 5, 6}, []byte{7, 8, 9}
	p200 := testPayload(200, 1)
	p300 := testPayload(300, 2)
	// Continuation data that does not start with the extended timestamp.
	p200x := testPayload(200, 3)
	p200x[128] = 0xAB
	cases := []readerCase{
		{name: "single message", in: join(wH0(3, 1000, 3, TypeCommandAMF0, 0), p3), want: []*Message{msg(20, 0, 1000, p3)}},
		{name: "exactly one chunk", in: join(wH0(4, 0, 128, TypeAudio, 1), testPayload(128, 0)),
			want: []*Message{msg(8, 1, 0, testPayload(128, 0))}},
		{name: "two chunks", in: join(wH0(4, 5, 200, TypeVideo, 1), p200[:128], wH3(4), p200[128:]),
			want: []*Message{msg(9, 1, 5, p200)}},
		{
			name: "interleaved chunk streams",
			in: join(wH0(4, 10, 300, TypeAudio, 1), p300[:128], wH0(6, 20, 200, TypeVideo, 1), p200[:128],
				wH3(4), p300[128:256], wH3(6), p200[128:], wH3(4), p300[256:]),
			want: []*Message{msg(9, 1, 20, p200), msg(8, 1, 10, p300)},
		},
		{
			name: "type 1 delta",
			in:   join(wH0(4, 1000, 3, TypeAudio, 1), p3, wH1(4, 33, 3, TypeVideo), q3),
			want: []*Message{msg(8, 1, 1000, p3), msg(9, 1, 1033, q3)},
		},
		{
			name: "type 2 delta reuses length and type",
			in:   join(wH0(4, 1000, 3, TypeAudio, 1), p3, wH2(4, 23), q3),
			want: []*Message{msg(8, 1, 1000, p3), msg(8, 1, 1023, q3)},
		},
		{
			name: "type 3 new messages repeat the delta",
			in:   join(wH0(4, 1000, 3, TypeAudio, 1), p3, wH1(4, 20, 3, TypeAudio), q3, wH3(4), r3, wH3(4), p3),
			want: []*Message{msg(8, 1, 1000, p3), msg(8, 1, 1020, q3), msg(8, 1, 1040, r3), msg(8, 1, 1060, p3)},
		},
		{
			// §5.3.1.2.4: after a type 0, the implied delta is its timestamp.
			name: "type 3 new message after type 0 uses its timestamp as delta",
			in:   join(wH0(4, 40, 3, TypeAudio, 1), p3, wH3(4), q3),
			want: []*Message{msg(8, 1, 40, p3), msg(8, 1, 80, q3)},
		},
		{
			name: "type 3 new messages after type 0 at zero (GStreamer rtmp2)",
			in:   join(wH0(3, 0, 3, TypeCommandAMF0, 0), p3, wH3(3), q3, wH3(3), r3),
			want: []*Message{msg(20, 0, 0, p3), msg(20, 0, 0, q3), msg(20, 0, 0, r3)},
		},
		{
			name: "extended timestamp repeated on continuation",
			in:   join(wH0(4, 0x01000000, 200, TypeVideo, 1), p200[:128], wH3(4), be32(0x01000000), p200[128:]),
			want: []*Message{msg(9, 1, 0x01000000, p200)},
		},
		{
			name: "extended timestamp missing on continuation (old librtmp)",
			in:   join(wH0(4, 0x01000000, 200, TypeVideo, 1), p200x[:128], wH3(4), p200x[128:]),
			want: []*Message{msg(9, 1, 0x01000000, p200x)},
		},
		{
			name: "timestamp 0xFFFFFF is extended",
			in:   join(wH0(4, 0xFFFFFF, 3, TypeAudio, 1), p3),
			want: []*Message{msg(8, 1, 0xFFFFFF, p3)},
		},
		{
			name: "extended timestamp in type 1 is a delta",
			in:   join(wH0(4, 0xFFFFF0, 3, TypeAudio, 1), p3, wH1(4, 0x01000000, 3, TypeAudio), q3),
			want: []*Message{msg(8, 1, 0xFFFFF0, p3), msg(8, 1, 0x01FFFFF0, q3)},
		},
		{
			name: "extended delta in type 2 with continuation",
			in: join(wH0(4, 100, 3, TypeVideo, 1), p3, wH1(4, 5, 200, TypeVideo), p200[:128], wH3(4), p200[128:],
				wH2(4, 0x02000000), p200[:128], wH3(4), be32(0x02000000), p200[128:]),
			want: []*Message{msg(9, 1, 100, p3), msg(9, 1, 105, p200), msg(9, 1, 0x02000069, p200)},
		},
		{
			name: "timestamp wraps at 2^32",
			in:   join(wH0(4, 0xFFFFFFF0, 3, TypeAudio, 1), p3, wH2(4, 0x20), q3),
			want: []*Message{msg(8, 1, 0xFFFFFFF0, p3), msg(8, 1, 0x10, q3)},
		},
		{
			name: "type 3 new message after extended type 0",
			in:   join(wH0(4, 0x80000000, 3, TypeAudio, 1), p3, wH3(4), be32(0x80000000), q3),
			want: []*Message{msg(8, 1, 0x80000000, p3), msg(8, 1, 0, q3)},
		},
		{
			name: "zero-length messages",
			in:   join(wH0(5, 7, 0, TypeDataAMF0, 1), wH3(5), wH0(4, 9, 0, TypeAudio, 1)),
			want: []*Message{msg(18, 1, 7, []byte{}), msg(18, 1, 14, []byte{}), msg(8, 1, 9, []byte{})},
		},
		{
			name: "set chunk size applies to the next chunk",
			in: join(wH0(2, 0, 4, TypeSetChunkSize, 0), be32(4096), wH0(6, 0, 3000, TypeVideo, 1), testPayload(3000, 4),
				wH0(2, 0, 4, TypeSetChunkSize, 0), be32(1), wH0(4, 0, 3, TypeAudio, 1), p3[:1], wH3(4), p3[1:2], wH3(4), p3[2:]),
			want: []*Message{msg(1, 0, 0, be32(4096)), msg(9, 1, 0, testPayload(3000, 4)), msg(1, 0, 0, be32(1)), msg(8, 1, 0, p3)},
		},
		{
			name: "chunk size 0x7FFFFFFF",
			in: join(wH0(2, 0, 4, TypeSetChunkSize, 0), be32(MaxChunkSize), wH0(6, 0, 100000, TypeVideo, 1),
				testPayload(100000, 5)),
			want: []*Message{msg(1, 0, 0, be32(MaxChunkSize)), msg(9, 1, 0, testPayload(100000, 5))},
		},
		{
			name: "abort drops the partial message",
			in: join(wH0(4, 0, 300, TypeAudio, 1), p300[:128], wH0(2, 0, 4, TypeAbort, 0), be32(4),
				wH0(4, 10, 3, TypeAudio, 1), p3),
			want: []*Message{msg(2, 0, 0, be32(4)), msg(8, 1, 10, p3)},
		},
		{
			name: "abort of an idle or unknown chunk stream",
			in:   join(wH0(2, 0, 4, TypeAbort, 0), be32(9), wH0(2, 0, 4, TypeAbort, 0), be32(2), wH0(4, 1, 3, TypeAudio, 1), p3),
			want: []*Message{msg(2, 0, 0, be32(9)), msg(2, 0, 0, be32(2)), msg(8, 1, 1, p3)},
		},
		{name: "csid 63", in: join(wH0(63, 1, 200, TypeAudio, 1), p200[:128], wH3(63), p200[128:]), want: []*Message{msg(8, 1, 1, p200)}},
		{name: "csid 64", in: join(wH0(64, 1, 200, TypeAudio, 1), p200[:128], wH3(64), p200[128:]), want: []*Message{msg(8, 1, 1, p200)}},
		{name: "csid 319", in: join(wH0(319, 1, 200, TypeAudio, 1), p200[:128], wH3(319), p200[128:]), want: []*Message{msg(8, 1, 1, p200)}},
		{name: "csid 320", in: join(wH0(320, 1, 200, TypeAudio, 1), p200[:128], wH3(320), p200[128:]), want: []*Message{msg(8, 1, 1, p200)}},
		{name: "csid 65599", in: join(wH0(65599, 1, 200, TypeAudio, 1), p200[:128], wH3(65599), p200[128:]), want: []*Message{msg(8, 1, 1, p200)}},
		{
			name: "type 3 first chunk on unknown csid",
			in:   join(wH3(7), p3),
			err:  "rtmp: chunk type 3 on chunk stream 7 with no previous message header",
		},
		{
			name: "type 1 first chunk on unknown csid",
			in:   join(wH0(4, 0, 3, TypeAudio, 1), p3, wH1(5, 0, 3, TypeAudio), p3),
			want: []*Message{msg(8, 1, 0, p3)},
			err:  "rtmp: chunk type 1 on chunk stream 5 with no previous message header",
		},
		{
			name: "type 0 interrupting a partial message",
			in:   join(wH0(4, 0, 300, TypeAudio, 1), p300[:128], wH0(4, 0, 3, TypeAudio, 1), p3),
			err:  "rtmp: chunk type 0 on chunk stream 4 interrupts a message at 128 of 300 bytes",
		},
		{
			name: "chunk size 0",
			in:   join(wH0(2, 0, 4, TypeSetChunkSize, 0), be32(0)),
			err:  "rtmp: chunk size 0 out of range [1, 2147483647]",
		},
		{
			name: "chunk size with top bit set",
			in:   join(wH0(2, 0, 4, TypeSetChunkSize, 0), be32(0x80000080)),
			err:  "rtmp: chunk size 2147483776 out of range [1, 2147483647]",
		},
		{
			name: "short set chunk size",
			in:   join(wH0(2, 0, 2, TypeSetChunkSize, 0), []byte{0, 1}),
			err:  "rtmp: control message of 2 bytes, need 4",
		},
		{
			name: "short abort",
			in:   join(wH0(2, 0, 1, TypeAbort, 0), []byte{4}),
			err:  "rtmp: abort: rtmp: control message of 1 bytes, need 4",
		},
		{
			name: "16 MiB message with 8 MiB maximum",
			in:   join(wH0(4, 0, 0xFFFFFF, TypeVideo, 1), p200),
			err:  "rtmp: message length 16777215 exceeds maximum 8388608 (chunk stream 4, type 9)",
		},
		{
			name: "custom maximum",
			in:   join(wH0(4, 0, 3, TypeAudio, 1), p3, wH0(6, 0, 1001, TypeVideo, 1)),
			max:  1000,
			want: []*Message{msg(8, 1, 0, p3)},
			err:  "rtmp: message length 1001 exceeds maximum 1000 (chunk stream 6, type 9)",
		},
		{name: "truncated basic header", in: []byte{0x00}, err: "unexpected EOF"},
		{name: "truncated message header", in: wH0(4, 0, 3, TypeAudio, 1)[:6], err: "unexpected EOF"},
		{name: "truncated extended timestamp", in: wH0(4, 0x01000000, 3, TypeAudio, 1)[:14], err: "unexpected EOF"},
		{name: "truncated payload", in: join(wH0(4, 0, 3, TypeAudio, 1), p3[:2]), err: "unexpected EOF"},
		{name: "truncated continuation", in: join(wH0(4, 0, 200, TypeAudio, 1), p200[:128], wH3(4), p200[128:150]), err: "unexpected EOF"},
	}

	// 64 chunk streams may hold partial messages; the 65th is refused.
	var partial []byte
	for csid := uint32(4); csid < 4+maxPartialStreams+1; csid++ {
		partial = append(partial, join(wH0(csid, 0, 200, TypeVideo, 1), p200[:128])...)
	}
	cases = append(cases, readerCase{
		name: "too many partial messages", in: partial,
		err: fmt.Sprintf("rtmp: chunk stream %d would exceed the limit of 64 partial messages", 4+maxPartialStreams),
	})

	// Header state is kept for at most maxChunkStreams chunk streams.
	var many []byte
	var manyWant []*Message
	for csid := uint32(2); csid < 2+maxChunkStreams+1; csid++ {
		many = append(many, wH0(csid, 0, 0, TypeAudio, 1)...)
		if csid < 2+maxChunkStreams {
			manyWant = append(manyWant, msg(8, 1, 0, []byte{}))
		}
	}
	cases = append(cases, readerCase{
		name: "too many chunk streams", in: many, want: manyWant,
		err: fmt.Sprintf("rtmp: chunk stream %d would exceed the limit of 1024 chunk streams", 2+maxChunkStreams),
	})
	return cases
}

// readAll reads messages until an error.
func readAll(in []byte, maxSize int) ([]*Message, *ChunkReader, error) {
	r := NewChunkReader(bufio.NewReader(bytes.NewReader(in)), maxSize)
	var msgs []*Message
	for {
		m, err := r.ReadMessage()
		if err != nil {
			return msgs, r, err
		}
		msgs = append(msgs, m)
	}
}

func TestChunkReader(t *testing.T) {
	for _, c := range readerCases() {
		t.Run(c.name, func(t *testing.T) {
			msgs, r, err := readAll(c.in, c.max)
			require.Equal(t, len(c.want), len(msgs), "message count")
			for i, w := range c.want {
				require.Equal(t, w, msgs[i], "message %d", i)
			}
			if c.err == "" {
				require.ErrorIs(t, err, io.EOF)
				require.Equal(t, uint64(len(c.in)), r.BytesRead(), "every byte counted")
			} else {
				require.EqualError(t, err, c.err)
			}
		})
	}
}

// TestChunkReaderRoundTrip: whatever ChunkWriter frames, ChunkReader
// reassembles, for every chunk size, basic header form and timestamp range.
func TestChunkReaderRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 127, 128, 129, 4095, 4096, 4097, 65539, 300000}
	for _, cs := range []int{1, 128, 4096, 65536, MaxChunkSize} {
		for _, csid := range []uint32{2, 63, 64, 319, 320, 65599} {
			t.Run(fmt.Sprintf("cs%d/csid%d", cs, csid), func(t *testing.T) {
				w := NewChunkWriter()
				buf := w.AppendMessage(nil, 2, SetChunkSizeMessage(uint32(cs)))
				w.SetChunkSize(cs)
				var sent []*Message
				for i, ts := range []uint32{0, 33, 0xFFFFFE, 0xFFFFFF, 0x1000000, 0xFFFFFFF0, 0xFFFFFFFF, 5} {
					for j, n := range sizes {
						if cs == 1 && n > 4097 {
							continue
						}
						m := &Message{TypeID: TypeVideo, StreamID: uint32(i), Timestamp: ts, Payload: testPayload(n, byte(i*16+j))}
						sent = append(sent, m)
						buf = w.AppendMessage(buf, csid, m)
					}
				}
				msgs, r, err := readAll(buf, 0)
				require.ErrorIs(t, err, io.EOF)
				require.Equal(t, uint64(len(buf)), r.BytesRead())
				require.Equal(t, cs, r.ChunkSize())
				require.Len(t, msgs, len(sent)+1)
				require.Equal(t, SetChunkSizeMessage(uint32(cs)), msgs[0])
				// Compared after everything was read: a reader reusing a
				// reassembly buffer would have overwritten earlier payloads.
				for i, m := range sent {
					require.Equal(t, m, msgs[i+1], "message %d", i)
					// The payload is exactly as large as the message:
					// the packet retaining it keeps nothing extra.
					require.Equal(t, len(m.Payload), cap(msgs[i+1].Payload), "message %d capacity", i)
				}
				require.Zero(t, r.PartialBytes())
			})
		}
	}
}

// chunksOf frames m as 128-byte chunks with the test builders.
func chunksOf(csid uint32, m *Message) [][]byte {
	p := m.Payload
	n := min(len(p), 128)
	chunks := [][]byte{join(wH0(csid, m.Timestamp, len(p), m.TypeID, m.StreamID), p[:n])}
	for p = p[n:]; len(p) > 0; p = p[n:] {
		n = min(len(p), 128)
		chunks = append(chunks, join(wH3(csid), wExt(nil, m.Timestamp), p[:n]))
	}
	return chunks
}

// TestChunkReaderInterleavedRoundTrip alternates the chunks of an audio and a
// video chunk stream one by one, as a muxing sender does.
func TestChunkReaderInterleavedRoundTrip(t *testing.T) {
	var ac, vc [][]byte
	var wantA, wantV []*Message
	for i := range 50 {
		a := &Message{TypeID: TypeAudio, StreamID: 1, Timestamp: 0xFFFF00 + uint32(i*23), Payload: testPayload(200+i, byte(i))}
		v := &Message{TypeID: TypeVideo, StreamID: 1, Timestamp: 0xFFFF00 + uint32(i*33), Payload: testPayload(1000+37*i, byte(i+1))}
		ac = append(ac, chunksOf(4, a)...)
		vc = append(vc, chunksOf(6, v)...)
		wantA, wantV = append(wantA, a), append(wantV, v)
	}
	var in []byte
	for len(ac) > 0 || len(vc) > 0 {
		if len(ac) > 0 {
			in, ac = append(in, ac[0]...), ac[1:]
		}
		if len(vc) > 0 {
			in, vc = append(in, vc[0]...), vc[1:]
		}
	}
	msgs, r, err := readAll(in, 0)
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, uint64(len(in)), r.BytesRead())
	// Completion order mixes the streams; each stream keeps its own order.
	var gotA, gotV []*Message
	for _, m := range msgs {
		if m.TypeID == TypeAudio {
			gotA = append(gotA, m)
		} else {
			gotV = append(gotV, m)
		}
	}
	require.Equal(t, wantA, gotA)
	require.Equal(t, wantV, gotV)
}

// TestChunkReaderAllocationFollowsData: a peer declaring a huge message with a
// huge chunk size must not make us allocate what it has not sent.
func TestChunkReaderAllocationFollowsData(t *testing.T) {
	cases := []struct {
		name     string
		declared int
		sent     int
		maxAlloc uint64
	}{
		{"8 MiB declared, 100 bytes sent", 8 << 20, 100, 256 << 10},
		{"8 MiB declared, 1 MiB sent", 8 << 20, 1 << 20, 5 << 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := join(wH0(2, 0, 4, TypeSetChunkSize, 0), be32(MaxChunkSize), wH0(6, 0, c.declared, TypeVideo, 1),
				testPayload(c.sent, 0))
			r := NewChunkReader(bufio.NewReader(bytes.NewReader(in)), 0)
			_, err := r.ReadMessage()
			require.NoError(t, err)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err = r.ReadMessage()
			runtime.ReadMemStats(&after)
			require.ErrorIs(t, err, io.ErrUnexpectedEOF)
			require.Less(t, after.TotalAlloc-before.TotalAlloc, c.maxAlloc)
		})
	}
}

func TestChunkReaderDefaults(t *testing.T) {
	r := NewChunkReader(bufio.NewReader(bytes.NewReader(nil)), 0)
	require.Equal(t, DefaultChunkSize, r.ChunkSize())
	require.Equal(t, DefaultMaxMessageSize, r.maxMessageSize)
	require.Zero(t, r.BytesRead())
}

// errAfterReader returns data, then err (e.g. a deadline).
type errAfterReader struct {
	data []byte
	err  error
}

func (e *errAfterReader) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestChunkReaderPropagatesReadErrors(t *testing.T) {
	errDeadline := errors.New("i/o timeout")
	for _, in := range [][]byte{
		nil,
		wH0(4, 0, 3, TypeAudio, 1)[:5],
		join(wH0(4, 0x01000000, 200, TypeVideo, 1), testPayload(128, 0), wH3(4), []byte{1, 0}), // peeking ext ts
	} {
		r := NewChunkReader(bufio.NewReader(&errAfterReader{data: in, err: errDeadline}), 0)
		_, err := r.ReadMessage()
		require.ErrorIs(t, err, errDeadline)
	}
}

// probeReader feeds data and calls probe before each read the bufio.Reader
// makes, so a test can watch the chunk reader between reads.
type probeReader struct {
	data  []byte
	max   int // bytes per read, 0: all
	probe func()
}

func (p *probeReader) Read(b []byte) (int, error) {
	if p.probe != nil {
		p.probe()
	}
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	if p.max > 0 && len(b) > p.max {
		b = b[:p.max]
	}
	n := copy(b, p.data)
	p.data = p.data[n:]
	return n, nil
}

// TestChunkReaderBufferFollowsArrival: a message's buffer is never more
// than twice the payload that arrived for it, whatever length it declares,
// however the bytes are split into chunks and reads.
func TestChunkReaderBufferFollowsArrival(t *testing.T) {
	for _, c := range []struct {
		name      string
		chunkSize uint32
		sent      int
		readSize  int // bytes per underlying read, 0: as much as bufio asks
		bufSize   int
	}{
		{"one huge chunk, 1 byte sent", MaxChunkSize, 1, 0, 4096},
		{"one huge chunk, 100 bytes sent", MaxChunkSize, 100, 0, 4096},
		{"one huge chunk, 1 MiB sent", MaxChunkSize, 1 << 20, 0, 64 << 10},
		{"one huge chunk, 1 MiB sent in 1000-byte reads", MaxChunkSize, 1 << 20, 1000, 64 << 10},
		{"128-byte chunks, 10 chunks sent", 128, 1280, 0, 4096},
		{"4096-byte chunks, 300 KB sent", 4096, 300000, 0, 64 << 10},
		{"4096-byte chunks, 300 KB sent, 16-byte read buffer", 4096, 300000, 0, 16},
	} {
		t.Run(c.name, func(t *testing.T) {
			const declared = 8<<20 - 1
			in := join(wH0(2, 0, 4, TypeSetChunkSize, 0), be32(c.chunkSize), wH0(6, 0, declared, TypeVideo, 1))
			p := testPayload(c.sent, 1)
			for off := 0; off < len(p); off += int(c.chunkSize) {
				if off > 0 {
					in = append(in, wH3(6)...)
				}
				in = append(in, p[off:min(len(p), off+int(c.chunkSize))]...)
			}
			var r *ChunkReader
			peak := 0
			src := &probeReader{data: in, max: c.readSize, probe: func() {
				if r != nil {
					peak = max(peak, r.PartialBytes())
				}
			}}
			r = NewChunkReader(bufio.NewReaderSize(src, c.bufSize), 0)
			_, err := r.ReadMessage() // set chunk size
			require.NoError(t, err)
			_, err = r.ReadMessage()
			// The input ends inside the message, between chunks or not.
			require.True(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF), "got %v", err)
			peak = max(peak, r.PartialBytes())
			require.GreaterOrEqual(t, r.PartialBytes(), c.sent)
			require.LessOrEqual(t, peak, 2*c.sent, "allocated more than twice what arrived")
			requireHeldAccounted(t, r)
		})
	}
}

// TestChunkReaderPartialBudget: the buffers of all messages in progress
// share one budget; exceeding it is an error naming the value and the
// limit, and complete or aborted messages give their bytes back.
func TestChunkReaderPartialBudget(t *testing.T) {
	a, b := testPayload(600, 1), testPayload(600, 2)
	// Two 600-byte messages whose 128-byte chunks alternate.
	var in []byte
	for off := 0; off < 600; off += 128 {
		for _, m := range []struct {
			csid uint32
			p    []byte
		}{{4, a}, {6, b}} {
			if off == 0 {
				in = append(in, wH0(m.csid, 0, 600, TypeVideo, 1)...)
			} else {
				in = append(in, wH3(m.csid)...)
			}
			in = append(in, m.p[off:min(600, off+128)]...)
		}
	}
	t.Run("shared by the chunk streams", func(t *testing.T) {
		r := NewChunkReader(bufio.NewReader(bytes.NewReader(in)), 0)
		r.SetMaxPartialBytes(1000)
		_, err := r.ReadMessage()
		require.EqualError(t, err, "rtmp: partial messages would hold 1200 bytes, exceeding the limit of 1000 (chunk stream 6, type 9, 256 of 600 bytes received)")
		require.LessOrEqual(t, r.PartialBytes(), 1000)
	})
	t.Run("given back when complete", func(t *testing.T) {
		r := NewChunkReader(bufio.NewReader(bytes.NewReader(in)), 0)
		r.SetMaxPartialBytes(1200)
		msgs := []*Message{}
		for {
			m, err := r.ReadMessage()
			if err != nil {
				require.ErrorIs(t, err, io.EOF)
				break
			}
			msgs = append(msgs, m)
		}
		require.Equal(t, []*Message{msg(TypeVideo, 1, 0, a), msg(TypeVideo, 1, 0, b)}, msgs)
		require.Zero(t, r.PartialBytes())
	})
	t.Run("given back when aborted", func(t *testing.T) {
		in := join(wH0(4, 0, 600, TypeVideo, 1), a[:128], wH0(2, 0, 4, TypeAbort, 0), be32(4))
		r := NewChunkReader(bufio.NewReader(bytes.NewReader(in)), 0)
		m, err := r.ReadMessage()
		require.NoError(t, err)
		require.Equal(t, TypeAbort, m.TypeID)
		require.Zero(t, r.PartialBytes())
	})
	t.Run("one message over the budget", func(t *testing.T) {
		// The whole message is buffered: its buffer would be its length.
		in := join(wH0(2, 0, 4, TypeSetChunkSize, 0), be32(4096), wH0(6, 0, 5000, TypeVideo, 1), testPayload(4096, 0),
			wH3(6), testPayload(904, 0))
		r := NewChunkReader(bufio.NewReader(bytes.NewReader(in)), 0)
		r.SetMaxPartialBytes(4999)
		_, err := r.ReadMessage()
		require.NoError(t, err)
		_, err = r.ReadMessage()
		require.EqualError(t, err, "rtmp: partial messages would hold 5000 bytes, exceeding the limit of 4999 (chunk stream 6, type 9, 0 of 5000 bytes received)")
	})
	t.Run("default is twice the message limit", func(t *testing.T) {
		r := NewChunkReader(bufio.NewReader(bytes.NewReader(nil)), 1000)
		require.Equal(t, 2000, r.maxHeld)
		r.SetMaxPartialBytes(5)
		r.SetMaxPartialBytes(0)
		require.Equal(t, 2000, r.maxHeld)
	})
}
