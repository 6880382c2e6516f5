package hls

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestRenditionSet(t *testing.T) {
	var rs renditions
	require.Nil(t, rs.of("live/a"))
	rs.set("live/a_hi", "live/a")
	rs.set("live/a_lo", "live/a")
	rs.set("live/b_lo", "live/b")
	require.Equal(t, []string{"live/a_hi", "live/a_lo"}, rs.of("live/a"))
	require.Equal(t, []string{"live/a_hi", "live/a_lo"}, rs.siblings("live/a"))
	require.Equal(t, []string{"live/a", "live/a_lo"}, rs.siblings("live/a_hi"))
	require.Empty(t, rs.siblings("live/c"))

	// A rendition moving to another source, then ending.
	rs.set("live/a_lo", "live/b")
	require.Equal(t, []string{"live/a_hi"}, rs.of("live/a"))
	require.Equal(t, []string{"live/a_lo", "live/b_lo"}, rs.of("live/b"))
	rs.set("live/a_hi", "")
	require.Nil(t, rs.of("live/a"))
	require.Empty(t, rs.bySrc["live/a"], "no empty set left behind")
	require.Equal(t, "", rs.sourceOf("live/a_hi"))
	rs.set("live/nothing", "")
	require.Len(t, rs.source, 2)
}

func TestTrackRenditionRules(t *testing.T) {
	m := New(Config{}, nil)
	for _, c := range []struct {
		key, source string
		listed      bool
	}{
		{"live/cam_hi", "live/cam", true},
		{"live/cam", "live/cam", false},        // itself
		{"other/cam_hi", "live/cam", false},    // another app: no relative URI
		{"live/x/cam_hi", "live/cam", false},   // a nested app
		{"live/cam_bad", "live/../cam", false}, // not a key
	} {
		m.trackRendition(c.key, hub.PublisherInfo{Protocol: "test", Source: c.source, Rendition: "hi"})
		require.Equal(t, c.listed, m.rends.sourceOf(c.key) != "", "%s of %s", c.key, c.source)
	}
}

func TestRenderVariants(t *testing.T) {
	vs := []variant{
		{uri: "cam/media.m3u8", query: "token=x", st: variantState{
			peak: 3000000, avg: 2500000, codecs: "avc1.64001f,mp4a.40.2",
			pic: picture{video: true, width: 1280, height: 720}, fps: 30000.0 / 1001, independent: true, version: 7,
		}},
		{uri: "cam_audio/media.m3u8", st: variantState{peak: 128000, avg: 127000, codecs: "mp4a.40.2", independent: true, version: 9}},
	}
	require.Equal(t, "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-INDEPENDENT-SEGMENTS\n"+
		"#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2500000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=29.970\n"+
		"cam/media.m3u8?token=x\n"+
		"#EXT-X-STREAM-INF:BANDWIDTH=128000,AVERAGE-BANDWIDTH=127000,CODECS=\"mp4a.40.2\"\n"+
		"cam_audio/media.m3u8\n", string(renderVariants(vs)))

	// One variant whose segments are not all independent: no claim.
	vs[1].st.independent = false
	require.NotContains(t, string(renderVariants(vs)), "INDEPENDENT")
}

func TestReportLocked(t *testing.T) {
	cfg := Config{Variant: VariantLowLatency}.withDefaults()
	md := newMedia("live/cam", VariantLowLatency, &cfg, time.Unix(1, 0))
	_, _, ok := md.reportLocked()
	require.False(t, ok, "nothing published")
	now := time.Unix(2, 0)
	md.addPart(&part{name: md.partName(0, 0)}, []byte{1}, now)
	msn, p, ok := md.reportLocked()
	require.True(t, ok)
	require.Equal(t, [2]int{0, 0}, [2]int{int(msn), p})
	md.addPart(&part{name: md.partName(0, 1)}, []byte{1}, now)
	md.addSegment(&segment{name: md.segmentName(0), dur: time.Second}, []byte{1, 2}, now)
	msn, p, ok = md.reportLocked()
	require.True(t, ok)
	require.Equal(t, [2]int{0, 1}, [2]int{int(msn), p}, "the last part of the last segment")
	md.addPart(&part{name: md.partName(1, 0)}, []byte{1}, now)
	msn, p, _ = md.reportLocked()
	require.Equal(t, [2]int{1, 0}, [2]int{int(msn), p}, "the segment in progress")

	got := string(addReports([]byte("#EXTM3U\n"), []report{
		{uri: "../cam_hi/media.m3u8", query: "t=1", lastMSN: 1, part: 0},
		{uri: "../cam_lo/media.m3u8", lastMSN: 7, part: -1},
	}))
	require.Equal(t, "#EXTM3U\n"+
		"#EXT-X-RENDITION-REPORT:URI=\"../cam_hi/media.m3u8?t=1\",LAST-MSN=1,LAST-PART=0\n"+
		"#EXT-X-RENDITION-REPORT:URI=\"../cam_lo/media.m3u8\",LAST-MSN=7\n", got)

	// The playlist given is never appended to in place.
	shared := make([]byte, 3, 64)
	copy(shared, "abc")
	out := addReports(shared, []report{{uri: "x", part: -1}})
	require.Equal(t, "abc", string(shared[:3]))
	require.NotSame(t, &shared[0], &out[0])
}

func TestMeasuredFrameRate(t *testing.T) {
	cfg := Config{}.withDefaults()
	md := newMedia("live/cam", VariantMPEGTS, &cfg, time.Unix(1, 0))
	md.mu.Lock()
	require.Zero(t, md.measuredFPSLocked())
	md.segments = []*segment{
		{dur: 2002 * time.Millisecond, frames: 60},
		{dur: 2002 * time.Millisecond, frames: 60},
		{dur: time.Second}, // audio only (a halted video track): not counted
	}
	md.pic = picture{video: true}
	st := md.variantLocked()
	md.mu.Unlock()
	require.InDelta(t, 29.970, st.fps, 0.0005)
	require.Contains(t, string(renderVariants([]variant{{uri: "x", st: st}})), ",FRAME-RATE=29.970\nx\n")
}

func TestVideoPicture(t *testing.T) {
	hdr := func(sps []byte) []byte {
		return flv.VideoPayload(avcHeader(t, 0, 4, sps, mediatest.PPS()))
	}
	vt, err := parseVideoConfig(av.CodecH264, hdr(mediatest.SPS(854, 480)))
	require.NoError(t, err)
	require.Equal(t, picture{video: true, width: 854, height: 480}, pictureOf(vt), "no VUI: frame rate unknown")

	vt, err = parseVideoConfig(av.CodecH264, hdr(spsWithTiming(1920, 1088, 1, 50)))
	require.NoError(t, err)
	require.Equal(t, picture{video: true, width: 1920, height: 1088, fps: 25}, pictureOf(vt))

	vt, err = parseVideoConfig(av.CodecH264, hdr(spsWithTiming(640, 480, 1, 1<<30)))
	require.NoError(t, err)
	require.Zero(t, pictureOf(vt).fps, "an absurd declared rate is measured instead")

	require.Equal(t, picture{}, pictureOf(nil))
}
