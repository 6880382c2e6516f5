package hls

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// fixture drives a segmenter directly with synthetic packets: no hub, no
// goroutines, fully deterministic.
type fixture struct {
	s   *segmenter
	m   *media
	gen *mediatest.Generator
	cfg Config
}

func newFixture(t *testing.T, v Variant, mc mediatest.Config, edit func(*Config)) *fixture {
	t.Helper()
	cfg := Config{Variant: v, SegmentCount: 100}
	if edit != nil {
		edit(&cfg)
	}
	cfg = cfg.withDefaults()
	f := &fixture{cfg: cfg, gen: mediatest.New(mc)}
	f.m = newMedia("live/test", v, &f.cfg, time.Unix(1_700_000_000, 0))
	f.s = newSegmenter(f.m, &f.cfg, nil)
	vt, at := f.tracks(t, 0, 0)
	require.NoError(t, f.s.configure(vt, at))
	return f
}

// tracks parses the generator's headers; w, h > 0 override the picture size.
func (f *fixture) tracks(t *testing.T, w, h int) (*videoTrack, *audioTrack) {
	t.Helper()
	var vt *videoTrack
	var at *audioTrack
	var err error
	c := f.gen.Config()
	if !c.NoVideo {
		hdr := f.gen.VideoHeader()
		if w > 0 {
			hdr = mediatest.VideoHeader(0, w, h)
		}
		vt, err = parseVideoConfig(av.CodecH264, flv.VideoPayload(hdr))
		require.NoError(t, err)
	}
	if !c.NoAudio {
		at, err = parseAudioConfig(av.CodecAAC, flv.AudioPayload(f.gen.AudioHeader()))
		require.NoError(t, err)
	}
	return vt, at
}

func (f *fixture) feed(t *testing.T, p *av.Packet, shift int64) {
	t.Helper()
	var err error
	if p.Kind == av.KindVideo {
		err = f.s.video(p.DTS+shift, p.CTS, p.Keyframe, flv.VideoPayload(p))
	} else {
		err = f.s.audio(p.DTS+shift, flv.AudioPayload(p))
	}
	require.NoError(t, err)
}

// run feeds packets up to (excluding) DTS until, shifted by shift ms.
func (f *fixture) run(t *testing.T, until time.Duration, shift int64) {
	t.Helper()
	for {
		p := f.gen.Next()
		if p.DTS >= until.Milliseconds() {
			return
		}
		f.feed(t, p, shift)
	}
}

func (f *fixture) segments() []*segment {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	return append([]*segment(nil), f.m.segments...)
}

func (f *fixture) playlist() string {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	return string(f.m.renderMediaLocked(""))
}

func (f *fixture) file(t *testing.T, name string) []byte {
	t.Helper()
	fl, ok := f.m.lookup(name)
	require.True(t, ok, name)
	return fl.data
}

// firstVideoSync parses an fMP4 segment and reports whether its first
// video sample is a sync sample (a keyframe).
func firstVideoSync(t *testing.T, b []byte) bool {
	t.Helper()
	var parts fmp4.Parts
	require.NoError(t, parts.Unmarshal(b))
	require.NotEmpty(t, parts)
	for _, tr := range parts[0].Tracks {
		if tr.ID == 1 {
			require.NotEmpty(t, tr.Samples)
			return !tr.Samples[0].IsNonSyncSample
		}
	}
	t.Fatal("no video track in the first fragment")
	return false
}

func TestSegmentKeyframeAlignment(t *testing.T) {
	cases := []struct {
		name   string
		gop    int // frames at 30 fps
		segDur time.Duration
		want   time.Duration
		target int
	}{
		{"gop 1s target 2s", 30, 2 * time.Second, 2 * time.Second, 2},
		{"gop 2s target 2s", 60, 2 * time.Second, 2 * time.Second, 2},
		{"gop 1.5s target 2s waits for the next keyframe", 45, 2 * time.Second, 3 * time.Second, 3},
		{"gop 0.5s target 1s", 15, time.Second, time.Second, 1},
		{"gop 1.9s within tolerance cuts every gop", 57, 2 * time.Second, 1900 * time.Millisecond, 2},
	}
	for _, v := range []Variant{VariantMPEGTS, VariantFMP4, VariantLowLatency} {
		for _, tc := range cases {
			t.Run(v.String()+"/"+tc.name, func(t *testing.T) {
				f := newFixture(t, v, mediatest.Config{GOP: tc.gop}, func(c *Config) { c.SegmentDuration = tc.segDur })
				f.run(t, 20*time.Second, 0)
				segs := f.segments()
				require.GreaterOrEqual(t, len(segs), 5)
				var start time.Duration
				gop := time.Duration(tc.gop) * time.Second / 30
				for i, s := range segs {
					require.Equal(t, uint64(i), s.msn)
					require.Equal(t, tc.want, s.dur, "segment %d", i)
					require.Zero(t, start%gop, "segment %d starts at %s, not on a keyframe", i, start)
					if v != VariantMPEGTS {
						require.True(t, firstVideoSync(t, f.file(t, s.name)), "segment %d", i)
					} else {
						require.Equal(t, byte(0x47), f.file(t, s.name)[0]) // TS sync byte
					}
					if i > 0 {
						// PROGRAM-DATE-TIME advances exactly with the media.
						require.Equal(t, segs[i-1].pdt.Add(segs[i-1].dur), s.pdt, "segment %d", i)
					}
					start += s.dur
				}
				pl := f.playlist()
				require.Contains(t, pl, "#EXT-X-TARGETDURATION:"+strconv.Itoa(tc.target)+"\n")
				pdts := len(segs)
				if len(f.m.parts) > 0 {
					pdts++ // the segment in progress, listed by its parts
				}
				require.Equal(t, pdts, strings.Count(pl, "#EXT-X-PROGRAM-DATE-TIME:"))
			})
		}
	}
}

func TestLowLatencyParts(t *testing.T) {
	f := newFixture(t, VariantLowLatency, mediatest.Config{GOP: 15}, nil) // keyframe every 0.5 s
	f.run(t, 9*time.Second, 0)
	segs := f.segments()
	require.NotEmpty(t, segs)
	for _, s := range segs {
		var sum time.Duration
		var joined []byte
		for i, p := range s.parts {
			require.LessOrEqual(t, p.dur, f.cfg.PartDuration, p.name)
			require.Equal(t, f.m.partName(s.msn, i), p.name)
			// Parts starting on a keyframe (every 0.5 s) are independent.
			require.Equal(t, sum%(500*time.Millisecond) == 0, p.independent, "%s at %s", p.name, sum)
			sum += p.dur
			joined = append(joined, f.file(t, p.name)...)
		}
		require.Equal(t, s.dur, sum, "parts add up to the segment")
		require.True(t, bytes.Equal(joined, f.file(t, s.name)), "a segment is its parts back to back")
	}
	pl := f.playlist()
	for _, tag := range []string{
		"#EXT-X-VERSION:9\n",
		"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600\n",
		"#EXT-X-PART-INF:PART-TARGET=0.200\n",
		`#EXT-X-PART:DURATION=0.200,URI="` + segs[len(segs)-1].parts[0].name + `",INDEPENDENT=YES` + "\n",
		`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="` + f.m.partName(f.m.nextMSN, len(f.m.parts)) + `"` + "\n",
		`#EXT-X-MAP:URI="` + f.m.initName(1) + `"`,
	} {
		require.Contains(t, pl, tag)
	}
	// Only the last three target durations carry EXT-X-PART lines.
	require.NotContains(t, pl, `URI="`+segs[0].parts[0].name+`"`)
	require.LessOrEqual(t, strings.Count(pl, "#EXT-X-PART:"), 3*10+len(f.m.parts))
}

func TestAudioOnlyCutsOnTime(t *testing.T) {
	for _, v := range []Variant{VariantMPEGTS, VariantFMP4, VariantLowLatency} {
		t.Run(v.String(), func(t *testing.T) {
			f := newFixture(t, v, mediatest.Config{NoVideo: true}, nil)
			f.run(t, 15*time.Second, 0)
			segs := f.segments()
			require.GreaterOrEqual(t, len(segs), 6)
			frame := 1024 * time.Second / mediatest.AACSampleRate
			for _, s := range segs {
				require.GreaterOrEqual(t, s.dur, 2*time.Second)
				require.Less(t, s.dur, 2*time.Second+frame+time.Millisecond)
				for _, p := range s.parts {
					require.True(t, p.independent, "audio parts are all independent")
				}
			}
			require.Contains(t, f.m.codecs, "mp4a.40.2")
			require.NotContains(t, f.m.codecs, "avc1")
		})
	}
}

func TestVideoOnly(t *testing.T) {
	for _, v := range []Variant{VariantMPEGTS, VariantFMP4} {
		t.Run(v.String(), func(t *testing.T) {
			f := newFixture(t, v, mediatest.Config{NoAudio: true}, nil)
			f.run(t, 10*time.Second, 0)
			for _, s := range f.segments() {
				require.Equal(t, 2*time.Second, s.dur)
			}
			require.Regexp(t, `^avc1\.[0-9a-f]{6}$`, f.m.codecs)
		})
	}
}

func TestDiscontinuity(t *testing.T) {
	cases := []struct {
		name string
		// at 5 s into the stream
		event  func(t *testing.T, f *fixture) (shift int64)
		newMap bool
	}{
		{"new sequence header", func(t *testing.T, f *fixture) int64 {
			vt, at := f.tracks(t, 640, 480)
			require.NoError(t, f.s.configure(vt, at))
			return 0
		}, true},
		{"publisher restart with the same header", func(t *testing.T, f *fixture) int64 {
			require.NoError(t, f.s.restart())
			return 0
		}, false},
		{"timestamp jump", func(*testing.T, *fixture) int64 { return 60_000 }, false},
	}
	for _, v := range []Variant{VariantMPEGTS, VariantFMP4, VariantLowLatency} {
		for _, tc := range cases {
			t.Run(v.String()+"/"+tc.name, func(t *testing.T) {
				f := newFixture(t, v, mediatest.Config{}, nil)
				f.run(t, 5*time.Second+500*time.Millisecond, 0)
				shift := tc.event(t, f)
				f.run(t, 12*time.Second, shift)
				segs := f.segments()
				var disc []int
				for i, s := range segs {
					if s.disc {
						disc = append(disc, i)
					}
				}
				require.Len(t, disc, 1)
				d := disc[0]
				// The interrupted segment ends after its last frame; the
				// next one starts at a keyframe.
				require.Equal(t, 2*time.Second, segs[d-2].dur)
				require.Less(t, segs[d-1].dur, 2*time.Second)
				if v != VariantMPEGTS {
					require.True(t, firstVideoSync(t, f.file(t, segs[d].name)))
				}
				pl := f.playlist()
				require.Equal(t, 1, strings.Count(pl, "#EXT-X-DISCONTINUITY\n"))
				before, after, _ := strings.Cut(pl, "#EXT-X-DISCONTINUITY\n")
				require.Contains(t, after, segs[d].name)
				require.NotContains(t, before, segs[d].name)
				if v != VariantMPEGTS {
					wantMaps := 1
					if tc.newMap {
						wantMaps = 2
						require.Contains(t, after, f.m.initName(2))
					}
					require.Equal(t, wantMaps, strings.Count(pl, "#EXT-X-MAP:"))
				}
				if shift > 0 {
					gap := segs[d].pdt.Sub(segs[d-1].pdt)
					require.Less(t, gap, 5*time.Second, "wall clock, not the jumped DTS, drives the PDT")
				}
			})
		}
	}
}

func TestWindowAndEviction(t *testing.T) {
	f := newFixture(t, VariantMPEGTS, mediatest.Config{}, func(c *Config) {
		c.SegmentCount = 3
		c.SegmentKeep = 2
	})
	f.run(t, 7*time.Second, 0)
	require.NoError(t, f.s.restart()) // a discontinuity that will leave the window
	f.run(t, 30*time.Second, 0)
	segs := f.segments()
	require.Len(t, segs, 5, "count + keep segments are kept")
	last := segs[len(segs)-1].msn
	pl := f.playlist()
	require.Contains(t, pl, "#EXT-X-MEDIA-SEQUENCE:"+strconv.FormatUint(last-2, 10)+"\n")
	require.Contains(t, pl, "#EXT-X-DISCONTINUITY-SEQUENCE:1\n")
	require.Equal(t, 3, strings.Count(pl, "#EXTINF:"))
	for _, s := range segs[:2] {
		require.NotContains(t, pl, s.name, "kept but no longer listed")
		_, ok := f.m.lookup(s.name)
		require.True(t, ok)
	}
	_, ok := f.m.lookup(f.m.segmentName(segs[0].msn - 1))
	require.False(t, ok, "evicted")
}
