package record

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// disk makes the files of a Manager fail on demand.
type disk struct {
	budget atomic.Int64 // bytes the files may still take; < 0: unlimited
	panics atomic.Bool  // the next write panics
	gate   chan struct{}
	gated  atomic.Bool // writes wait for gate
	opened chan string // paths created
}

func newDisk() *disk {
	d := &disk{gate: make(chan struct{}), opened: make(chan string, 64)}
	d.budget.Store(-1)
	return d
}

func (d *disk) opt() envOpt {
	return withManager(func(m *Manager) {
		m.create = func(path string) (diskFile, error) {
			f, err := createFile(path)
			if err != nil {
				return nil, err
			}
			d.opened <- path
			return &faultyFile{File: f.(*os.File), d: d}, nil
		}
	})
}

type faultyFile struct {
	*os.File
	d *disk
}

func (f *faultyFile) Write(b []byte) (int, error) {
	if f.d.gated.Load() {
		<-f.d.gate
	}
	if f.d.panics.CompareAndSwap(true, false) {
		panic("record test: disk on fire")
	}
	for {
		left := f.d.budget.Load()
		if left < 0 {
			return f.File.Write(b)
		}
		n := int64(len(b))
		if n > left {
			n = left
		}
		if !f.d.budget.CompareAndSwap(left, left-n) {
			continue
		}
		w, err := f.File.Write(b[:n])
		if err == nil && w < len(b) {
			err = &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
		}
		return w, err
	}
}

// player subscribes an ordinary reader to key, to check the recording
// costs it nothing.
func player(t *testing.T, h *hub.Hub, key string) *hub.Reader {
	t.Helper()
	r, err := h.Subscribe(key, hub.ReaderInfo{Protocol: access.ProtoHTTPFLV})
	require.NoError(t, err)
	t.Cleanup(r.Close)
	return r
}

// deliverable counts the packets a reader joined before pkts gets: the
// hub makes it wait for the first video keyframe (headers pass).
func deliverable(pkts []*av.Packet) int {
	n, key := 0, false
	for _, p := range pkts {
		key = key || p.Kind == av.KindVideo && p.Keyframe
		if key || !p.IsMedia() || p.Header {
			n++
		}
	}
	return n
}

// drainAll reads what r has queued.
func drainAll(t *testing.T, r *hub.Reader) []*av.Packet {
	t.Helper()
	pkts, _ := r.TryRead(nil)
	return pkts
}

// TestOpenFailsThenRecovers makes the recording directory's path a
// regular file: the open fails with one EventError and a counted error,
// the stream and its player go on, nothing is retried before
// RetryInterval, a failed retry is counted without another event, and
// once the path is usable a new file starts at a keyframe.
func TestOpenFailsThenRecovers(t *testing.T) {
	e := newEnv(t, Rule{Enabled: true}, graceZero)
	blocker := filepath.Join(e.dir, "recordings", "live")
	require.NoError(t, os.MkdirAll(filepath.Dir(blocker), 0o755))
	require.NoError(t, os.WriteFile(blocker, []byte("x"), 0o644))

	g := mediatest.New(mediatest.Config{GOP: 15})
	pub := e.publish(testKey)
	pl := player(t, e.hub, testKey)
	sent := 0
	send := func(n int) {
		pkts := append([]*av.Packet{}, g.Packets(n)...)
		if sent == 0 {
			pkts = append(g.Headers(), pkts...)
		}
		sent += len(pkts)
		e.writeSync(testKey, pub, pkts...)
	}
	send(100) // several keyframes
	ev := e.wait(EventError)
	require.ErrorIs(t, ev.Err, syscall.ENOTDIR)
	require.Equal(t, testKey, ev.Recording.Key)
	require.Contains(t, ev.Recording.Path, filepath.Join("recordings", "live", "cam"))
	require.Equal(t, uint64(1), e.m.Stats().Errors, "no retry within RetryInterval")
	require.Equal(t, 0, e.m.Stats().Active)
	require.True(t, e.m.Recording(testKey), "still recording: waiting to retry")

	e.clock.Add(2 * time.Second)
	send(100)
	require.Equal(t, uint64(2), e.m.Stats().Errors, "a failed retry counts")
	e.noEvent()

	require.NoError(t, os.Remove(blocker))
	e.clock.Add(2 * time.Second)
	send(100)
	started := e.wait(EventStarted)
	require.Equal(t, 1, e.m.Stats().Active)
	send(100)
	pub.Close()
	done := e.wait(EventDone)
	require.Equal(t, started.Recording.Path, done.Recording.Path)
	p := ffprobe(t, done.Recording.Path)
	_, key := p.first("video")
	require.True(t, key)
	require.Equal(t, sent, len(drainAll(t, pl)), "the player got every packet")
	require.Equal(t, uint64(2), e.m.Stats().Errors)
}

// TestDiskFullMidFile fills the disk in the middle of a file: it ends at
// its last complete fragment (readable), with one EventError and its
// EventDone, and the next file starts once writes work again.
func TestDiskFullMidFile(t *testing.T) {
	pkts := fixture(t, 2)
	for _, f := range []Format{FormatFMP4, FormatFLV} {
		t.Run(f.String(), func(t *testing.T) {
			d := newDisk()
			e := newEnv(t, Rule{Enabled: true, Format: f}, graceZero, d.opt())
			pub := e.publish(testKey)
			pl := player(t, e.hub, testKey)
			d.budget.Store(150 << 10)
			half := len(pkts) / 2
			e.writeSync(testKey, pub, pkts[:half]...)
			ev := e.wait(EventError)
			require.ErrorIs(t, ev.Err, syscall.ENOSPC)
			done := e.wait(EventDone)
			require.Equal(t, ev.Recording.Path, done.Recording.Path)
			fi, err := os.Stat(done.Recording.Path)
			require.NoError(t, err)
			require.Equal(t, done.Recording.Size, fi.Size(), "cut back to the last complete unit")
			require.Less(t, fi.Size(), int64(150<<10))
			p := ffprobe(t, done.Recording.Path)
			require.InDelta(t, done.Recording.Duration.Seconds(), p.end("video"), 0.1)
			require.Greater(t, done.Recording.Duration, time.Second)

			d.budget.Store(-1)
			e.clock.Add(2 * time.Second)
			e.writeSync(testKey, pub, pkts[half:]...)
			next := e.wait(EventStarted)
			require.NotEqual(t, done.Recording.Path, next.Recording.Path)
			pub.Close()
			last := e.wait(EventDone)
			p = ffprobe(t, last.Recording.Path)
			_, key := p.first("video")
			require.True(t, key)
			require.Equal(t, deliverable(pkts), len(drainAll(t, pl)), "the player got every packet")
			require.Equal(t, uint64(1), e.m.Stats().Errors)
		})
	}
}

// TestDirectoryRemoved removes the stream's directory while it records:
// the recording notices within a second of media, ends that file with an
// error and starts a new one (the directory made again) after
// RetryInterval.
func TestDirectoryRemoved(t *testing.T) {
	pkts := fixture(t, 2)
	e := newEnv(t, Rule{Enabled: true}, graceZero)
	pub := e.publish(testKey)
	third := len(pkts) / 3
	e.writeSync(testKey, pub, pkts[:third]...)
	started := e.wait(EventStarted)
	require.NoError(t, os.RemoveAll(filepath.Dir(started.Recording.Path)))
	e.writeSync(testKey, pub, pkts[third:2*third]...)
	ev := e.wait(EventError)
	require.ErrorIs(t, ev.Err, errVanished)
	e.wait(EventDone)
	e.clock.Add(2 * time.Second)
	e.writeSync(testKey, pub, pkts[2*third:]...)
	again := e.wait(EventStarted)
	require.Equal(t, filepath.Dir(started.Recording.Path), filepath.Dir(again.Recording.Path))
	pub.Close()
	done := e.wait(EventDone)
	_, err := os.Stat(done.Recording.Path)
	require.NoError(t, err)
}

// TestPanicRecovered makes a write panic: the guard recovers it, the
// recording of that stream ends with an EventError (and EventDone for its
// file), the stream and its player go on, and it can be started again.
func TestPanicRecovered(t *testing.T) {
	d := newDisk()
	var panics guard.Recorder
	e := newEnv(t, Rule{Enabled: true}, graceZero, d.opt(), withConfig(func(c *Config) { c.Panics = &panics }))
	g := mediatest.New(mediatest.Config{})
	pub := e.publish(testKey)
	pl := player(t, e.hub, testKey)
	e.writeSync(testKey, pub, append(g.Headers(), g.Packets(60)...)...)
	e.wait(EventStarted)
	d.panics.Store(true)
	write(t, pub, g.Packets(60)...)
	ev := e.wait(EventError)
	_, ok := guard.AsPanic(ev.Err)
	require.True(t, ok, "%v", ev.Err)
	e.wait(EventDone)
	require.Equal(t, []guard.Count{{Component: "record", Panics: 1}}, panics.Counts())
	require.Eventually(t, func() bool { return !e.m.Recording(testKey) }, waitFor, time.Millisecond)

	require.NoError(t, e.m.StartRecording(testKey))
	e.writeSync(testKey, pub, g.Packets(60)...)
	e.wait(EventStarted)
	pub.Close()
	e.wait(EventDone)
	require.Equal(t, 3+180, len(drainAll(t, pl)))
}

// TestEvictedRejoins stalls the disk until the hub evicts the recording's
// reader: the file ends, the recording counts an error, joins the stream
// again and starts a new file at the GOP cache's keyframe.
func TestEvictedRejoins(t *testing.T) {
	d := newDisk()
	e := newEnv(t, Rule{Enabled: true}, graceZero, d.opt(), withHub(func(hc *hub.Config) {
		hc.QueueSize = 64
		hc.MaxOverflows = 1
	}))
	g := mediatest.New(mediatest.Config{})
	pub := e.publish(testKey)
	e.writeSync(testKey, pub, append(g.Headers(), g.Packets(10)...)...)
	e.wait(EventStarted)
	d.gated.Store(true)
	write(t, pub, g.Packets(30)...) // a fragment closes at the 1 s keyframe: stuck in its write
	e.m.mu.Lock()
	rd := e.m.recs[testKey].rd.Load()
	e.m.mu.Unlock()
	write(t, pub, g.Packets(200)...)
	select {
	case <-rd.Done():
	case <-time.After(waitFor):
		t.Fatal("reader not evicted")
	}
	require.ErrorIs(t, rd.Err(), hub.ErrSlowReader)
	d.gated.Store(false)
	close(d.gate)
	ev := e.next()
	require.Equal(t, EventError, ev.Type)
	require.ErrorIs(t, ev.Err, errFellBack)
	first := e.next()
	require.Equal(t, EventDone, first.Type)
	require.Equal(t, ev.Recording.Path, first.Recording.Path)
	again := e.next()
	require.Equal(t, EventStarted, again.Type)
	require.NotEqual(t, first.Recording.Path, again.Recording.Path)
	require.Equal(t, uint64(1), e.m.Stats().Errors)
	pub.Close()
	e.wait(EventDone)
}

// What a recording holds while it waits for an audio configuration is
// bounded in bytes too: a publisher sending huge frames without audio
// starts the file once 16 MiB are held, not after startWait of media.
func TestHoldBoundedInBytes(t *testing.T) {
	e := newEnv(t, Rule{Enabled: true})
	pub := e.publish(testKey)
	// onMetaData announces AAC; no audio packet ever comes.
	var pkts []*av.Packet
	for _, p := range generated(mediatest.Config{FPS: 30, GOP: 300, KeySize: 1 << 20, FrameSz: 1 << 20}, 60) {
		if p.Kind != av.KindAudio {
			pkts = append(pkts, p)
		}
	}
	write(t, pub, pkts...)
	ev := e.wait(EventStarted)
	require.Equal(t, testKey, ev.Recording.Key, "started within ~30 frames (1 s of media, 30 MiB), before startWait")
	pub.Close()
}

// A publisher that never sends another keyframe cannot grow one file past
// max_bytes: the file ends there and the next starts at a keyframe.
func TestKeyframelessFileBounded(t *testing.T) {
	const limit = 2 << 20
	e := newEnv(t, Rule{Enabled: true, MaxBytes: limit})
	pub := e.publish(testKey)
	// One keyframe, then 1 MiB inter frames only.
	write(t, pub, generated(mediatest.Config{NoAudio: true, FPS: 30, GOP: 1 << 20, KeySize: 64 << 10, FrameSz: 256 << 10}, 40)...)
	started := e.wait(EventStarted)
	done := e.wait(EventDone)
	require.Equal(t, started.Recording.Path, done.Recording.Path)
	require.LessOrEqual(t, done.Recording.Size, int64(limit+(512<<10)), "ended at max_bytes (plus the frame that crossed it)")
	pub.Close()
}
