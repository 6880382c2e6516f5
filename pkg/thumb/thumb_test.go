package thumb

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/codec/hevc"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// TestServeJPEG publishes the real clip into a real hub and checks that the
// thumbnail is a JPEG of the stream's size with the caching headers, that a
// second request within the interval is served from the cache, and that
// the validators give 304.
func TestServeJPEG(t *testing.T) {
	requireFFmpeg(t)
	h := newHub(t)
	th := newThumb(t, Config{}, h)
	require.NoError(t, th.Available())
	publishFixture(t, h, "live/cam1")

	rec := get(t, th, "/live/cam1.jpg")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	requireJPEG(t, rec.Body.Bytes(), fixtureWidth, fixtureHeight)
	hdr := rec.Header()
	require.Equal(t, "image/jpeg", hdr.Get("Content-Type"))
	require.Regexp(t, `^public, max-age=[1-5]$`, hdr.Get("Cache-Control"))
	require.NotEmpty(t, hdr.Get("Last-Modified"))
	etag := hdr.Get("ETag")
	require.Regexp(t, `^"[0-9a-f]{24}"$`, etag)
	require.Equal(t, Stats{Decodes: 1, Cached: 1, CacheSize: rec.Body.Len()}, th.Stats())

	again := get(t, th, "/live/cam1.jpg")
	require.Equal(t, http.StatusOK, again.Code)
	require.Equal(t, rec.Body.Bytes(), again.Body.Bytes())
	require.Equal(t, etag, again.Header().Get("ETag"))
	st := th.Stats()
	require.Equal(t, uint64(1), st.Decodes, "a request within the interval must not decode again")
	require.Equal(t, uint64(1), st.CacheHits)

	notModified := get(t, th, "/live/cam1.jpg", "If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, notModified.Code)
	require.Empty(t, notModified.Body.Bytes())
	require.Equal(t, etag, notModified.Header().Get("ETag"))
	changed := get(t, th, "/live/cam1.jpg", "If-None-Match", `"other"`)
	require.Equal(t, http.StatusOK, changed.Code)

	head := do(t, th, http.MethodHead, "/live/cam1.jpg")
	require.Equal(t, http.StatusOK, head.Code)
	require.Equal(t, "image/jpeg", head.Header().Get("Content-Type"))
	require.Empty(t, head.Body.Bytes())
	require.Equal(t, uint64(1), th.Stats().Decodes)

	jpg, taken, err := th.Get(t.Context(), "live/cam1")
	require.NoError(t, err)
	require.Equal(t, rec.Body.Bytes(), jpg)
	require.Equal(t, hdr.Get("Last-Modified"), taken.UTC().Format(http.TimeFormat))
}

// TestIntervalExpires: once the interval has passed, the next request
// decodes again.
func TestIntervalExpires(t *testing.T) {
	requireFFmpeg(t)
	h := newHub(t)
	th := newThumb(t, Config{Interval: 10 * time.Second}, h)
	clk := newClock()
	th.now = clk.Now
	publishFixture(t, h, "live/cam1")

	require.Equal(t, http.StatusOK, get(t, th, "/live/cam1.jpg").Code)
	clk.Add(9 * time.Second)
	rec := get(t, th, "/live/cam1.jpg")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "public, max-age=1", rec.Header().Get("Cache-Control"))
	require.Equal(t, uint64(1), th.Stats().Decodes)
	clk.Add(time.Second)
	rec = get(t, th, "/live/cam1.jpg")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "public, max-age=10", rec.Header().Get("Cache-Control"))
	require.Equal(t, uint64(2), th.Stats().Decodes)
}

// TestConcurrentRequestsShareOneDecode holds the decode until every other
// request has joined it.
func TestConcurrentRequestsShareOneDecode(t *testing.T) {
	requireFFmpeg(t)
	h := newHub(t)
	th := newThumb(t, Config{}, h)
	publishFixture(t, h, "live/cam1")
	const n = 8
	started := make(chan struct{})
	release := make(chan struct{})
	joined := make(chan struct{}, n)
	th.testHookDecode = func(string) {
		close(started)
		<-release
	}
	th.testHookJoin = func() { joined <- struct{}{} }

	codes := make([]int, n)
	bodies := make([][]byte, n)
	var wg sync.WaitGroup
	wg.Go(func() {
		rec := get(t, th, "/live/cam1.jpg")
		codes[0], bodies[0] = rec.Code, rec.Body.Bytes()
	})
	<-started
	for i := 1; i < n; i++ {
		wg.Go(func() {
			rec := get(t, th, "/live/cam1.jpg")
			codes[i], bodies[i] = rec.Code, rec.Body.Bytes()
		})
	}
	for range n - 1 {
		<-joined
	}
	close(release)
	wg.Wait()
	for i := range n {
		require.Equal(t, http.StatusOK, codes[i], "request %d", i)
		require.Equal(t, bodies[0], bodies[i], "request %d", i)
	}
	require.Equal(t, uint64(1), th.Stats().Decodes)
	requireJPEG(t, bodies[0], fixtureWidth, fixtureHeight)
}

// TestBusy: with every decode slot taken, a stream with an expired image
// gets it (stale), one without gets 503 and Retry-After.
func TestBusy(t *testing.T) {
	requireFFmpeg(t)
	h := newHub(t)
	th := newThumb(t, Config{MaxConcurrent: 1}, h)
	clk := newClock()
	th.now = clk.Now
	publishFixture(t, h, "live/stale")
	publishFixture(t, h, "live/slow")
	publishFixture(t, h, "live/fresh")

	first := get(t, th, "/live/stale.jpg")
	require.Equal(t, http.StatusOK, first.Code)
	clk.Add(time.Minute)

	started := make(chan struct{})
	release := make(chan struct{})
	th.testHookDecode = func(key string) {
		if key == "live/slow" {
			close(started)
			<-release
		}
	}
	done := make(chan int)
	go func() { done <- get(t, th, "/live/slow.jpg").Code }()
	<-started

	stale := get(t, th, "/live/stale.jpg")
	require.Equal(t, http.StatusOK, stale.Code)
	require.Equal(t, first.Body.Bytes(), stale.Body.Bytes())
	require.Equal(t, "public, max-age=0", stale.Header().Get("Cache-Control"))

	busy := get(t, th, "/live/fresh.jpg")
	require.Equal(t, http.StatusServiceUnavailable, busy.Code)
	require.Equal(t, "1", busy.Header().Get("Retry-After"))
	require.Equal(t, "no-store", busy.Header().Get("Cache-Control"))

	close(release)
	require.Equal(t, http.StatusOK, <-done)
	st := th.Stats()
	require.Equal(t, uint64(2), st.Decodes)
	require.Equal(t, uint64(1), st.Busy)
	require.Equal(t, uint64(1), st.CacheHits)
	require.Equal(t, http.StatusOK, get(t, th, "/live/fresh.jpg").Code, "a slot is free again")
}

func TestNotLive(t *testing.T) {
	requireFFmpeg(t)
	h := newHub(t)
	th := newThumb(t, Config{}, h)
	rec := get(t, th, "/live/nobody.jpg")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, "stream not found\n", rec.Body.String())
	_, _, err := th.Get(t.Context(), "live/nobody")
	require.ErrorIs(t, err, ErrNotLive)
	require.Equal(t, Stats{}, th.Stats())
}

func TestRequests(t *testing.T) {
	h := newHub(t)
	th := newThumb(t, Config{FFmpeg: filepath.Join(t.TempDir(), "none")}, h)
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{http.MethodGet, "/live/cam1.png", http.StatusNotFound},
		{http.MethodGet, "/cam1.jpg", http.StatusBadRequest},
		{http.MethodGet, "/live/../cam1.jpg", http.StatusBadRequest},
		{http.MethodGet, "/live/c%20m.jpg", http.StatusBadRequest},
		{http.MethodPost, "/live/cam1.jpg", http.StatusMethodNotAllowed},
	} {
		rec := do(t, th, tc.method, tc.path)
		require.Equal(t, tc.code, rec.Code, "%s %s", tc.method, tc.path)
	}
	require.Equal(t, "GET, HEAD", do(t, th, http.MethodPut, "/live/cam1.jpg").Header().Get("Allow"))
}

// TestFFmpegMissing: a missing binary is reported by Available and gives
// 501, never a crash.
func TestFFmpegMissing(t *testing.T) {
	h := newHub(t)
	th := newThumb(t, Config{FFmpeg: filepath.Join(t.TempDir(), "no-ffmpeg")}, h)
	require.ErrorIs(t, th.Available(), ErrUnavailable)
	publish(t, h, "live/cam1", mediatest.New(mediatest.Config{}).Headers())
	rec := get(t, th, "/live/cam1.jpg")
	require.Equal(t, http.StatusNotImplemented, rec.Code)
	require.Contains(t, rec.Body.String(), "ffmpeg")
	_, _, err := th.Get(t.Context(), "live/cam1")
	require.ErrorIs(t, err, ErrUnavailable)
}

// TestAuthorize: a refused request gets 403 before anything is decoded;
// admitted ones are marked private.
func TestAuthorize(t *testing.T) {
	requireFFmpeg(t)
	h := newHub(t)
	var keys []string
	th := newThumb(t, Config{Authorize: func(r *http.Request, key string) bool {
		keys = append(keys, key)
		return r.URL.Query().Get("token") == "good"
	}}, h)
	publishFixture(t, h, "live/x/cam1")

	rec := get(t, th, "/live/x/cam1.jpg?token=bad")
	require.Equal(t, http.StatusForbidden, rec.Code)
	require.Equal(t, uint64(0), th.Stats().Decodes)
	rec = do(t, th, http.MethodHead, "/live/x/cam1.jpg")
	require.Equal(t, http.StatusForbidden, rec.Code)

	rec = get(t, th, "/live/x/cam1.jpg?token=good")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Regexp(t, `^private, max-age=[1-5]$`, rec.Header().Get("Cache-Control"))
	require.Equal(t, []string{"live/x/cam1", "live/x/cam1", "live/x/cam1"}, keys)
}

// TestStreamEndDropsEntry: the cache forgets a stream when it ends.
func TestStreamEndDropsEntry(t *testing.T) {
	requireFFmpeg(t)
	h := newHub(t)
	th := newThumb(t, Config{}, h)
	pub := publishFixture(t, h, "live/cam1")
	require.Equal(t, http.StatusOK, get(t, th, "/live/cam1.jpg").Code)
	require.Equal(t, 1, th.Stats().Cached)
	pub.Close()
	st := th.Stats()
	require.Equal(t, 0, st.Cached)
	require.Equal(t, 0, st.CacheSize)
	require.Equal(t, http.StatusNotFound, get(t, th, "/live/cam1.jpg").Code)
}

// TestCacheBounds: the least recently used entries go first, by count and
// by bytes.
func TestCacheBounds(t *testing.T) {
	requireFFmpeg(t)
	h := newHub(t)
	th := newThumb(t, Config{MaxStreams: 2}, h)
	for i := range 3 {
		publishFixture(t, h, "live/cam"+strconv.Itoa(i))
	}
	require.Equal(t, http.StatusOK, get(t, th, "/live/cam0.jpg").Code)
	require.Equal(t, http.StatusOK, get(t, th, "/live/cam1.jpg").Code)
	require.Equal(t, http.StatusOK, get(t, th, "/live/cam0.jpg").Code) // cam0 is the most recent now
	require.Equal(t, http.StatusOK, get(t, th, "/live/cam2.jpg").Code) // evicts cam1
	require.Equal(t, 2, th.Stats().Cached)
	require.Equal(t, uint64(3), th.Stats().Decodes)
	require.Equal(t, http.StatusOK, get(t, th, "/live/cam0.jpg").Code)
	require.Equal(t, uint64(3), th.Stats().Decodes, "cam0 was kept")
	require.Equal(t, http.StatusOK, get(t, th, "/live/cam1.jpg").Code)
	require.Equal(t, uint64(4), th.Stats().Decodes, "cam1 was evicted")

	small := newThumb(t, Config{MaxCacheBytes: 1}, h)
	require.Equal(t, http.StatusOK, get(t, small, "/live/cam0.jpg").Code, "an image larger than the cache is still served")
	require.Equal(t, Stats{Decodes: 1, Cached: 0}, small.Stats())
}

// TestWidth scales the picture down, keeping the aspect ratio.
func TestWidth(t *testing.T) {
	requireFFmpeg(t)
	h := newHub(t)
	publishFixture(t, h, "live/cam1")
	rec := get(t, newThumb(t, Config{Width: 160}, h), "/live/cam1.jpg")
	require.Equal(t, http.StatusOK, rec.Code)
	requireJPEG(t, rec.Body.Bytes(), 160, 120)
	rec = get(t, newThumb(t, Config{Width: 4000}, h), "/live/cam1.jpg")
	require.Equal(t, http.StatusOK, rec.Code)
	requireJPEG(t, rec.Body.Bytes(), fixtureWidth, fixtureHeight) // never upscaled
}

// TestCodecs decodes keyframes that arrive as E-RTMP v2 (which Debian's
// ffmpeg 5.1 cannot read from FLV): avc1, hvc1 (the libx265 fixture of
// pkg/flv), av01 (libaom) and vp09 (libvpx).
func TestCodecs(t *testing.T) {
	requireFFmpeg(t)
	for _, tc := range []struct {
		name          string
		pkts          func(t *testing.T) []*av.Packet
		width, height int
	}{
		{"avc1", avc1Packets, fixtureWidth, fixtureHeight},
		{"hvc1", hevcFixture, 0, 0},
		{"av01", func(t *testing.T) []*av.Packet { return av1Stream(t, 256, 144, false) }, 256, 144},
		{"av01_bare", func(t *testing.T) []*av.Packet { return av1Stream(t, 256, 144, true) }, 256, 144},
		{"vp09", func(t *testing.T) []*av.Packet { return vp9Packets(t, 176, 144) }, 176, 144},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(t)
			th := newThumb(t, Config{}, h)
			pkts := tc.pkts(t)
			w, ht := tc.width, tc.height
			if w == 0 {
				w, ht = hevcSize(t, pkts)
			}
			publish(t, h, "live/"+tc.name, pkts)
			rec := get(t, th, "/live/"+tc.name+".jpg")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			requireJPEG(t, rec.Body.Bytes(), w, ht)
		})
	}
}

const hevcFixturePath = "pkg/flv/testdata/hevc_opus_ertmp.flv"

func hevcFixture(t *testing.T) []*av.Packet {
	return mediatest.LoadFLV(t, mediatest.RepoPath(t, hevcFixturePath))
}

// hevcSize reads the picture size from the SPS of the stream's hvc1
// sequence header.
func hevcSize(t *testing.T, pkts []*av.Packet) (int, int) {
	t.Helper()
	for _, p := range pkts {
		if p.Kind == av.KindVideo && p.Header {
			var cfg hevc.DecoderConfig
			require.NoError(t, cfg.Unmarshal(flv.VideoPayload(p)))
			var sps hevc.SPS
			require.NoError(t, sps.Unmarshal(cfg.First(hevc.NALUSPS)))
			return sps.Width(), sps.Height()
		}
	}
	t.Fatal("no hvc1 sequence header")
	return 0, 0
}

// TestUnsupportedCodec: an E-RTMP codec without a decoder input gives 415,
// cached like any other result.
func TestUnsupportedCodec(t *testing.T) {
	requireFFmpeg(t)
	h := newHub(t)
	th := newThumb(t, Config{}, h)
	publish(t, h, "live/vvc", []*av.Packet{
		exVideo(t, 0, true, ptSequenceStart, "vvc1", []byte{1, 2, 3}),
		exVideo(t, 0, true, ptCodedFrames, "vvc1", []byte{0, 0, 0, 0, 0, 0, 1, 2}),
	})
	rec := get(t, th, "/live/vvc.jpg")
	require.Equal(t, http.StatusUnsupportedMediaType, rec.Code)
	_, _, err := th.Get(t.Context(), "live/vvc")
	require.ErrorIs(t, err, ErrUnsupportedCodec)
	require.Contains(t, err.Error(), `"vvc1"`)
	st := th.Stats()
	require.Equal(t, uint64(1), st.Decodes)
	require.Equal(t, uint64(1), st.Failures)
}

// TestNoVideo: an audio-only stream is refused without a decode; a stream
// whose keyframe does not come within the timeout gets 503.
func TestNoVideo(t *testing.T) {
	requireFFmpeg(t)
	h := newHub(t)
	th := newThumb(t, Config{Timeout: 50 * time.Millisecond}, h)
	g := mediatest.New(mediatest.Config{NoVideo: true})
	publish(t, h, "live/radio", append(g.Headers(), g.Packets(10)...))
	rec := get(t, th, "/live/radio.jpg")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, "stream has no video\n", rec.Body.String())
	require.Equal(t, uint64(0), th.Stats().Decodes)

	// A video header but no keyframe yet.
	gv := mediatest.New(mediatest.Config{NoAudio: true})
	publish(t, h, "live/waiting", gv.Headers())
	rec = get(t, th, "/live/waiting.jpg")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "5", rec.Header().Get("Retry-After"))
	_, _, err := th.Get(t.Context(), "live/waiting")
	require.ErrorIs(t, err, ErrNoKeyframe)
}

// TestGarbageVideo: a keyframe ffmpeg cannot decode (the synthetic
// generator's valid parameter sets with filler slices) fails cleanly.
func TestGarbageVideo(t *testing.T) {
	requireFFmpeg(t)
	h := newHub(t)
	th := newThumb(t, Config{}, h)
	g := mediatest.New(mediatest.Config{})
	publish(t, h, "live/junk", append(g.Headers(), g.Packets(10)...))
	publishFixture(t, h, "live/good")

	rec := get(t, th, "/live/junk.jpg")
	require.Equal(t, http.StatusBadGateway, rec.Code)
	require.Equal(t, "thumbnail decode failed\n", rec.Body.String())
	_, _, err := th.Get(t.Context(), "live/junk")
	require.ErrorIs(t, err, ErrDecode)
	st := th.Stats()
	require.Equal(t, uint64(1), st.Decodes, "the failure is cached for the interval")
	require.Equal(t, uint64(1), st.Failures)
	require.Equal(t, http.StatusOK, get(t, th, "/live/good.jpg").Code, "other streams are not affected")
	requireNoChildren(t)
}

// TestTimeoutKillsProcessGroup runs a fake ffmpeg that never answers and
// starts a child of its own: after the timeout both are gone.
func TestTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	bin := fakeFFmpeg(t, `echo $$ > `+dir+`/pid
sleep 60 &
echo $! > `+dir+`/child
wait`)
	h := newHub(t)
	th := newThumb(t, Config{FFmpeg: bin, Timeout: time.Second}, h)
	require.NoError(t, th.Available())
	publishFixture(t, h, "live/cam1")

	rec := get(t, th, "/live/cam1.jpg")
	require.Equal(t, http.StatusBadGateway, rec.Code)
	pid, child := readPID(t, dir+"/pid"), readPID(t, dir+"/child")
	t.Cleanup(func() { killStray(pid, child) })
	require.False(t, running(pid), "the fake ffmpeg was waited for")
	// The orphaned child is reaped by init, not by us: poll for it.
	require.Eventually(t, func() bool { return processGone(child) }, 5*time.Second, 10*time.Millisecond,
		"the fake ffmpeg's child survived the group kill")
	require.Equal(t, uint64(1), th.Stats().Failures)
	requireNoChildren(t)
}

// TestCloseKillsDecodes: Close ends a running decode at once.
func TestCloseKillsDecodes(t *testing.T) {
	dir := t.TempDir()
	bin := fakeFFmpeg(t, `echo $$ > `+dir+`/pid.tmp
mv `+dir+`/pid.tmp `+dir+`/pid
exec sleep 60`)
	h := newHub(t)
	th := New(Config{Logger: testLogger(t), FFmpeg: bin, Timeout: time.Minute}, h)
	publishFixture(t, h, "live/cam1")

	errc := make(chan error, 1)
	go func() {
		_, _, err := th.Get(context.Background(), "live/cam1")
		errc <- err
	}()
	// The decode runs ffmpeg: wait for the fake to start (real external
	// state), then close.
	require.Eventually(t, func() bool { return fileExists(dir + "/pid") }, 10*time.Second, 5*time.Millisecond)
	pid := readPID(t, dir+"/pid")
	t.Cleanup(func() { killStray(pid) })
	require.NoError(t, th.Close())
	require.False(t, running(pid))
	err := <-errc
	require.ErrorIs(t, err, ErrClosed)
	_, _, err = th.Get(t.Context(), "live/cam1")
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, th.Close(), "idempotent")
}

// TestFakeOutput: ffmpeg output that is not a JPEG, and output past the cap,
// fail the decode.
func TestFakeOutput(t *testing.T) {
	for _, tc := range []struct{ name, script string }{
		{"not_jpeg", `cat > /dev/null; echo hello`},
		{"empty", `cat > /dev/null`},
		{"exit_status", `cat > /dev/null; echo "pipe:0: Invalid data found" >&2; exit 1`},
		{"too_large", `cat > /dev/null; head -c ` + strconv.Itoa(MaxOutputBytes+1) + ` /dev/zero; sleep 60`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(t)
			th := newThumb(t, Config{FFmpeg: fakeFFmpeg(t, tc.script), Timeout: 30 * time.Second}, h)
			publishFixture(t, h, "live/cam1")
			_, _, err := th.Get(t.Context(), "live/cam1")
			require.ErrorIs(t, err, ErrDecode)
			require.NotErrorIs(t, err, context.DeadlineExceeded)
			if tc.name == "exit_status" {
				require.ErrorContains(t, err, "Invalid data found")
			}
			requireNoChildren(t)
		})
	}
}

// TestPanicRecovered: a panic in one decode is recovered, counted and
// answered with 500; other streams go on.
func TestPanicRecovered(t *testing.T) {
	requireFFmpeg(t)
	h := newHub(t)
	var rec guard.Recorder
	th := newThumb(t, Config{Panics: &rec}, h)
	th.testHookDecode = func(key string) {
		if key == "live/bad" {
			panic("boom")
		}
	}
	publishFixture(t, h, "live/bad")
	publishFixture(t, h, "live/good")
	resp := get(t, th, "/live/bad.jpg")
	require.Equal(t, http.StatusInternalServerError, resp.Code)
	_, _, err := th.Get(t.Context(), "live/bad")
	_, isPanic := guard.AsPanic(err)
	require.True(t, isPanic, "%v", err)
	require.Equal(t, []guard.Count{{Component: componentThumbnail, Panics: 1}}, rec.Counts())
	require.Equal(t, http.StatusOK, get(t, th, "/live/good.jpg").Code)
}

// TestGetContext: a caller that gives up does not cancel the shared decode.
func TestGetContext(t *testing.T) {
	requireFFmpeg(t)
	h := newHub(t)
	th := newThumb(t, Config{}, h)
	publishFixture(t, h, "live/cam1")
	release := make(chan struct{})
	th.testHookDecode = func(string) { <-release }
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err := th.Get(ctx, "live/cam1")
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
	close(release)
	_, _, err = th.Get(t.Context(), "live/cam1")
	require.NoError(t, err)
	require.Equal(t, uint64(1), th.Stats().Decodes)
}
