package hls

import (
	"testing"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// BenchmarkSegmentWrite measures the segmenter's cost per packet of a
// 2.2 Mbit/s 720p30 stream (40 KB keyframes every 2 s, 7.5 KB inter frames,
// AAC at 44.1 kHz): muxing into the container and cutting segments, with
// no hub and no HTTP. One op is one packet; MB/s is media throughput.
func BenchmarkSegmentWrite(b *testing.B) {
	for _, v := range []Variant{VariantMPEGTS, VariantFMP4} {
		b.Run(v.String(), func(b *testing.B) {
			gen := mediatest.New(mediatest.Config{GOP: 60, Width: 1280, Height: 720, KeySize: 40000, FrameSz: 7500, AudioSz: 280})
			cfg := Config{Variant: v, SegmentCount: 6}
			cfg = cfg.withDefaults()
			m := newMedia("live/bench", v, &cfg, time.Unix(1_700_000_000, 0))
			s := newSegmenter(m, &cfg, nil)
			vt, err := parseVideoConfig(av.CodecH264, flv.VideoPayload(gen.VideoHeader()))
			if err != nil {
				b.Fatal(err)
			}
			at, err := parseAudioConfig(av.CodecAAC, flv.AudioPayload(gen.AudioHeader()))
			if err != nil {
				b.Fatal(err)
			}
			if err := s.configure(vt, at); err != nil {
				b.Fatal(err)
			}
			// Pre-generate a minute of packets and replay them with rising
			// timestamps, so the loop measures the segmenter only.
			pool := gen.Packets(60 * (30 + 44))
			span := pool[len(pool)-1].DTS + 33
			var bytes int64
			for _, p := range pool {
				bytes += int64(len(p.Data))
			}
			b.SetBytes(bytes / int64(len(pool)))
			b.ReportAllocs()
			var shift int64
			i := 0
			for b.Loop() {
				p := pool[i]
				if p.Kind == av.KindVideo {
					err = s.video(p.DTS+shift, p.CTS, p.Keyframe, flv.VideoPayload(p))
				} else {
					err = s.audio(p.DTS+shift, flv.AudioPayload(p))
				}
				if err != nil {
					b.Fatal(err)
				}
				if i++; i == len(pool) {
					i, shift = 0, shift+span
				}
			}
		})
	}
}
