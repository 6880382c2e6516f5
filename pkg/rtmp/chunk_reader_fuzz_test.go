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
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewChunkReader(bufio.NewReader(bytes.NewReader(in)), 1<<16)
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
	})
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

// BenchmarkChunkReader: "2Mbps" has 60 KB keyframes (one allocation per
// message); "6Mbps" has 250 KB keyframes, which exceed preallocLimit and grow
// 64 KiB -> 128 KiB -> 250 KB as their chunks arrive.
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
