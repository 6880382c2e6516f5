package transcode

import (
	"context"
	"errors"
	"io"
	"log/slog"
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

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/codec/h264"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/logtest"
)

// fixtureDir holds the clip the end-to-end tests generate once.
var fixtureDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "transcode-test-")
	if err != nil {
		panic(err)
	}
	fixtureDir = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(dir) }))
}

// ffmpegPath is the real ffmpeg the tests use.
const ffmpegPath = "/usr/bin/ffmpeg"

// requireFFmpeg fails the test when ffmpeg is missing (skips with -short).
func requireFFmpeg(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs ffmpeg (-short)")
	}
	if _, err := exec.LookPath(ffmpegPath); err != nil {
		t.Fatalf("ffmpeg is needed by this test: %v", err)
	}
}

var (
	clipOnce sync.Once
	clipTags []flv.Tag
	clipErr  error
)

// clip returns the tags of a 6 s 1280x720 25 fps H.264 (a keyframe every
// second) + AAC clip, generated once with ffmpeg.
func clip(t *testing.T) []flv.Tag {
	t.Helper()
	requireFFmpeg(t)
	clipOnce.Do(func() {
		path := filepath.Join(fixtureDir, "clip.flv")
		out, err := exec.Command(ffmpegPath, "-hide_banner", "-loglevel", "error", "-y",
			"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine",
			"-t", "6", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
			"-c:a", "aac", "-f", "flv", path).CombinedOutput()
		if err != nil {
			clipErr = errors.New(string(out))
			return
		}
		f, err := os.Open(path)
		if err != nil {
			clipErr = err
			return
		}
		defer f.Close()
		fr := flv.NewReader(f)
		if _, clipErr = fr.ReadHeader(); clipErr != nil {
			return
		}
		for {
			tag, err := fr.ReadTag()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				clipErr = err
				return
			}
			clipTags = append(clipTags, tag)
		}
	})
	require.NoError(t, clipErr)
	return clipTags
}

// source publishes the clip into a hub at real time, looped, as an RTMP
// publisher would.
type source struct {
	pub  *hub.Publisher
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// publishSource publishes key and feeds it the clip, loops times, paced at
// the clip's real time (the source is live: ffmpeg must keep up with it,
// not drain it at once). The stream stays published until end.
func publishSource(t *testing.T, h *hub.Hub, key string, loops int) *source {
	t.Helper()
	tags := clip(t)
	pub, err := h.Publish(key, hub.PublisherInfo{Protocol: "rtmp", RemoteAddr: "127.0.0.1:1935"})
	require.NoError(t, err)
	s := &source{pub: pub, stop: make(chan struct{}), done: make(chan struct{})}
	loopDur := int64(tags[len(tags)-1].Timestamp) + 40
	go func() {
		defer close(s.done)
		start := time.Now()
		timer := time.NewTimer(0)
		defer timer.Stop()
		for loop := range int64(loops) {
			for _, tag := range tags {
				p, err := flv.PacketFromTag(tag.Type, tag.Timestamp, tag.Body)
				if err != nil || p == nil || (loop > 0 && (p.Header || p.Kind == av.KindData)) {
					continue
				}
				p.DTS += loop * loopDur
				if wait := time.Until(start.Add(time.Duration(p.DTS) * time.Millisecond)); wait > 0 {
					timer.Reset(wait)
					select {
					case <-timer.C:
					case <-s.stop:
						return
					}
				}
				if pub.WritePacket(p) != nil {
					return
				}
			}
		}
	}()
	t.Cleanup(s.end)
	return s
}

// end stops feeding and ends the stream at once.
func (s *source) end() {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.pub.End()
	})
}

// leave stops feeding and leaves the stream as a publisher that lost its
// connection: the stream waits in its reconnect grace.
func (s *source) leave() {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.pub.Close()
	})
}

// collector records what a hub reader of one stream receives.
type collector struct {
	key    string
	rd     *hub.Reader
	update chan struct{} // signalled after each batch
	done   chan struct{} // closed when the reader ended

	mu     sync.Mutex
	keys   []int64 // video keyframe DTS
	frames int     // video frames
	vhdr   *av.Packet
	info   hub.StreamInfo
	err    error
}

func newCollector(key string, rd *hub.Reader) *collector {
	c := &collector{key: key, rd: rd, update: make(chan struct{}, 1), done: make(chan struct{})}
	c.info = rd.Stream()
	go c.run()
	return c
}

func (c *collector) run() {
	defer close(c.done)
	buf := make([]*av.Packet, 0, 256)
	for {
		pkts, err := c.rd.Read(context.Background(), buf[:0])
		c.mu.Lock()
		for _, p := range pkts {
			if p.Kind != av.KindVideo {
				continue
			}
			switch {
			case p.Header:
				c.vhdr = p
			case p.Keyframe:
				c.keys = append(c.keys, p.DTS)
				c.frames++
			default:
				c.frames++
			}
		}
		c.err = err
		c.mu.Unlock()
		select {
		case c.update <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// snapshot returns copies of the collected keyframes and the frame count.
func (c *collector) snapshot() (keys []int64, frames int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int64(nil), c.keys...), c.frames, c.err
}

// waitFor waits until cond holds for what was collected.
func (c *collector) waitFor(t *testing.T, timeout time.Duration, what string, cond func(keys []int64, frames int, err error) bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if cond(c.snapshot()) {
			return
		}
		select {
		case <-c.update:
		case <-deadline.C:
			keys, frames, err := c.snapshot()
			t.Fatalf("%s: %s not reached in %s (keyframes %v, frames %d, err %v)", c.key, what, timeout, keys, frames, err)
		}
	}
}

func (c *collector) close() {
	c.rd.Close()
	<-c.done
}

// collectors subscribe to streams as soon as they are published.
type collectors struct {
	mu    sync.Mutex
	cols  map[string]*collector
	ready map[string]chan struct{}
}

// collectOnPublish subscribes to each key when it is published (in the
// hub's publish event, so the reader sees the stream from its first
// packet).
func collectOnPublish(t *testing.T, h *hub.Hub, keys ...string) *collectors {
	t.Helper()
	cs := &collectors{cols: make(map[string]*collector), ready: make(map[string]chan struct{})}
	for _, k := range keys {
		cs.ready[k] = make(chan struct{})
	}
	cancel := h.Watch(func(e hub.Event) {
		if e.Type != hub.EventPublish || e.Resumed || cs.ready[e.Key] == nil {
			return
		}
		cs.mu.Lock()
		defer cs.mu.Unlock()
		if cs.cols[e.Key] != nil {
			return
		}
		rd, err := h.Subscribe(e.Key, hub.ReaderInfo{Protocol: "test"})
		if err != nil {
			return
		}
		cs.cols[e.Key] = newCollector(e.Key, rd)
		close(cs.ready[e.Key])
	})
	t.Cleanup(func() {
		cancel()
		cs.mu.Lock()
		defer cs.mu.Unlock()
		for _, c := range cs.cols {
			c.close()
		}
	})
	return cs
}

// get returns key's collector, waiting for the key to be published.
func (cs *collectors) get(t *testing.T, key string, timeout time.Duration) *collector {
	t.Helper()
	select {
	case <-cs.ready[key]:
	case <-time.After(timeout):
		t.Fatalf("%s not published within %s", key, timeout)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.cols[key]
}

// testLogger logs to the test's output at Debug.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// sps returns the picture size of an H.264 sequence header packet.
func sps(t *testing.T, p *av.Packet) (w, h int) {
	t.Helper()
	require.NotNil(t, p, "no video sequence header")
	var dc h264.DecoderConfig
	require.NoError(t, dc.Unmarshal(flv.VideoPayload(p)))
	require.NotEmpty(t, dc.SPS)
	var s h264.SPS
	require.NoError(t, s.Unmarshal(dc.SPS[0]))
	return s.Width(), s.Height()
}

// requireGone fails unless no process of pid's process group is left.
func requireGone(t *testing.T, pid int) {
	t.Helper()
	require.NotZero(t, pid)
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	require.True(t, os.IsNotExist(err), "process %d still exists", pid)
	require.ErrorIs(t, syscall.Kill(-pid, 0), syscall.ESRCH, "process group %d still has processes", pid)
}

// logSink keeps what a logger writes and signals each record, so a test
// can wait for a line without polling.
type logSink struct {
	buf     logtest.Buffer
	changed chan struct{}
}

// newLogSink returns a Debug logger writing to the test's output and to
// the sink.
func newLogSink(t *testing.T) (*slog.Logger, *logSink) {
	s := &logSink{changed: make(chan struct{}, 1)}
	th := slog.NewTextHandler(io.MultiWriter(t.Output(), &s.buf), &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(notifyHandler{Handler: th, changed: s.changed}), s
}

// waitFor waits until a logged line contains every one of parts, and
// returns it.
func (s *logSink) waitFor(t *testing.T, timeout time.Duration, parts ...string) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		for line := range strings.SplitSeq(s.buf.String(), "\n") {
			if containsAll(line, parts) {
				return line
			}
		}
		select {
		case <-s.changed:
		case <-deadline.C:
			t.Fatalf("no log line with %q within %s", parts, timeout)
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

type notifyHandler struct {
	slog.Handler
	changed chan struct{}
}

func (h notifyHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	select {
	case h.changed <- struct{}{}:
	default:
	}
	return err
}

func (h notifyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return notifyHandler{Handler: h.Handler.WithAttrs(as), changed: h.changed}
}

func (h notifyHandler) WithGroup(name string) slog.Handler {
	return notifyHandler{Handler: h.Handler.WithGroup(name), changed: h.changed}
}
