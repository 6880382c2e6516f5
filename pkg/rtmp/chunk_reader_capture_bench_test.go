package rtmp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/ripplemedia/ripple/pkg/flv"
)

// BenchmarkChunkReaderCapture reads a real capture rather than synthetic
// sizes: the tags of an FLV file (RIPPLE_BENCH_FLV, e.g. the 2.2 Mbit/s clip
// scripts/bench.sh encodes, or media/h264_aac_gop2s.flv) chunked at 4096
// bytes as OBS sends them. One op is the whole capture.
func BenchmarkChunkReaderCapture(b *testing.B) {
	path := os.Getenv("RIPPLE_BENCH_FLV")
	if path == "" {
		path = "../../media/h264_aac_gop2s.flv"
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := flv.NewReader(f)
	if _, err := r.ReadHeader(); err != nil {
		b.Fatal(err)
	}
	w := NewChunkWriter()
	stream := w.AppendMessage(nil, 2, SetChunkSizeMessage(4096))
	w.SetChunkSize(4096)
	msgs := 0
	for {
		t, err := r.ReadTag()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		csid := map[uint8]uint32{flv.TagAudio: 4, flv.TagVideo: 6, flv.TagScript: 5}[t.Type]
		stream = w.AppendMessage(stream, csid, &Message{TypeID: t.Type, StreamID: 1, Timestamp: t.Timestamp, Payload: t.Body})
		msgs++
	}
	br := bufio.NewReaderSize(nil, 64<<10)
	src := bytes.NewReader(stream)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(stream)
		br.Reset(src)
		cr := NewChunkReader(br, 0)
		for {
			if _, err := cr.ReadMessage(); err != nil {
				break
			}
		}
	}
	b.ReportMetric(float64(msgs+1), "msgs/op")
}
