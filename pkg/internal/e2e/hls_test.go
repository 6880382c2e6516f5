//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hlsSegmentTarget is hls.segment_duration as the tests configure it (the
// default): with 1 s and 2 s GOPs every segment is cut at exactly 2 s.
const hlsSegmentTarget = 2.0

// hlsWait bounds the wait for a stream's playlist to list enough segments:
// 4 segments of 2 s at real time plus slack for a loaded machine.
const hlsWait = 40 * time.Second

var (
	reExtinf = regexp.MustCompile(`#EXTINF:([0-9.]+),\n([^\n]+)`)
	reMap    = regexp.MustCompile(`#EXT-X-MAP:URI="([^"]+)"`)
	rePart   = regexp.MustCompile(`#EXT-X-PART:DURATION=([0-9.]+),URI="([^"]+)"`)
)

// TestHLS publishes the media/ clips with ffmpeg and checks every variant:
// ffprobe reads the playlist, segment durations are within ±0.1 s of the
// GOP-aligned target, every segment starts on a keyframe and decodes with
// ffmpeg; low_latency also gets its tags, parts and a blocking reload
// checked. One server per variant, one stream per clip, all in parallel.
func TestHLS(t *testing.T) {
	t.Parallel()
	type stream struct {
		name, clip string
		video      bool
		audio      bool
	}
	avStreams := []stream{
		{"gop1s", "h264_aac_gop1s.mp4", true, true},
		{"gop2s", "h264_aac_gop2s.mp4", true, true},
	}
	cases := []struct {
		variant string
		streams []stream
	}{
		{"mpegts", append(avStreams, stream{"audio_only", "audio_only_aac.mp4", false, true})},
		{"fmp4", append(avStreams, stream{"video_only", "video_only_h264.mp4", true, false})},
		{"low_latency", avStreams},
	}
	for _, tc := range cases {
		t.Run(tc.variant, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, "RIPPLE_HLS_VARIANT="+tc.variant)
			for _, st := range tc.streams {
				t.Run(st.name, func(t *testing.T) {
					t.Parallel()
					key := "live/" + st.name
					publishLoop(t, srv, key, mediaPath(t, st.clip))
					checkHLS(t, srv, key, tc.variant, st.video, st.audio)
				})
			}
		})
	}
}

func checkHLS(t *testing.T, srv *server, key, variant string, video, audio bool) {
	base := "http://" + srv.HTTPAddr + "/" + key
	top := base + ".m3u8"
	media := top
	if variant != "mpegts" {
		media = base + "/media.m3u8"
	}
	pl := waitPlaylist(t, media, 4)

	// Fetch what the playlist lists before running any ffprobe: the
	// segments must be fetched while they are still served (the window
	// moves on in real time; an on-demand muxer stops after idle_timeout
	// without requests), and an ffprobe run on a loaded machine takes
	// seconds.
	var initSeg []byte
	if variant != "mpegts" {
		m := reMap.FindStringSubmatch(pl)
		require.NotNil(t, m, "EXT-X-MAP in\n%s", pl)
		var ct string
		initSeg, ct = fetch(t, resolve(t, media, m[1]))
		require.Equal(t, "video/mp4", ct)
	}
	segs := reExtinf.FindAllStringSubmatch(pl, -1)
	require.GreaterOrEqual(t, len(segs), 4, pl)
	dir := t.TempDir()
	paths := make([]string, 0, 4)
	for i, s := range segs[:4] {
		d, err := strconv.ParseFloat(s[1], 64)
		require.NoError(t, err)
		// The playlist and the bytes agree on the duration, and both are
		// the GOP-aligned target.
		require.InDelta(t, hlsSegmentTarget, d, 0.1, "EXTINF of segment %d in\n%s", i, pl)
		body, ct := fetch(t, resolve(t, media, s[2]))
		if variant == "mpegts" {
			require.Equal(t, "video/mp2t", ct)
		} else {
			require.Equal(t, "video/mp4", ct)
			body = append(append([]byte{}, initSeg...), body...)
		}
		path := filepath.Join(dir, "seg"+strconv.Itoa(i)+".mp4")
		require.NoError(t, os.WriteFile(path, body, 0o644))
		paths = append(paths, path)
	}

	// The first listed part too, while it is still served (ffprobe and
	// the decodes below take seconds each on a loaded machine).
	var firstPart []byte
	if variant == "low_latency" {
		parts := rePart.FindAllStringSubmatch(pl, -1)
		require.NotEmpty(t, parts, pl)
		firstPart, _ = fetch(t, resolve(t, media, parts[0][2]))
	}

	// ffprobe finds the tracks through the top-level playlist.
	streams := probeHLS(t, top)
	if video {
		require.Contains(t, streams, "h264", "ffprobe of %s", top)
	}
	if audio {
		require.Contains(t, streams, "aac", "ffprobe of %s", top)
	}
	for _, path := range paths {
		checkSegment(t, path, video)
	}
	if variant == "low_latency" {
		checkLowLatency(t, media, pl, initSeg, firstPart, dir)
	}
}

// waitPlaylist polls a media playlist until it lists n segments.
func waitPlaylist(t *testing.T, u string, n int) string {
	t.Helper()
	deadline := time.Now().Add(hlsWait)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for time.Now().Before(deadline) {
		resp, err := http.Get(u)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			if resp.StatusCode == http.StatusOK && strings.Count(last, "#EXTINF:") >= n {
				require.Equal(t, "application/vnd.apple.mpegurl", resp.Header.Get("Content-Type"))
				return last
			}
		}
		<-tick.C
	}
	t.Fatalf("%s did not list %d segments within %s; last:\n%s", u, n, hlsWait, last)
	return ""
}

func fetch(t *testing.T, u string) ([]byte, string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, u)
	require.Equal(t, "public, max-age=86400, immutable", resp.Header.Get("Cache-Control"), u)
	return b, resp.Header.Get("Content-Type")
}

func resolve(t *testing.T, base, ref string) string {
	t.Helper()
	b, err := url.Parse(base)
	require.NoError(t, err)
	r, err := url.Parse(ref)
	require.NoError(t, err)
	return b.ResolveReference(r).String()
}

// probeHLS returns the codec names ffprobe finds through an HLS playlist.
func probeHLS(t *testing.T, u string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-show_entries", "stream=codec_name", "-of", "json", u).Output()
	require.NoError(t, err, "ffprobe %s", u)
	var p struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
		} `json:"streams"`
	}
	require.NoError(t, json.Unmarshal(out, &p))
	var names []string
	for _, s := range p.Streams {
		names = append(names, s.CodecName)
	}
	return names
}

// checkSegment requires that a segment (with its init section) starts with
// a video keyframe and decodes without errors.
func checkSegment(t *testing.T, path string, video bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := runProbe(ctx, path)
	require.NoError(t, err)
	kind := "audio"
	if video {
		kind = "video"
		v := p.packets("video")
		require.NotEmpty(t, v, filepath.Base(path))
		require.True(t, strings.HasPrefix(v[0].Flags, "K"), "%s starts with a keyframe", filepath.Base(path))
	}
	require.NotEmpty(t, p.packets(kind), filepath.Base(path))
	dec := exec.CommandContext(ctx, ffmpegBin, "-nostdin", "-v", "error", "-i", path, "-f", "null", "-")
	out, err := dec.CombinedOutput()
	require.NoError(t, err, "decode %s: %s", filepath.Base(path), out)
	require.Empty(t, strings.TrimSpace(string(out)), "decode errors in %s", filepath.Base(path))
}

// checkLowLatency checks the LL-HLS tags, that parts decode, and that a
// blocking reload for the next part is answered once it exists.
func checkLowLatency(t *testing.T, media, pl string, initSeg, firstPart []byte, dir string) {
	t.Helper()
	for _, tag := range []string{
		"#EXT-X-VERSION:9\n",
		"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600\n",
		"#EXT-X-PART-INF:PART-TARGET=0.200\n",
		"#EXT-X-PRELOAD-HINT:TYPE=PART,URI=",
		",INDEPENDENT=YES\n",
	} {
		require.Contains(t, pl, tag)
	}
	parts := rePart.FindAllStringSubmatch(pl, -1)
	require.GreaterOrEqual(t, len(parts), 10)
	for _, p := range parts {
		d, err := strconv.ParseFloat(p[1], 64)
		require.NoError(t, err)
		require.LessOrEqual(t, d, 0.2001, "part %s longer than PART-TARGET", p[2])
	}
	// The first listed part starts a segment: it decodes on its own.
	path := filepath.Join(dir, "part.mp4")
	require.NoError(t, os.WriteFile(path, append(append([]byte{}, initSeg...), firstPart...), 0o644))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ffmpegBin, "-nostdin", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	require.NoError(t, err, "decode part: %s", out)
	require.Empty(t, strings.TrimSpace(string(out)))

	// Blocking reload: ask for the hinted part of a fresh playlist.
	pl = waitPlaylist(t, media, 1)
	m := regexp.MustCompile(`-(\d+)\.(\d+)\.m4s"\n$`).FindStringSubmatch(pl)
	require.NotNil(t, m, "preload hint at the end of\n%s", pl)
	msn, _ := strconv.Atoi(m[1])
	part, _ := strconv.Atoi(m[2])
	start := time.Now()
	resp, err := http.Get(media + "?_HLS_msn=" + strconv.Itoa(msn) + "&_HLS_part=" + strconv.Itoa(part))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Less(t, time.Since(start), 6*time.Second)
	require.Equal(t, "public, max-age=6", resp.Header.Get("Cache-Control"))
	require.Contains(t, string(b), "-"+m[1]+"."+m[2]+".m4s\"", "the requested part is listed")
}

// TestHLSRepublish: ffmpeg stops and publishes again within the reconnect
// grace; the playlist goes on with EXT-X-DISCONTINUITY before the first
// segment of the new publisher, and that segment decodes.
func TestHLSRepublish(t *testing.T) {
	t.Parallel()
	srv := startServer(t, envGrace+"=20s")
	key := "live/again"
	media := "http://" + srv.HTTPAddr + "/" + key + ".m3u8"
	first := publishLoop(t, srv, key, mediaPath(t, "h264_aac_gop1s.mp4"))
	waitPlaylist(t, media, 2)
	first.kill()
	publishLoop(t, srv, key, mediaPath(t, "h264_aac_gop1s.mp4"))

	deadline := time.Now().Add(hlsWait)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		pl := waitPlaylist(t, media, 1)
		if _, after, ok := strings.Cut(pl, "#EXT-X-DISCONTINUITY\n"); ok {
			if segs := reExtinf.FindAllStringSubmatch(after, -1); len(segs) >= 2 {
				require.Equal(t, 1, strings.Count(pl, "#EXT-X-DISCONTINUITY\n"), pl)
				body, _ := fetch(t, resolve(t, media, segs[0][2]))
				path := filepath.Join(t.TempDir(), "after.ts")
				require.NoError(t, os.WriteFile(path, body, 0o644))
				checkSegment(t, path, true)
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no discontinuity followed by two segments within %s:\n%s", hlsWait, pl)
		}
		<-tick.C
	}
}
