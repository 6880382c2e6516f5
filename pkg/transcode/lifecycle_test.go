package transcode

import (
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
)

// rung360 is the cheapest rung of the test ladder.
var rung360 = testRungs[1:]

func TestNewWithoutFFmpeg(t *testing.T) {
	h := newTestHub(t)
	for _, bin := range []string{"/nonexistent/bin/ffmpeg", "ripple-no-such-ffmpeg"} {
		_, err := New(Config{FFmpeg: bin}, h)
		require.ErrorIs(t, err, ErrNoFFmpeg)
		require.ErrorContains(t, err, bin)
	}
}

func TestNotTranscoded(t *testing.T) {
	requireFFmpeg(t)
	h := newTestHub(t)
	m := newTestManager(t, h, Config{Ladder: func(string) ([]Rung, bool) { return rung360, false }})
	m.Start()
	for _, tc := range []struct {
		key  string
		info hub.PublisherInfo
	}{
		{"live/pulled", hub.PublisherInfo{Protocol: access.ProtoRelay}},
		{"live/cam_t1", hub.PublisherInfo{Protocol: access.ProtoRTMP, Source: "live/cam", Rendition: "t1"}},
		{"live/other_x", hub.PublisherInfo{Protocol: Protocol, Source: "live/other", Rendition: "x"}},
	} {
		pub, err := h.Publish(tc.key, tc.info)
		require.NoError(t, err)
		require.Empty(t, m.Status(), "%s published by %+v", tc.key, tc.info)
		pub.End()
	}
	// Nor a key whose ladder is empty.
	m2 := newTestManager(t, h, Config{Ladder: func(string) ([]Rung, bool) { return nil, false }})
	m2.Start()
	pub, err := h.Publish("live/cam", hub.PublisherInfo{Protocol: access.ProtoRTMP})
	require.NoError(t, err)
	defer pub.End()
	require.Empty(t, m2.Status())
	require.Len(t, m.Status(), 1, "the first manager transcodes it")
}

func TestMaxProcesses(t *testing.T) {
	requireFFmpeg(t)
	t.Run("at publish", func(t *testing.T) {
		h := newTestHub(t)
		log, sink := newLogSink(t)
		m := newTestManager(t, h, Config{Logger: log, MaxProcesses: 1, Ladder: fixedLadder(rung360, false)})
		m.Start()
		// Sources without media: the ladder holds its slot and waits
		// for the first frames before it starts ffmpeg.
		a, err := h.Publish("live/cam", hub.PublisherInfo{Protocol: access.ProtoRTMP})
		require.NoError(t, err)
		b, err := h.Publish("live/cam2", hub.PublisherInfo{Protocol: access.ProtoRTMP})
		require.NoError(t, err)
		defer b.End()
		st := m.Status()
		require.Len(t, st, 1)
		require.Equal(t, "live/cam", st[0].Key)
		sink.waitFor(t, time.Second, "transcoding refused", "stream=live/cam2", "limit=1")
		a.End()
		require.Eventually(t, func() bool { return len(m.Status()) == 0 }, 5*time.Second, 5*time.Millisecond)
	})

	t.Run("on demand", func(t *testing.T) {
		h := newTestHub(t)
		m := newTestManager(t, h, Config{MaxProcesses: 1, Ladder: fixedLadder(rung360, true)})
		m.Start()
		a, err := h.Publish("live/cam", hub.PublisherInfo{Protocol: access.ProtoRTMP})
		require.NoError(t, err)
		b, err := h.Publish("live/cam2", hub.PublisherInfo{Protocol: access.ProtoRTMP})
		require.NoError(t, err)
		defer b.End()
		require.NoError(t, h.Demand("live/cam_360p", hub.ReaderInfo{}))
		require.NoError(t, h.Demand("live/cam_360p", hub.ReaderInfo{}), "a second viewer waits for the same ladder")
		require.ErrorIs(t, h.Demand("live/cam2_360p", hub.ReaderInfo{}), hub.ErrStreamNotFound)
		require.Len(t, m.Status(), 1)
		// The slot comes back when the first source ends.
		a.End()
		require.Eventually(t, func() bool { return h.Demand("live/cam2_360p", hub.ReaderInfo{}) == nil },
			5*time.Second, 5*time.Millisecond)
		st := m.Status()
		require.Len(t, st, 1)
		require.Equal(t, "live/cam2", st[0].Key)
	})
}

func TestFFmpegFailsAndRestarts(t *testing.T) {
	requireFFmpeg(t)
	h := newTestHub(t)
	log, sink := newLogSink(t)
	bad := []Rung{{Name: "bad", Video: "-c:v ripple-no-such-encoder", Audio: "copy"}}
	m := newTestManager(t, h, Config{Logger: log, Ladder: fixedLadder(bad, false),
		BackoffMin: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond})
	m.Start()
	publishSource(t, h, "live/cam", 1)
	line := sink.waitFor(t, 20*time.Second, "ffmpeg restarting", "restarts=2")
	require.Contains(t, line, "exit=\"exit status")
	require.Contains(t, line, "ripple-no-such-encoder", "the restart line has ffmpeg's last stderr lines")
	st, ok := ladderStatus(t, m, "live/cam")
	require.True(t, ok)
	require.GreaterOrEqual(t, st.Restarts, uint64(2))
	require.False(t, st.Renditions[0].Live)
}

func TestCloseKillsFFmpeg(t *testing.T) {
	requireFFmpeg(t)
	h := newTestHub(t)
	m, err := New(Config{FFmpeg: ffmpegPath, Logger: testLogger(t), Ladder: fixedLadder(rung360, false)}, h)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	m.Start()
	cols := collectOnPublish(t, h, "live/cam_360p")
	publishSource(t, h, "live/cam", 10)
	c := cols.get(t, "live/cam_360p", 20*time.Second)
	st, ok := ladderStatus(t, m, "live/cam")
	require.True(t, ok)
	require.True(t, st.Running)

	require.NoError(t, m.Close())
	requireGone(t, st.PID)
	_, ok = h.Stream("live/cam_360p")
	require.False(t, ok, "Close ends the renditions")
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the rendition's reader did not end")
	}
	require.Empty(t, m.Status())
	require.NoError(t, m.Close())
	// Closed: nothing starts any more.
	require.ErrorIs(t, h.Demand("live/cam_360p", hub.ReaderInfo{}), hub.ErrStreamNotFound)
}

func TestSourceReconnectKeepsFFmpeg(t *testing.T) {
	requireFFmpeg(t)
	h := hub.New(hub.Config{ReconnectGrace: 10 * time.Second})
	t.Cleanup(h.Close)
	m := newTestManager(t, h, Config{Ladder: fixedLadder(rung360, false)})
	m.Start()
	cols := collectOnPublish(t, h, "live/cam", "live/cam_360p")
	src := publishSource(t, h, "live/cam", 10)
	srcCol := cols.get(t, "live/cam", time.Second)
	c := cols.get(t, "live/cam_360p", 20*time.Second)
	c.waitFor(t, 20*time.Second, "2 keyframes", func(keys []int64, _ int, _ error) bool { return len(keys) >= 2 })
	st, _ := ladderStatus(t, m, "live/cam")
	pid := st.PID

	// The publisher leaves; the stream waits in its reconnect grace and
	// a new publisher resumes it.
	src.leave()
	keys, _, _ := c.snapshot()
	publishSource(t, h, "live/cam", 10)
	c.waitFor(t, 20*time.Second, "2 more keyframes", func(k []int64, _ int, _ error) bool { return len(k) >= len(keys)+2 })

	st, ok := ladderStatus(t, m, "live/cam")
	require.True(t, ok)
	require.Equal(t, pid, st.PID, "the same ffmpeg went on")
	require.Zero(t, st.Restarts)
	keys, _, err := c.snapshot()
	require.NoError(t, err)
	srcKeys, _, _ := srcCol.snapshot()
	requireSubset(t, "live/cam_360p", keys, srcKeys)
}

func TestPanicInOutputIsRecovered(t *testing.T) {
	requireFFmpeg(t)
	var panicked atomic.Bool
	testHookOutput = func(name string) {
		if name == "360p" && panicked.CompareAndSwap(false, true) {
			panic("boom")
		}
	}
	t.Cleanup(func() { testHookOutput = nil })
	h := newTestHub(t)
	var panics guard.Recorder
	m := newTestManager(t, h, Config{Ladder: fixedLadder(rung360, false), Panics: &panics,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond})
	m.Start()
	cols := collectOnPublish(t, h, "live/cam_360p")
	publishSource(t, h, "live/cam", 10)
	c := cols.get(t, "live/cam_360p", 20*time.Second)
	c.waitFor(t, 20*time.Second, "2 keyframes", func(keys []int64, _ int, _ error) bool { return len(keys) >= 2 })
	require.True(t, panicked.Load())
	require.Equal(t, []guard.Count{{Component: "transcode", Panics: 1}}, panics.Counts())
	st, _ := ladderStatus(t, m, "live/cam")
	require.Equal(t, uint64(1), st.Restarts)
}

func TestStalledFFmpegIsRestarted(t *testing.T) {
	requireFFmpeg(t)
	h := newTestHub(t)
	log, sink := newLogSink(t)
	m := newTestManager(t, h, Config{Logger: log, Ladder: fixedLadder(rung360, false), StallTimeout: 3 * time.Second,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond})
	m.Start()
	cols := collectOnPublish(t, h, "live/cam_360p")
	publishSource(t, h, "live/cam", 10)
	c := cols.get(t, "live/cam_360p", 20*time.Second)
	st, _ := ladderStatus(t, m, "live/cam")
	pid := st.PID

	// A hung ffmpeg: it neither reads nor writes any more.
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	sink.waitFor(t, 20*time.Second, "ffmpeg restarting", "ffmpeg stalled", "restarts=1")
	requireGone(t, pid)
	_, frames, _ := c.snapshot()
	c.waitFor(t, 20*time.Second, "frames after the restart", func(_ []int64, n int, _ error) bool { return n >= frames+25 })
}

func TestStartWithLiveStreams(t *testing.T) {
	requireFFmpeg(t)
	h := hub.New(hub.Config{Policy: func(string) hub.PublishPolicy { return hub.PolicyTakeover }})
	t.Cleanup(h.Close)
	// Live before Start: a source, and a pull.
	src, err := h.Publish("live/cam", hub.PublisherInfo{Protocol: access.ProtoRTMP})
	require.NoError(t, err)
	defer src.End()
	pulled, err := h.Publish("live/cam2", hub.PublisherInfo{Protocol: access.ProtoRelay})
	require.NoError(t, err)
	defer pulled.End()
	m := newTestManager(t, h, Config{Ladder: fixedLadder(rung360, false)})
	m.Start()
	st := m.Status()
	require.Len(t, st, 1)
	require.Equal(t, "live/cam", st[0].Key)
	require.False(t, st[0].OnDemand)
	require.Equal(t, "live/cam_360p", st[0].Renditions[0].Key)
	m.Start() // a second Start does nothing
	require.Len(t, m.Status(), 1)

	// A pull taking the source over stops its ladder: the origin
	// transcodes.
	relay, err := h.Publish("live/cam", hub.PublisherInfo{Protocol: access.ProtoRelay})
	require.NoError(t, err)
	defer relay.End()
	require.Empty(t, m.Status())
}
