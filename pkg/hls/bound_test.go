package hls

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// buffered is what the muxer holds for the segment in progress and before
// the tracks are known, in bytes.
func (f *muxFixture) buffered() int {
	n := f.mx.pendingN
	if f.mx.seg.c != nil {
		n += f.mx.seg.c.size()
	}
	return n
}

// TestKeyframelessStreamBounded: an encoder that sends one keyframe and
// then none (intra refresh, or hostile) no longer grows the segment in
// progress at the ingest rate: segments are cut at the byte and duration
// limits, are not independent, and the target duration stays capped.
func TestKeyframelessStreamBounded(t *testing.T) {
	const maxBytes = 1 << 20
	cases := []struct {
		name    string
		frameSz int
		maxDur  time.Duration // config; 0: default 3 × 2 s
		cutDur  time.Duration // every segment after the first lasts this long, 0: bytes decide
	}{
		{"1.2 MB/s cut by size", 40_000, 0, 0},
		{"cut by duration", 2_000, 0, 6 * time.Second},
		{"configured duration", 2_000, 4 * time.Second, 4 * time.Second},
	}
	for _, v := range variants {
		for _, tc := range cases {
			t.Run(v.String()+"/"+tc.name, func(t *testing.T) {
				f := newMuxFixture(t, v, hub.StreamInfo{HasVideo: true, VideoCodec: av.CodecH264}, func(c *Config) {
					c.SegmentCount, c.SegmentKeep = 10, 0
					c.SegmentMaxBytes, c.SegmentMaxDuration = maxBytes, tc.maxDur
				})
				f.send(mediatest.VideoHeader(0, 320, 240))
				// 31 s at 30 fps: one keyframe, then inter frames that
				// share one payload (packets are immutable).
				inter := mediatest.VideoFrame(0, false, tc.frameSz, 1)
				for i := range 31 * 30 {
					p := mediatest.VideoFrame(0, true, tc.frameSz, 0)
					if i > 0 {
						p = &av.Packet{Kind: inter.Kind, Codec: inter.Codec, Data: inter.Data}
					}
					p.DTS = int64(i) * 1000 / 30
					f.send(p)
					require.LessOrEqual(t, int64(f.buffered()), f.cfg.SegmentMaxBytes, "frame %d", i)
				}
				f.checkFiles(t)
				segs := f.segments()
				require.GreaterOrEqual(t, len(segs), 5)
				for i, s := range segs {
					require.Equal(t, s.msn == 0, s.independent, s.name)
					require.LessOrEqual(t, s.size, maxBytes, s.name)
					if tc.cutDur > 0 && i < len(segs)-1 {
						require.Equal(t, tc.cutDur, s.dur, s.name)
					}
				}
				md := f.media()
				md.mu.Lock()
				target := md.target
				md.mu.Unlock()
				want := 6
				if tc.maxDur > 0 {
					want = 4
				}
				require.LessOrEqual(t, target, want)
				require.Equal(t, 1, f.log.count("hls segment cut without a keyframe"), "one line per stream")
				require.Equal(t, f.mx.seg.msn, f.mx.seg.forcedCuts, "every cut was forced")

				pl := f.playlist()
				require.NotContains(t, pl, "#EXT-X-INDEPENDENT-SEGMENTS")
				if v != VariantMPEGTS {
					md.mu.Lock()
					mv := string(md.renderMultivariantLocked("", ""))
					md.mu.Unlock()
					require.NotContains(t, mv, "#EXT-X-INDEPENDENT-SEGMENTS")
				}
				require.NotContains(t, pl, "INDEPENDENT=YES", "no part after the first keyframe's")
			})
		}
	}
}

// TestIndependentAgain: once the segments cut without a keyframe have left
// the playlist, it claims EXT-X-INDEPENDENT-SEGMENTS again.
func TestIndependentAgain(t *testing.T) {
	f := newMuxFixture(t, VariantFMP4, hub.StreamInfo{HasVideo: true, VideoCodec: av.CodecH264}, func(c *Config) {
		c.SegmentCount, c.SegmentKeep = 3, 0
	})
	gen := mediatest.New(mediatest.Config{NoAudio: true, GOP: 400}) // a keyframe every 13.3 s
	f.send(gen.VideoHeader())
	f.sendGen(gen, 20*time.Second)
	require.NotContains(t, f.playlist(), "#EXT-X-INDEPENDENT-SEGMENTS")
	f.mx.seg.segDur = 2000
	gen2 := mediatest.New(mediatest.Config{NoAudio: true, StartTS: 20_000})
	f.sendGen(gen2, 32*time.Second)
	require.Contains(t, f.playlist(), "#EXT-X-INDEPENDENT-SEGMENTS\n")
}

// TestSegmentDurationCapOverGaps: a DTS gap short of a discontinuity
// still never makes an EXTINF exceed the target duration.
func TestSegmentDurationCapOverGaps(t *testing.T) {
	for _, v := range variants {
		t.Run(v.String(), func(t *testing.T) {
			f := newMuxFixture(t, v, hub.StreamInfo{HasVideo: true, VideoCodec: av.CodecH264}, func(c *Config) {
				c.SegmentDuration, c.SegmentMaxDuration = time.Second, 3*time.Second
			})
			gen := mediatest.New(mediatest.Config{NoAudio: true})
			f.send(gen.VideoHeader())
			var ts uint32
			for i := range 40 {
				f.send(mediatest.VideoFrame(ts, i%10 == 0, 500, byte(i)))
				ts += 33
				if i%5 == 4 {
					ts += 4500 // under the 5 s jump threshold
				}
			}
			f.checkFiles(t)
			segs := f.segments()
			require.NotEmpty(t, segs)
			for _, s := range segs {
				require.LessOrEqual(t, s.dur, 3*time.Second, s.name)
			}
			require.Contains(t, f.playlist(), "#EXT-X-TARGETDURATION:3\n")
		})
	}
}

// TestTinyNALUsBounded: 1-byte NAL units with 1-byte lengths grow most
// when rewritten with start codes or 4-byte lengths; the size limit holds
// for them too.
func TestTinyNALUsBounded(t *testing.T) {
	const maxBytes = 1 << 20
	for _, v := range variants {
		t.Run(v.String(), func(t *testing.T) {
			f := newMuxFixture(t, v, hub.StreamInfo{HasVideo: true, VideoCodec: av.CodecH264}, func(c *Config) {
				c.SegmentMaxBytes = maxBytes
				c.SegmentCount, c.SegmentKeep = 10, 0
			})
			f.send(avcHeader(t, 0, 1, mediatest.SPS(320, 240), mediatest.PPS()))
			nalus := make([][]byte, 5_000)
			for i := range nalus {
				nalus[i] = []byte{0x41} // a 1-byte non-IDR slice
			}
			for i := range 150 {
				key := i == 0
				if key {
					nalus[0] = []byte{0x65}
				} else {
					nalus[0] = []byte{0x41}
				}
				f.send(avcFrame(t, uint32(i*33), key, 1, nalus...))
				require.LessOrEqual(t, f.buffered(), maxBytes)
			}
			require.GreaterOrEqual(t, len(f.segments()), 3)
			f.checkFiles(t)
		})
	}
}

// TestPendingBounded: packets held before the tracks are known are
// bounded in bytes too, not only in count.
func TestPendingBounded(t *testing.T) {
	const maxBytes = 1 << 20
	big := mediatest.VideoFrame(0, true, 200_000, 1)
	t.Run("a header missing", func(t *testing.T) {
		// The hub says there is audio, its header never comes, and the
		// timestamps never advance: only the byte limit starts the muxer.
		f := newMuxFixture(t, VariantFMP4, streamAV, func(c *Config) { c.SegmentMaxBytes = maxBytes })
		f.send(mediatest.New(mediatest.Config{}).VideoHeader())
		for range 100 {
			f.send(big)
			require.LessOrEqual(t, f.buffered(), maxBytes)
		}
		require.True(t, f.mx.inited)
	})
	t.Run("no header at all", func(t *testing.T) {
		f := newMuxFixture(t, VariantFMP4, streamAV, func(c *Config) { c.SegmentMaxBytes = maxBytes })
		for range 100 {
			f.send(big)
			require.LessOrEqual(t, f.buffered(), maxBytes)
		}
		require.False(t, f.mx.inited)
		require.NotEmpty(t, f.mx.pending)
	})
}

// TestOversizedSampleDropped: a sample larger than the segment limit on
// its own is dropped (and said so once), the stream goes on.
func TestOversizedSampleDropped(t *testing.T) {
	f := newMuxFixture(t, VariantMPEGTS, hub.StreamInfo{HasVideo: true, VideoCodec: av.CodecH264}, func(c *Config) {
		c.SegmentMaxBytes = 1 << 20
	})
	gen := mediatest.New(mediatest.Config{NoAudio: true})
	f.send(gen.VideoHeader())
	f.sendGen(gen, 3*time.Second)
	for i := range 3 {
		f.send(mediatest.VideoFrame(uint32(3000+i), false, 2<<20, 0))
	}
	f.sendGen(gen, 8*time.Second)
	require.Equal(t, 1, f.log.count("hls sample dropped"))
	require.Equal(t, uint64(3), f.mx.seg.oversized)
	f.checkFiles(t)
	for _, s := range f.segments() {
		require.False(t, bytes.Contains(mustLookup(t, f.media(), s.name), bytes.Repeat([]byte{0x80}, 4096)))
	}
}
