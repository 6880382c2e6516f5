package thumb

import (
	"bytes"
	"context"
	"encoding/binary"
	"image/jpeg"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/codec/av1"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture is the real H.264/AAC clip every end-to-end case publishes.
const (
	fixture       = "media/h264_aac_gop2s.flv"
	fixtureWidth  = 320
	fixtureHeight = 240
)

// requireFFmpeg fails the test when ffmpeg is missing (skips with -short).
func requireFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if testing.Short() {
			t.Skip("ffmpeg not installed (-short)")
		}
		t.Fatalf("ffmpeg is needed by this test: %v", err)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newHub returns a hub that ends streams as soon as their publisher leaves.
func newHub(t testing.TB) *hub.Hub {
	h := hub.New(hub.Config{})
	t.Cleanup(h.Close)
	return h
}

// newThumb returns a Thumbnailer over h, closed at cleanup.
func newThumb(t *testing.T, cfg Config, h *hub.Hub) *Thumbnailer {
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	th := New(cfg, h)
	t.Cleanup(func() { require.NoError(t, th.Close()) })
	return th
}

// publish publishes pkts under key and returns the publisher (closed at
// cleanup).
func publish(t *testing.T, h *hub.Hub, key string, pkts []*av.Packet) *hub.Publisher {
	t.Helper()
	pub, err := h.Publish(key, hub.PublisherInfo{Protocol: access.ProtoRTMP})
	require.NoError(t, err)
	t.Cleanup(pub.Close)
	for _, p := range pkts {
		require.NoError(t, pub.WritePacket(p))
	}
	return pub
}

// fixturePackets returns the first n packets of the real clip (its headers
// and first keyframe among them), fresh for each call: the hub rewrites
// DTS, so packets are never published twice.
func fixturePackets(t testing.TB, n int) []*av.Packet {
	t.Helper()
	pkts := mediatest.LoadFLV(t, mediatest.RepoPath(t, fixture))
	require.Greater(t, len(pkts), n)
	return pkts[:n]
}

// publishFixture publishes the start of the real clip under key.
func publishFixture(t *testing.T, h *hub.Hub, key string) *hub.Publisher {
	t.Helper()
	return publish(t, h, key, fixturePackets(t, 40))
}

// get requests path from th and returns the recorded response.
func get(t *testing.T, th http.Handler, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	return do(t, th, http.MethodGet, path, hdr...)
}

func do(t *testing.T, th http.Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	th.ServeHTTP(rec, req)
	return rec
}

// requireJPEG decodes b fully and checks its size.
func requireJPEG(t *testing.T, b []byte, width, height int) {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	require.NoError(t, err, "not a JPEG")
	require.Equal(t, width, img.Bounds().Dx(), "width")
	require.Equal(t, height, img.Bounds().Dy(), "height")
}

// clock is a settable time source for Thumbnailer.now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_700_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// running reports whether pid is a live (not zombie) process.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces, the state follows the
	// last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}

// readPID reads a pid a fake ffmpeg wrote.
func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err, "the fake ffmpeg did not write %s", path)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	return pid
}

// fakeFFmpeg writes an executable shell script standing in for ffmpeg.
func fakeFFmpeg(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ffmpeg")
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	return path
}

// exVideo builds an E-RTMP v2 video packet ([IsExHeader|FrameType|
// PacketType] FourCC body) as ingest classifies it.
func exVideo(t *testing.T, ts uint32, key bool, pt byte, fourCC string, body []byte) *av.Packet {
	t.Helper()
	ft := byte(2)
	if key {
		ft = 1
	}
	b := append([]byte{0x80 | ft<<4 | pt}, fourCC...)
	p, err := flv.PacketFromTag(flv.TagVideo, ts, append(b, body...))
	require.NoError(t, err)
	require.NotNil(t, p)
	return p
}

// E-RTMP v2 VideoPacketType values.
const (
	ptSequenceStart = 0
	ptCodedFrames   = 1
)

// avc1Packets rewrites the clip's legacy AVC video as E-RTMP "avc1".
func avc1Packets(t *testing.T) []*av.Packet {
	var out []*av.Packet
	for _, p := range fixturePackets(t, 40) {
		if p.Kind != av.KindVideo {
			continue
		}
		payload := flv.VideoPayload(p)
		if p.Header {
			out = append(out, exVideo(t, uint32(p.DTS), true, ptSequenceStart, "avc1", payload))
			continue
		}
		cts := uint32(p.CTS)
		body := append([]byte{byte(cts >> 16), byte(cts >> 8), byte(cts)}, payload...)
		out = append(out, exVideo(t, uint32(p.DTS), p.Keyframe, ptCodedFrames, "avc1", body))
	}
	return out
}

// encode runs ffmpeg to make a short test-pattern clip with the given
// video encoder arguments and output format, and returns its bytes.
func encode(t *testing.T, width, height int, format string, codec ...string) []byte {
	t.Helper()
	args := []string{"-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc2=size=" + strconv.Itoa(width) + "x" + strconv.Itoa(height) + ":rate=10",
		"-frames:v", "3", "-threads", "1"}
	args = append(args, codec...)
	args = append(args, "-f", format, "pipe:1")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "ffmpeg %v: %s", args, stderr.String())
	return out
}

// av1Stream encodes a clip with libaom and packs it as E-RTMP "av01": a
// SequenceStart with the AV1CodecConfigurationRecord, then one coded frame
// per temporal unit (its OBUs without the temporal delimiter, AV1-ISOBMFF
// §2.4). With bare, each temporal unit also leaves out the sequence header
// (the decoder must take it from the configuration record) and its last
// OBU has no size field, as AV1-ISOBMFF §2.4 allows.
func av1Stream(t *testing.T, width, height int, bare bool) []*av.Packet {
	obus := encode(t, width, height, "obu", "-c:v", "libaom-av1", "-cpu-used", "8", "-g", "10")
	var (
		tus    [][]byte
		seqHdr []byte
		o      av1.OBU
	)
	for b := obus; len(b) > 0; b = b[o.Len:] {
		require.NoError(t, o.Unmarshal(b))
		switch o.Type {
		case av1.OBUTemporalDelimiter:
			tus = append(tus, nil)
			continue
		case av1.OBUSequenceHeader:
			if seqHdr == nil {
				seqHdr = b[:o.Len]
			}
		}
		require.NotEmpty(t, tus, "the stream must start with a temporal delimiter")
		if bare && o.Type == av1.OBUSequenceHeader {
			continue
		}
		tus[len(tus)-1] = append(tus[len(tus)-1], b[:o.Len]...)
	}
	if bare {
		for i, tu := range tus {
			tus[i] = unsizeLast(t, tu)
		}
	}
	require.NotNil(t, seqHdr)
	rec, err := av1.DecoderConfig{ChromaSubsamplingX: true, ChromaSubsamplingY: true, ConfigOBUs: seqHdr}.Marshal()
	require.NoError(t, err)
	out := []*av.Packet{exVideo(t, 0, true, ptSequenceStart, "av01", rec)}
	for i, tu := range tus {
		out = append(out, exVideo(t, uint32(i*100), i == 0, ptCodedFrames, "av01", tu))
	}
	return out
}

// vp9Packets encodes a clip with libvpx and packs its IVF frames as E-RTMP
// "vp09" coded frames after a SequenceStart (a VPCodecConfigurationRecord
// for profile 0, 8 bits, 4:2:0).
func vp9Packets(t *testing.T, width, height int) []*av.Packet {
	ivf := encode(t, width, height, "ivf", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-g", "10")
	require.Greater(t, len(ivf), 32)
	hdrLen := int(binary.LittleEndian.Uint16(ivf[6:]))
	vpcc := []byte{1, 0, 0, 0, 0, 10, 0x80, 1, 1, 1, 0, 0}
	out := []*av.Packet{exVideo(t, 0, true, ptSequenceStart, "vp09", vpcc)}
	for b, i := ivf[hdrLen:], 0; len(b) >= 12; i++ {
		n := int(binary.LittleEndian.Uint32(b))
		require.LessOrEqual(t, 12+n, len(b))
		out = append(out, exVideo(t, uint32(i*100), i == 0, ptCodedFrames, "vp09", b[12:12+n]))
		b = b[12+n:]
	}
	return out
}

// processGone reports whether no process of pids is running.
func processGone(pids ...int) bool {
	for _, pid := range pids {
		if running(pid) {
			return false
		}
	}
	return true
}

// killStray ends the processes of a failed test so they do not outlive it.
func killStray(pids ...int) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// unsizeLast rewrites the last OBU of tu without obu_has_size_field.
func unsizeLast(t *testing.T, tu []byte) []byte {
	t.Helper()
	var o av1.OBU
	start := 0
	for b := tu; ; {
		require.NoError(t, o.Unmarshal(b))
		if o.Len == len(b) {
			break
		}
		start += o.Len
		b = b[o.Len:]
	}
	require.True(t, o.HasSize)
	out := append([]byte(nil), tu[:start]...)
	out = append(out, tu[start]&^0x02)
	if o.Extension {
		out = append(out, tu[start+1])
	}
	return append(out, o.Payload...)
}

// requireNoChildren checks that the test process has no child processes
// left (running or unreaped): every ffmpeg was waited for. The tests of
// this package do not run in parallel.
func requireNoChildren(t *testing.T) {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/children")
	require.NoError(t, err)
	require.NotEmpty(t, tasks, "/proc/self/task/*/children is missing")
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue // the thread exited meanwhile
		}
		require.NoError(t, err)
		require.Empty(t, strings.TrimSpace(string(b)), "child processes left: %s", b)
	}
}
