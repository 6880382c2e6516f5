package transcode

import (
	"context"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// The test ladder: a 720p re-encode at a small bit rate with re-encoded
// audio, and a 360p one with the source's audio copied.
var testRungs = []Rung{
	{Name: "720p", Video: "-c:v libx264 -preset ultrafast -tune zerolatency -b:v 600k", Audio: "-c:a aac -b:a 64k"},
	{Name: "360p", Video: "-c:v libx264 -preset ultrafast -b:v 300k -vf scale=-2:360 -g 25", Audio: "copy"},
}

func fixedLadder(rungs []Rung, onDemand bool) func(string) ([]Rung, bool) {
	return func(key string) ([]Rung, bool) {
		if key == "live/cam" || key == "live/cam2" {
			return rungs, onDemand
		}
		return nil, false
	}
}

func newTestManager(t *testing.T, h *hub.Hub, cfg Config) *Manager {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = ffmpegPath
	}
	m, err := New(cfg, h)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m
}

func newTestHub(t *testing.T) *hub.Hub {
	h := hub.New(hub.Config{})
	t.Cleanup(h.Close)
	return h
}

// ladderStatus returns the status of key's ladder.
func ladderStatus(t *testing.T, m *Manager, key string) (Status, bool) {
	t.Helper()
	for _, st := range m.Status() {
		if st.Key == key {
			return st, true
		}
	}
	return Status{}, false
}

// requireSubset fails unless every rendition keyframe is a source keyframe.
func requireSubset(t *testing.T, what string, rendition, source []int64) {
	t.Helper()
	for _, k := range rendition {
		require.True(t, slices.Contains(source, k), "%s keyframe at %d ms is not a source keyframe (source %v, rendition %v)",
			what, k, source, rendition)
	}
}

func TestLadder(t *testing.T) {
	requireFFmpeg(t)
	h := newTestHub(t)
	m := newTestManager(t, h, Config{Ladder: fixedLadder(testRungs, false), BackoffMin: 20 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	m.Start()
	cols := collectOnPublish(t, h, "live/cam", "live/cam_720p", "live/cam_360p")
	src := publishSource(t, h, "live/cam", 10)

	srcCol := cols.get(t, "live/cam", time.Second)
	c720 := cols.get(t, "live/cam_720p", 20*time.Second)
	c360 := cols.get(t, "live/cam_360p", 20*time.Second)
	atLeast := func(n int) func([]int64, int, error) bool {
		return func(keys []int64, _ int, _ error) bool { return len(keys) >= n }
	}
	c720.waitFor(t, 20*time.Second, "3 keyframes", atLeast(3))
	c360.waitFor(t, 20*time.Second, "3 keyframes", atLeast(3))

	t.Run("renditions are hub streams naming their source", func(t *testing.T) {
		for _, r := range testRungs {
			st, ok := h.Stream("live/cam_" + r.Name)
			require.True(t, ok)
			require.Equal(t, hub.PublisherInfo{Protocol: Protocol, Source: "live/cam", Rendition: r.Name}, st.Publisher)
		}
	})

	t.Run("picture sizes", func(t *testing.T) {
		w, hh := sps(t, c720.vhdr)
		require.Equal(t, [2]int{1280, 720}, [2]int{w, hh})
		w, hh = sps(t, c360.vhdr)
		require.Equal(t, [2]int{640, 360}, [2]int{w, hh})
	})

	t.Run("keyframes on the source's timestamps", func(t *testing.T) {
		srcKeys, _, _ := srcCol.snapshot()
		for _, c := range []*collector{c720, c360} {
			keys, _, _ := c.snapshot()
			// Started with its source: the same timeline, from the
			// source's first keyframe on.
			require.Equal(t, srcKeys[0], keys[0], c.key)
			requireSubset(t, c.key, keys, srcKeys)
			// And no source keyframe skipped in between.
			n := slices.Index(srcKeys, keys[len(keys)-1])
			require.Equal(t, srcKeys[:n+1], keys, c.key)
		}
		st, ok := ladderStatus(t, m, "live/cam")
		require.True(t, ok)
		for _, r := range st.Renditions {
			require.Zero(t, r.Offset, r.Name)
			require.True(t, r.Live, r.Name)
		}
	})

	// ffmpeg reports its speed twice a second.
	require.Eventually(t, func() bool {
		st, ok := ladderStatus(t, m, "live/cam")
		return ok && st.Speed > 0
	}, 5*time.Second, 10*time.Millisecond)
	st, ok := ladderStatus(t, m, "live/cam")
	require.True(t, ok)
	require.True(t, st.Running)
	require.Zero(t, st.Restarts)
	pid := st.PID

	t.Run("killed ffmpeg restarts and the renditions go on", func(t *testing.T) {
		_, before720, _ := c720.snapshot()
		keys360, _, _ := c360.snapshot()
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		require.Eventually(t, func() bool {
			st, ok := ladderStatus(t, m, "live/cam")
			return ok && st.Restarts == 1 && st.Running && st.PID != pid
		}, 10*time.Second, 10*time.Millisecond)
		requireGone(t, pid)
		c720.waitFor(t, 20*time.Second, "frames after the restart", func(_ []int64, frames int, _ error) bool {
			return frames >= before720+50
		})
		c360.waitFor(t, 20*time.Second, "2 keyframes after the restart", atLeast(len(keys360)+2))
		srcKeys, _, _ := srcCol.snapshot()
		for _, c := range []*collector{c720, c360} {
			keys, _, err := c.snapshot()
			require.NoError(t, err, "%s: the rendition's readers stay attached", c.key)
			requireSubset(t, c.key, keys, srcKeys)
			require.True(t, slices.IsSorted(keys) && len(slices.Compact(slices.Clone(keys))) == len(keys), "%s: %v", c.key, keys)
		}
		st, _ := ladderStatus(t, m, "live/cam")
		for _, r := range st.Renditions {
			require.Zero(t, r.Offset, "%s: the timeline goes on after the restart", r.Name)
			require.Positive(t, r.Frames)
			require.Positive(t, r.Bitrate)
			require.Positive(t, r.FPS)
		}
	})

	st, _ = ladderStatus(t, m, "live/cam")
	pid = st.PID

	t.Run("source end stops ffmpeg and ends the renditions", func(t *testing.T) {
		src.end()
		for _, c := range []*collector{c720, c360} {
			select {
			case <-c.done:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s did not end", c.key)
			}
		}
		_, ok := ladderStatus(t, m, "live/cam")
		require.False(t, ok)
		requireGone(t, pid)
		for _, r := range testRungs {
			_, ok := h.Stream("live/cam_" + r.Name)
			require.False(t, ok)
		}
	})
}

func TestOnDemand(t *testing.T) {
	requireFFmpeg(t)
	h := newTestHub(t)
	m := newTestManager(t, h, Config{Ladder: fixedLadder(testRungs[1:], true), IdleTimeout: 500 * time.Millisecond})
	m.Start()
	cols := collectOnPublish(t, h, "live/cam")
	publishSource(t, h, "live/cam", 10)
	srcCol := cols.get(t, "live/cam", time.Second)
	require.Empty(t, m.Status(), "an on-demand ladder waits for its first viewer")

	require.ErrorIs(t, h.Demand("live/cam_1080p", hub.ReaderInfo{}), hub.ErrStreamNotFound)
	require.ErrorIs(t, h.Demand("live/nosuch_360p", hub.ReaderInfo{}), hub.ErrStreamNotFound)

	srcCol.waitFor(t, 10*time.Second, "2 keyframes", func(keys []int64, _ int, _ error) bool { return len(keys) >= 2 })
	ended := make(chan struct{})
	cancel := h.Watch(func(e hub.Event) {
		if e.Type == hub.EventStreamEnd && e.Key == "live/cam_360p" {
			close(ended)
		}
	})
	defer cancel()

	require.NoError(t, h.Demand("live/cam_360p", hub.ReaderInfo{Protocol: "test"}))
	st, ok := ladderStatus(t, m, "live/cam")
	require.True(t, ok)
	require.True(t, st.OnDemand)
	ctx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	require.NoError(t, h.WaitStream(ctx, "live/cam_360p"))
	rd, err := h.Subscribe("live/cam_360p", hub.ReaderInfo{Protocol: "test"})
	require.NoError(t, err)
	c := newCollector("live/cam_360p", rd)
	c.waitFor(t, 20*time.Second, "2 keyframes", func(keys []int64, _ int, _ error) bool { return len(keys) >= 2 })

	// Started late, the rendition is still on the source's timeline (the
	// hub keeps a rendition's timestamps): keyframes fall on the source's.
	st, _ = ladderStatus(t, m, "live/cam")
	offset := st.Renditions[0].Offset
	require.Zero(t, offset)
	keys, _, _ := c.snapshot()
	srcKeys, _, _ := srcCol.snapshot()
	for i := range keys {
		keys[i] += offset
	}
	requireSubset(t, "live/cam_360p", keys, srcKeys)
	pid := st.PID

	// The last viewer leaves: the ladder stops after IdleTimeout.
	c.close()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the idle rendition did not end")
	}
	require.Eventually(t, func() bool { return len(m.Status()) == 0 }, 5*time.Second, 10*time.Millisecond)
	requireGone(t, pid)
}
