//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// apiRecording is GET /api/v1/recordings as these tests read it.
type apiRecording struct {
	Key        string  `json:"key"`
	Name       string  `json:"name"`
	URL        string  `json:"url"`
	Format     string  `json:"format"`
	Duration   float64 `json:"duration_seconds"`
	Size       int64   `json:"size_bytes"`
	InProgress bool    `json:"in_progress"`
}

// recordTimeout bounds waiting for a recording to reach a state: the
// publishers run at real time, 20 to 30 s.
const recordTimeout = 60 * time.Second

// recordings lists key's recordings.
func (s *server) recordings(t *testing.T, key string) []apiRecording {
	t.Helper()
	app, name := key[:strings.LastIndexByte(key, '/')], key[strings.LastIndexByte(key, '/')+1:]
	var out []apiRecording
	s.apiGet(t, "/api/v1/recordings?app="+app+"&stream="+name, &out)
	return out
}

// publishFor publishes clip to key at real time, looped to about d.
func publishFor(t *testing.T, s *server, key, clip string, loops int) *proc {
	t.Helper()
	args := append(append([]string{}, ffmpegBase...), "-re", "-stream_loop", strconv.Itoa(loops), "-i", clip,
		"-c", "copy", "-f", "flv", s.rtmpURL(key))
	return startProc(t, "publisher "+key, ffmpegBin, args, nil)
}

// fileInfo is what ffprobe says about a recorded file.
type fileInfo struct {
	Video, Audio bool
	Duration     float64 // seconds, from the packets: last end minus first start
	FirstKey     bool    // the first video packet is a keyframe
	Width        int
}

// probeFile reads a recording (a path or a URL) with ffprobe, every packet.
func probeFile(t *testing.T, target string) fileInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-of", "json",
		"-show_entries", "stream=index,codec_type,width:packet=stream_index,pts_time,duration_time,flags", target).Output()
	var stderr string
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		stderr = string(ee.Stderr)
	}
	require.NoError(t, err, "ffprobe %s: %s", target, stderr)
	var p struct {
		Streams []struct {
			Index     int    `json:"index"`
			CodecType string `json:"codec_type"`
			Width     int    `json:"width"`
		} `json:"streams"`
		Packets []struct {
			Stream   int    `json:"stream_index"`
			PTS      string `json:"pts_time"`
			Duration string `json:"duration_time"`
			Flags    string `json:"flags"`
		} `json:"packets"`
	}
	require.NoError(t, json.Unmarshal(out, &p))
	var fi fileInfo
	video := -1
	for _, s := range p.Streams {
		switch s.CodecType {
		case "video":
			fi.Video, video, fi.Width = true, s.Index, s.Width
		case "audio":
			fi.Audio = true
		}
	}
	first, last := -1.0, 0.0
	seenVideo := false
	for _, pk := range p.Packets {
		pts, err := strconv.ParseFloat(pk.PTS, 64)
		if err != nil {
			continue
		}
		d, _ := strconv.ParseFloat(pk.Duration, 64)
		if first < 0 || pts < first {
			first = pts
		}
		last = max(last, pts+d)
		if pk.Stream == video && !seenVideo {
			seenVideo, fi.FirstKey = true, strings.HasPrefix(pk.Flags, "K")
		}
	}
	if first >= 0 {
		fi.Duration = last - first
	}
	return fi
}

// recordYAML records every stream into dir: fMP4 by default, app "flv" in
// FLV, app "rot" in 4 s files, app "ret" in 2 s files keeping 150 kB.
func recordYAML(dir, hook string) string {
	return fmt.Sprintf(`record:
  enabled: true
  path: %q
auth:
  hooks:
    on_record_done:
      url: %q
apps:
  flv:
    record:
      format: flv
  rot:
    record:
      segment_duration: 4s
  ret:
    record:
      segment_duration: 2s
      max_bytes: 150000
`, filepath.Join(dir, "{app}", "{stream}", "{time}.{ext}"), hook)
}

// TestRecording: ffmpeg publishes 20 s to four apps recorded four ways.
// Each fMP4 and FLV recording holds both tracks and the whole duration (±
// a GOP) and on_record_done reports it; "rot" is cut into files that each
// start with a keyframe; "ret" keeps at most its max_bytes of finished
// files; a recording plays over HTTP with Range requests and seeking; the
// thumbnail of the live stream is a JPEG of its size.
func TestRecording(t *testing.T) {
	t.Parallel()
	const gop = 2.0 // h264_aac_gop2s
	clip := mediaPath(t, "h264_aac_gop2s.mp4")
	dir := t.TempDir()
	hook := newHookRecorder(t)
	srv := startWithConfig(t, "ripple", recordYAML(dir, hook.srv.URL), false)
	pubs := map[string]*proc{}
	for _, key := range []string{"live/a", "flv/a", "rot/a", "ret/a"} {
		pubs[key] = publishFor(t, srv, key, clip, 1) // 2 × 10 s
	}
	srv.waitLive(t, "live/a", pubs["live/a"])

	// The thumbnail of a live stream: a JPEG of the stream's size.
	t.Run("thumbnail", func(t *testing.T) {
		resp, err := http.Get("http://" + srv.HTTPAddr + "/live/a.jpg")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "image/jpeg", resp.Header.Get("Content-Type"))
		require.Contains(t, resp.Header.Get("Cache-Control"), "max-age=")
		img, err := jpeg.Decode(resp.Body)
		require.NoError(t, err)
		require.Equal(t, 320, img.Bounds().Dx())
		require.Equal(t, 240, img.Bounds().Dy())
	})

	// While recording, the list shows files in progress.
	inProgress := pollAPI(t, srv, "/api/v1/recordings?app=live&stream=a", recordTimeout, func(rs []apiRecording) bool {
		return len(rs) == 1 && rs[0].InProgress && rs[0].Size > 0
	})
	require.Equal(t, "fmp4", inProgress[0].Format)

	for key, p := range pubs {
		require.NoError(t, p.wait(recordTimeout), "publisher %s", key)
	}
	// Every file ends with on_record_done: 1 + 1 + ~5 + ~10.
	done := map[string][]map[string]any{}
	for len(done["live/a"]) == 0 || len(done["flv/a"]) == 0 || len(done["rot/a"]) < 5 || len(done["ret/a"]) < 10 {
		b := hook.next(t, "on_record_done")
		done[b["app"].(string)+"/"+b["stream"].(string)] = append(done[b["app"].(string)+"/"+b["stream"].(string)], b)
	}

	for _, tc := range []struct{ key, format, ext string }{{"live/a", "fmp4", ".mp4"}, {"flv/a", "flv", ".flv"}} {
		t.Run(tc.format, func(t *testing.T) {
			require.Len(t, done[tc.key], 1, "one file")
			b := done[tc.key][0]
			file := b["file"].(string)
			require.True(t, filepath.IsAbs(file), file)
			require.True(t, strings.HasPrefix(file, dir), file)
			require.Equal(t, tc.ext, filepath.Ext(file))
			require.Equal(t, tc.format, b["format"])
			st, err := os.Stat(file)
			require.NoError(t, err)
			require.EqualValues(t, st.Size(), b["size_bytes"])
			require.InDelta(t, 20, b["duration_seconds"], gop+0.5)

			fi := probeFile(t, file)
			require.True(t, fi.Video && fi.Audio, "both tracks: %+v", fi)
			require.True(t, fi.FirstKey, "starts with a keyframe")
			require.InDelta(t, 20, fi.Duration, gop+0.5, "the whole stream")

			list := srv.recordings(t, tc.key)
			require.Len(t, list, 1)
			require.False(t, list[0].InProgress)
			require.Equal(t, st.Size(), list[0].Size)
			require.Equal(t, b["url"], list[0].URL)

			// Over HTTP: Range requests, and ffmpeg seeks into it.
			u := "http://" + srv.HTTPAddr + list[0].URL
			req, err := http.NewRequest(http.MethodGet, u, nil)
			require.NoError(t, err)
			req.Header.Set("Range", "bytes=100-199")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, http.StatusPartialContent, resp.StatusCode)
			require.Len(t, body, 100)
			require.NotEmpty(t, resp.Header.Get("ETag"))
			want, err := os.ReadFile(file)
			require.NoError(t, err)
			require.Equal(t, want[100:200], body)

			code, out := ffmpegRun(t, "seek "+tc.format, "-ss", "12", "-i", u, "-t", "2", "-f", "null", "-")
			require.Zero(t, code, out)
		})
	}

	t.Run("rotation", func(t *testing.T) {
		files := srv.recordings(t, "rot/a")
		require.GreaterOrEqual(t, len(files), 4, "20 s in 4 s files")
		total := 0.0
		for _, r := range files {
			require.False(t, r.InProgress)
			fi := probeFile(t, "http://"+srv.HTTPAddr+r.URL)
			require.True(t, fi.FirstKey, "%s starts with a keyframe", r.Name)
			require.True(t, fi.Video && fi.Audio)
			require.LessOrEqual(t, fi.Duration, 4+gop+0.5, "%s: cut at the first keyframe past 4 s", r.Name)
			total += fi.Duration
		}
		require.InDelta(t, 20, total, gop+0.5, "no media lost between files")
	})

	t.Run("retention", func(t *testing.T) {
		list := srv.recordings(t, "ret/a")
		require.Less(t, len(list), len(done["ret/a"]), "older files were deleted")
		var size int64
		for _, r := range list {
			require.False(t, r.InProgress)
			size += r.Size
		}
		require.LessOrEqual(t, size, int64(150000), "max_bytes of finished files kept")
		require.NotEmpty(t, list, "the newest files are kept")
	})
}

// TestRecordingSurvivesKill: kill -9 of the server while it records leaves
// an fMP4 file that ffmpeg plays up to its last fragment.
func TestRecordingSurvivesKill(t *testing.T) {
	t.Parallel()
	const key = "live/kill"
	dir := t.TempDir()
	srv := startWithConfig(t, "ripple", fmt.Sprintf("record:\n  enabled: true\n  path: %q\n",
		filepath.Join(dir, "{app}", "{stream}", "{time}.{ext}")), true)
	pub := publishLoop(t, srv, key, mediaPath(t, "h264_aac_gop1s.mp4"))
	srv.waitLive(t, key, pub)
	rs := pollAPI(t, srv, "/api/v1/recordings?app=live&stream=kill", recordTimeout, func(rs []apiRecording) bool {
		return len(rs) == 1 && rs[0].Duration >= 5
	})
	require.True(t, rs[0].InProgress)
	srv.kill() // SIGKILL: no chance to finish the file

	files, err := filepath.Glob(filepath.Join(dir, "live", "kill", "*.mp4"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	fi := probeFile(t, files[0])
	require.True(t, fi.Video && fi.Audio, "%+v", fi)
	require.GreaterOrEqual(t, fi.Duration, 4.0, "everything up to the last fragment")
	code, out := ffmpegRun(t, "decode the killed recording", "-xerror", "-i", files[0], "-f", "null", "-")
	require.Zero(t, code, out)
}

// TestRecordingAPI: a stream not recorded by config is recorded from the
// API, stopped, and its file is complete; the SSE stream reports both.
func TestRecordingAPI(t *testing.T) {
	t.Parallel()
	const key = "live/onair"
	dir := t.TempDir()
	srv := startServer(t, "RIPPLE_RECORD_PATH="+filepath.Join(dir, "{app}", "{stream}", "{time}.{ext}"))
	events := srv.openEvents(t, "")
	pub := publishLoop(t, srv, key, mediaPath(t, "h264_aac_gop1s.mp4"))
	srv.waitLive(t, key, pub)

	code, _ := srv.apiCall(t, http.MethodDelete, "/api/v1/streams/"+key+"/record")
	require.Equal(t, http.StatusNotFound, code, "not recorded yet")
	code, body := srv.apiCall(t, http.MethodPost, "/api/v1/streams/"+key+"/record")
	require.Equal(t, http.StatusCreated, code, string(body))
	code, _ = srv.apiCall(t, http.MethodPost, "/api/v1/streams/"+key+"/record")
	require.Equal(t, http.StatusConflict, code)
	code, _ = srv.apiCall(t, http.MethodPost, "/api/v1/streams/live/nobody/record")
	require.Equal(t, http.StatusNotFound, code)

	started := nextEvent(t, events, "recording_started")
	require.Contains(t, started, `"key":"`+key+`"`)
	pollAPI(t, srv, "/api/v1/recordings?app=live&stream=onair", recordTimeout, func(rs []apiRecording) bool {
		return len(rs) == 1 && rs[0].Duration >= 3
	})
	var streams []apiStreamRecording
	srv.apiGet(t, "/api/v1/streams", &streams)
	require.Len(t, streams, 1)
	require.True(t, streams[0].Recording)

	code, body = srv.apiCall(t, http.MethodDelete, "/api/v1/streams/"+key+"/record")
	require.Equal(t, http.StatusNoContent, code, string(body))
	doneEv := nextEvent(t, events, "recording_done")
	var rec apiRecording
	require.NoError(t, json.Unmarshal([]byte(doneEv), &rec))
	require.False(t, rec.InProgress)
	require.GreaterOrEqual(t, rec.Duration, 3.0)
	list := srv.recordings(t, key)
	require.Len(t, list, 1)
	fi := probeFile(t, "http://"+srv.HTTPAddr+list[0].URL)
	require.True(t, fi.Video && fi.Audio)
	require.InDelta(t, rec.Duration, fi.Duration, 1.0)
	require.False(t, pub.exited(), "the stream went on")
}

// apiStreamRecording is the part of a stream these tests read.
type apiStreamRecording struct {
	Key       string `json:"key"`
	Recording bool   `json:"recording"`
}

// nextEvent returns the data of the next SSE event named name.
func nextEvent(t *testing.T, events *sseStream, name string) string {
	t.Helper()
	deadline := time.Now().Add(recordTimeout)
	for time.Now().Before(deadline) {
		if ev := events.next(t); ev.name == name {
			return ev.data
		}
	}
	t.Fatalf("no %s event within %s", name, recordTimeout)
	return ""
}

// TestRecordingDiskFull: the recording directory is a 400 kB tmpfs. When it
// fills, that recording stops with one clear error (log line, SSE event)
// while an HTTP-FLV player of the stream gets every frame without a gap;
// once space is freed, recording resumes in a new file.
func TestRecordingDiskFull(t *testing.T) {
	t.Parallel()
	const key = "live/full"
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a small tmpfs (the test needs root, as scripts/test.sh runs): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	clip := mediaPath(t, "h264_aac_gop2s.mp4")
	src := probeClip(t, clip)
	srv := startServer(t, "RIPPLE_RECORD_ENABLED=true",
		"RIPPLE_RECORD_PATH="+filepath.Join(dir, "{app}", "{stream}", "{time}.{ext}"))
	events := srv.openEvents(t, "")
	pub := publishFor(t, srv, key, clip, 3) // 40 s: fills 400 kB after ~13 s
	srv.waitLive(t, key, pub)
	player := probeURLAsync(srv.flvURL(key))

	errEv := nextEvent(t, events, "recording_error")
	require.Contains(t, errEv, "no space left on device")
	_, err := srv.out.waitFor(5*time.Second, 0, contains("no space left on device"))
	require.NoError(t, err, "one log line says why")
	files, err := filepath.Glob(filepath.Join(dir, "live", "full", "*.mp4"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	require.NoError(t, os.Remove(files[0]), "free the space")
	resumed := nextEvent(t, events, "recording_started")
	require.Contains(t, resumed, `"key":"`+key+`"`)

	require.NoError(t, pub.wait(2*time.Minute), "publisher")
	res := <-player
	require.NoError(t, res.err, "HTTP-FLV player")
	// The player got the whole stream: 4 loops of the clip, no gap.
	checkCount(t, "video packets", len(res.probe.packets("video")), 4*src.VideoPackets, 0.02)
	checkTimestamps(t, res.probe, 200*time.Millisecond)
	code, out := ffmpegRun(t, "decode the resumed recording", "-xerror", "-i",
		mustGlobOne(t, filepath.Join(dir, "live", "full", "*.mp4")), "-f", "null", "-")
	require.Zero(t, code, out)
}

func mustGlobOne(t *testing.T, pattern string) string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	require.NoError(t, err)
	require.Len(t, m, 1, pattern)
	return m[0]
}
