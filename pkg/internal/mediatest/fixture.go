package mediatest

import (
	"testing"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
)

// LoadFLV reads an FLV file (e.g. a media/ clip) into packets, as RTMP ingest
// would make them: one flv.PacketFromTag per tag (LoadFLVTags), ignored tags
// skipped.
func LoadFLV(tb testing.TB, path string) []*av.Packet {
	tb.Helper()
	var out []*av.Packet
	for _, tag := range LoadFLVTags(tb, path) {
		p, err := flv.PacketFromTag(tag.Type, tag.Timestamp, tag.Body)
		if err != nil {
			tb.Fatalf("mediatest: %s: tag at %d ms: %v", path, tag.Timestamp, err)
		}
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}
