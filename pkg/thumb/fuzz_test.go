package thumb

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// FuzzBuildInput feeds arbitrary FLV tag sequences (mediatest.PipelineTags,
// the pipeline fuzzers' input, seeded with their streams) through RTMP
// ingest's classification, without the ingest validator, and builds the
// decoder input of every keyframe with the header before it: no panic,
// and an input within the limit or an error.
func FuzzBuildInput(f *testing.F) {
	for _, seed := range mediatest.PipelineSeeds(f) {
		f.Add(seed)
	}
	const limit = 16 << 10
	f.Fuzz(func(t *testing.T, data []byte) {
		var hdr *av.Packet
		for _, tag := range mediatest.PipelineTags(data) {
			p, err := mediatest.IngestPacket(tag)
			if err != nil || p == nil || p.Kind != av.KindVideo {
				continue
			}
			switch {
			case p.Header:
				hdr = p
			case p.Keyframe:
				in, err := buildInput(hdr, p, limit)
				if err != nil {
					continue
				}
				require.NotEmpty(t, in.format)
				require.NotEmpty(t, in.data)
				require.LessOrEqual(t, len(in.data), limit)
			}
		}
	})
}
