package mediatest

import (
	"errors"
	"io"
	"os"
	"testing"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
)

// LoadFLV reads an FLV file (e.g. a media/ clip) into packets, as RTMP ingest
// would make them: one flv.PacketFromTag per tag, ignored tags skipped.
func LoadFLV(tb testing.TB, path string) []*av.Packet {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("mediatest: %v", err)
	}
	defer f.Close()
	r := flv.NewReader(f)
	if _, err := r.ReadHeader(); err != nil {
		tb.Fatalf("mediatest: %s: %v", path, err)
	}
	var out []*av.Packet
	for {
		tag, err := r.ReadTag()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatalf("mediatest: %s: %v", path, err)
		}
		p, err := flv.PacketFromTag(tag.Type, tag.Timestamp, tag.Body)
		if err != nil {
			tb.Fatalf("mediatest: %s: tag at %d ms: %v", path, tag.Timestamp, err)
		}
		if p != nil {
			out = append(out, p)
		}
	}
}
