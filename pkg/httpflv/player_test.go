package httpflv

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
)

// recordSink keeps what a player adds, flush by flush.
type recordSink struct {
	cur     [][]byte
	flushes [][][]byte
}

func (s *recordSink) add(b []byte) { s.cur = append(s.cur, b) }
func (s *recordSink) flush() error {
	s.flushes = append(s.flushes, s.cur)
	s.cur = nil
	return nil
}
func (s *recordSink) bytes() uint64 { return 0 }

// tags returns the tags written (one slice each: flv.TagBytes).
func (s *recordSink) tags() [][]byte {
	var out [][]byte
	for _, f := range s.flushes {
		out = append(out, f...)
	}
	return out
}

func TestPlayerDropPolicy(t *testing.T) {
	meta := metaPacket(metaAV...)
	vs, as := videoSeq(0), audioSeq(0)
	a0, p0, k1, a1, p1 := audioFrame(0), videoInter(0), videoKey(40), audioFrame(45), videoInter(80)
	xm := videoExMetadata(40)
	cases := []struct {
		name       string
		hasA, hasV bool
		in, want   []*av.Packet
	}{
		{"A+V starts at keyframe", true, true,
			[]*av.Packet{meta, vs, as, a0, p0, k1, a1, p1},
			[]*av.Packet{meta, vs, as, k1, a1, p1}},
		{"video-only drops audio", false, true,
			[]*av.Packet{meta, vs, as, a0, k1, a1, p1},
			[]*av.Packet{meta, vs, k1, p1}},
		{"audio-only drops video", true, false,
			[]*av.Packet{meta, vs, as, a0, p0, k1, a1},
			[]*av.Packet{meta, as, a0, a1}},
		{"E-RTMP metadata dropped", true, true,
			[]*av.Packet{vs, as, k1, xm, a1, p1},
			[]*av.Packet{vs, as, k1, a1, p1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &recordSink{}
			p := &player{sink: s, hasAudio: tc.hasA, hasVideo: tc.hasV, started: !tc.hasV}
			require.NoError(t, p.writePackets(tc.in, true))
			got := s.tags()
			require.Len(t, got, len(tc.want))
			for i, w := range tc.want {
				require.Equal(t, unsafe.SliceData(flv.TagBytes(w)), unsafe.SliceData(got[i]),
					"tag %d is the packet's shared, once-encoded tag", i)
			}
			require.Equal(t, uint64(len(tc.in)-len(tc.want)), p.skipped)
		})
	}
}

func TestPlayerSplitsLargeBatches(t *testing.T) {
	s := &recordSink{}
	p := &player{sink: s, hasVideo: true}
	big := make([]byte, maxWrite/2+1)
	pkts := []*av.Packet{videoSeq(0)}
	for i := range 4 {
		pkts = append(pkts, &av.Packet{Kind: av.KindVideo, Keyframe: i == 0, DTS: int64(i * 40), Data: big})
	}
	require.NoError(t, p.writePackets(pkts, true))
	require.Len(t, s.flushes, 2, "each write stays near maxWrite")
	require.Len(t, s.tags(), 5)
}
