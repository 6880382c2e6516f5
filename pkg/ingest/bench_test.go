package ingest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// framePath holds one packet per kind of frame Check sees at 25–60 per
// second, after the header that sets their track's state.
func framePath(tb testing.TB) []struct {
	name   string
	header *av.Packet
	frame  *av.Packet
} {
	pkt := func(tag uint8, body []byte) *av.Packet {
		p, err := flv.PacketFromTag(tag, 0, body)
		require.NoError(tb, err)
		return p
	}
	slices := make([][]byte, 8) // a sliced 1080p-like keyframe: SEI + 8 slices of 4 KiB
	for i := range slices {
		slices[i] = append([]byte{0x65}, make([]byte, 4095)...)
	}
	g := mediatest.New(mediatest.Config{})
	return []struct {
		name   string
		header *av.Packet
		frame  *av.Packet
	}{
		{"h264", pkt(tv, avcOK), pkt(tv, avcFrame(true, au(4, append([][]byte{sei}, slices...)...)))},
		{"hevc", pkt(tv, hevcOK), pkt(tv, hevcFrame(false, au(4, hTrail, make([]byte, 2000))))},
		{"av1", pkt(tv, exVideo(keyFrame, ptSequenceStart, "av01", av1C(av1Seq...))), pkt(tv, exVideo(interFrame, ptCodedFrames, "av01", cat(av1Frame, av1Frame)))},
		{"hevc multitrack", pkt(tv, hevcOK), pkt(tv, mtVideo(interFrame, manyTracks, ptCodedFrames, "hvc1",
			mtTrack{id: 0, body: cat(cts0, au(4, hTrail))}, mtTrack{id: 1, body: cat(cts0, au(4, hTrail))}))},
		{"aac", g.AudioHeader(), g.NextAudio()},
		{"data", g.Metadata(), g.Metadata()},
	}
}

// TestCheckAllocs: the frame path does not allocate.
func TestCheckAllocs(t *testing.T) {
	for _, c := range framePath(t) {
		v := New()
		require.NoError(t, v.Check(c.header))
		require.NoError(t, v.Check(c.frame), c.name)
		require.Zero(t, testing.AllocsPerRun(100, func() { _ = v.Check(c.frame) }), c.name)
	}
}

func BenchmarkCheck(b *testing.B) {
	for _, c := range framePath(b) {
		b.Run(c.name, func(b *testing.B) {
			v := New()
			if err := v.Check(c.header); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Check(c.frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("avc header", func(b *testing.B) {
		v := New()
		p, _ := flv.PacketFromTag(tv, 0, avcOK)
		b.ReportAllocs()
		for b.Loop() {
			if err := v.Check(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
