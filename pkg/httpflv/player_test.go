package httpflv

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/internal/batch"
)

// recordSink keeps what a player writes, write by write: the batch writer
// writes each slice of a batch to it, then calls Flush.
type recordSink struct {
	cur     [][]byte
	flushes [][][]byte
}

func (s *recordSink) Write(b []byte) (int, error) {
	s.cur = append(s.cur, b)
	return len(b), nil
}

func (s *recordSink) Flush() error {
	s.flushes = append(s.flushes, s.cur)
	s.cur = nil
	return nil
}

// recordPlayer returns a player writing to s without framing.
func recordPlayer(s *recordSink, hasAudio, hasVideo, started bool) *player {
	w := batch.NewWriter(batch.NewOut(s, 0, 0), nil, 0)
	return &player{w: w, hasAudio: hasAudio, hasVideo: hasVideo, started: started}
}

// writeBatch frames pkts as one wake-up's worth and flushes, as run does.
func (p *player) writeBatch(pkts []*av.Packet) error {
	for _, pk := range pkts {
		if err := p.Frame(pk); err != nil {
			return err
		}
	}
	return p.flush()
}

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
			p := recordPlayer(s, tc.hasA, tc.hasV, !tc.hasV)
			require.NoError(t, p.writeBatch(tc.in))
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
	p := recordPlayer(s, false, true, false)
	big := make([]byte, batch.MaxBytes/2+1)
	pkts := []*av.Packet{videoSeq(0)}
	for i := range 4 {
		pkts = append(pkts, &av.Packet{Kind: av.KindVideo, Keyframe: i == 0, DTS: int64(i * 40), Data: big})
	}
	require.NoError(t, p.writeBatch(pkts))
	require.Len(t, s.flushes, 2, "each write stays near batch.MaxBytes")
	require.Len(t, s.tags(), 5)
}
