package rtmp

import (
	"bufio"
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func FuzzChunkReader(f *testing.F) {
	for _, c := range readerCases() {
		if len(c.in) < 8192 {
			f.Add(c.in)
		}
	}
	w := NewChunkWriter()
	seed := w.AppendMessage(nil, 2, SetChunkSizeMessage(300))
	w.SetChunkSize(300)
	seed = w.AppendMessage(seed, 4, &Message{TypeID: TypeAggregate, StreamID: 1, Timestamp: 0x1000000,
		Payload: append(aggSub(TypeAudio, 1, 0, []byte{0xAF, 1}), aggSub(TypeVideo, 2, 0, testPayload(400, 1))...)})
	seed = w.AppendMessage(seed, 2, UserControlMessage(EventSetBufferLength, 1, 100))
	f.Add(seed)
	// Two interleaved partial messages that outgrow the budget.
	over := join(wH0(2, 0, 4, TypeSetChunkSize, 0), be32(4096))
	for i := range 4 {
		for _, csid := range []uint32{4, 6} {
			if i == 0 {
				over = append(over, wH0(csid, 0, 60000, TypeVideo, 1)...)
			} else {
				over = append(over, wH3(csid)...)
			}
			over = append(over, testPayload(4096, byte(csid))...)
		}
	}
	f.Add(over)
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewChunkReader(bufio.NewReader(bytes.NewReader(in)), 1<<16)
		r.SetMaxPartialBytes(3 << 14) // below 2 × the message limit: both limits are reached
		for {
			m, err := r.ReadMessage()
			if err != nil {
				break
			}
			require.LessOrEqual(t, len(m.Payload), 1<<16)
			switch m.TypeID {
			case TypeAggregate:
				_, _ = SplitAggregate(m)
			case TypeUserControl:
				_, _, _ = ParseUserControl(m.Payload)
			}
		}
		require.LessOrEqual(t, r.BytesRead(), uint64(len(in)))
		require.GreaterOrEqual(t, r.partial, 0)
		requireHeldAccounted(t, r)
	})
}

// requireHeldAccounted checks the partial-message accounting of r: held is
// the capacity of the buffers of the messages in progress, within the
// budget, and no buffer is more than twice the payload that arrived for it.
func requireHeldAccounted(t *testing.T, r *ChunkReader) {
	t.Helper()
	sum := 0
	check := func(cs *chunkStream) {
		if cs == nil {
			return
		}
		if !cs.inMessage {
			require.Nil(t, cs.buf)
			return
		}
		require.LessOrEqual(t, cap(cs.buf), 2*len(cs.buf))
		require.LessOrEqual(t, cap(cs.buf), int(cs.length))
		sum += cap(cs.buf)
	}
	for _, cs := range r.low {
		check(cs)
	}
	for _, cs := range r.high {
		check(cs)
	}
	require.Equal(t, sum, r.PartialBytes())
	require.LessOrEqual(t, r.PartialBytes(), r.maxHeld)
}

// FuzzChunkRoundTrip: any message the writer frames, the reader returns intact.
func FuzzChunkRoundTrip(f *testing.F) {
	f.Add(uint32(128), uint32(3), uint32(0), uint8(20), uint32(0), []byte("connect"))
	f.Add(uint32(1), uint32(65599), uint32(0xFFFFFF), uint8(9), uint32(1), testPayload(300, 1))
	f.Add(uint32(MaxChunkSize), uint32(320), uint32(0xFFFFFFFF), uint8(8), uint32(7), testPayload(5000, 2))
	f.Fuzz(func(t *testing.T, cs, csid, ts uint32, typ uint8, msid uint32, payload []byte) {
		cs = max(cs%MaxChunkSize, 1)
		if cs < 16 && len(payload) > 4096 {
			payload = payload[:4096]
		}
		csid = 2 + csid%65598
		m := &Message{TypeID: typ, StreamID: msid, Timestamp: ts, Payload: payload}
		w := NewChunkWriter()
		buf := w.AppendMessage(nil, 2, SetChunkSizeMessage(cs))
		w.SetChunkSize(int(cs))
		buf = w.AppendMessage(buf, csid, m)
		buf = w.AppendMessage(buf, csid, m) // a second one on the same csid
		msgs, _, err := readAll(buf, 1<<20)
		if typ == TypeSetChunkSize || typ == TypeAbort {
			return // the payload is interpreted, covered by FuzzChunkReader
		}
		require.ErrorIs(t, err, io.EOF)
		require.Len(t, msgs, 3)
		if len(payload) == 0 {
			m.Payload = []byte{}
		}
		require.Equal(t, m, msgs[1])
		require.Equal(t, m, msgs[2])
	})
}

// synthStream returns ten seconds of a publish framed as OBS does (chunk size
// 4096): 30 fps video with a keyframe every 2 s and 44.1 kHz AAC (~370-byte
// frames, 43 per second).
func synthStream(keyframe, inter int) []byte {
	w := NewChunkWriter()
	buf := w.AppendMessage(nil, 2, SetChunkSizeMessage(4096))
	w.SetChunkSize(4096)
	video, audio := 0.0, 0.0
	for ms := 0.0; ms < 10000; ms++ {
		if ms >= video {
			n := inter
			if int(video)%2000 < 33 {
				n = keyframe
			}
			buf = w.AppendMessage(buf, 6, &Message{TypeID: TypeVideo, StreamID: 1, Timestamp: uint32(video), Payload: testPayload(n, 9)})
			video += 1000.0 / 30
		}
		if ms >= audio {
			buf = w.AppendMessage(buf, 4, &Message{TypeID: TypeAudio, StreamID: 1, Timestamp: uint32(audio), Payload: testPayload(370, 8)})
			audio += 1024000.0 / 44100
		}
	}
	return buf
}

// BenchmarkChunkReader: "2Mbps" has 60 KB keyframes, "6Mbps" 250 KB ones.
// Buffers follow what has arrived (ChunkReader.grow): a frame whose chunks
// are all in the 64 KiB read buffer gets one allocation of its size; one
// that spans several buffer fills (a 250 KB keyframe) grows in a few
// doubling steps as its chunks arrive.
func BenchmarkChunkReader(b *testing.B) {
	for _, c := range []struct {
		name            string
		keyframe, inter int
	}{
		{"2Mbps", 60000, 7500},
		{"6Mbps", 250000, 21000},
	} {
		b.Run(c.name, func(b *testing.B) {
			stream := synthStream(c.keyframe, c.inter)
			br := bufio.NewReaderSize(nil, 64<<10)
			src := bytes.NewReader(stream)
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			msgs := 0
			for b.Loop() {
				src.Reset(stream)
				br.Reset(src)
				r := NewChunkReader(br, 0)
				for {
					if _, err := r.ReadMessage(); err != nil {
						break
					}
					msgs++
				}
			}
			b.ReportMetric(float64(msgs)/float64(b.N), "msgs/op")
		})
	}
}
