package flv

import (
	"testing"

	"github.com/ripplemedia/ripple/pkg/av"
)

func BenchmarkPacketFromTag(b *testing.B) {
	frame := make([]byte, 4000)
	cases := []struct {
		name    string
		tagType uint8
		body    []byte
	}{
		{"avc nalu", TagVideo, cat(0x27, 1, 0, 0, 0x28, frame)},
		{"hvc1 coded frames", TagVideo, cat(0x91, "hvc1", 0, 0, 0x28, frame)},
		{"hvc1 modex", TagVideo, cat(0x97, 2, 0, 0, 1, 0x01, "hvc1", 0, 0, 0x28, frame)},
		{"legacy hevc rewrite", TagVideo, cat(0x2C, 1, 0, 0, 0x28, frame)},
		{"aac raw", TagAudio, cat(0xAF, 1, frame[:300])},
		{"opus", TagAudio, cat(0x91, "Opus", frame[:100])},
		{"setDataFrame", TagScript, cat(2, 0, 13, "@setDataFrame", amfMeta)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := PacketFromTag(c.tagType, 1000, c.body)
				if err != nil || p == nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVideoPayload(b *testing.B) {
	p, err := PacketFromTag(TagVideo, 0, cat(0x91, "hvc1", 0, 0, 0x28, make([]byte, 4000)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(VideoPayload(p)) != 4000 {
			b.Fatal("bad payload")
		}
	}
}

func BenchmarkSplitTracks(b *testing.B) {
	frame := make([]byte, 4000)
	cases := []struct {
		name string
		body []byte
	}{
		{"avc nalu no tracks", cat(0x27, 1, 0, 0, 0x28, frame)},
		{"one track 0", cat(0xA6, 0x01, "avc1", 0, 0, 0, 0x28, frame)},
		{"one track 1", cat(0xA6, 0x01, "avc1", 1, 0, 0, 0x28, frame)},
		{"three tracks", cat(0xA6, 0x11, "avc1", sized(0, 0, 0, 0x28, frame), sized(1, 0, 0, 0x28, frame[:2000]), sized(2, 0, 0, 0x28, frame[:800]))},
	}
	dst := make([]*av.Packet, 0, MaxTracks)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				pkts, err := SplitTracks(dst, TagVideo, 1000, c.body)
				if err != nil || len(pkts) == 0 {
					b.Fatal(err)
				}
			}
		})
	}
}
