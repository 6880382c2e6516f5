package record

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestStartStopRecording(t *testing.T) {
	e := newEnv(t, Rule{}) // nothing recorded by configuration
	require.ErrorIs(t, e.m.StartRecording(testKey), ErrNotLive)
	require.ErrorIs(t, e.m.StartRecording("not a key"), ErrNotLive)
	require.ErrorIs(t, e.m.StopRecording(testKey), ErrNotRecording)

	g := mediatest.New(mediatest.Config{})
	pub := e.publish(testKey)
	write(t, pub, append(g.Headers(), g.Packets(50)...)...) // not recorded
	require.False(t, e.m.Recording(testKey))
	e.noEvent()

	require.NoError(t, e.m.StartRecording(testKey))
	require.True(t, e.m.Recording(testKey))
	require.ErrorIs(t, e.m.StartRecording(testKey), ErrAlreadyRecording)
	started := e.wait(EventStarted) // at the GOP cache's keyframe
	e.writeSync(testKey, pub, g.Packets(100)...)
	require.NoError(t, e.m.StopRecording(testKey))
	done := e.next() // StopRecording returns once the file is done
	require.Equal(t, EventDone, done.Type)
	require.Equal(t, started.Recording.Path, done.Recording.Path)
	require.False(t, e.m.Recording(testKey))
	require.ErrorIs(t, e.m.StopRecording(testKey), ErrNotRecording)
	require.Equal(t, 0, e.m.Stats().Active)
	p := ffprobe(t, done.Recording.Path)
	require.InDelta(t, done.Recording.Duration.Seconds(), p.end("video"), 0.05)

	// Started again by hand: a new file.
	require.NoError(t, e.m.StartRecording(testKey))
	e.writeSync(testKey, pub, g.Packets(100)...)
	again := e.wait(EventStarted)
	require.NotEqual(t, started.Recording.Path, again.Recording.Path)
	pub.Close()
	require.NoError(t, e.m.Close())
	e.wait(EventDone)
	require.ErrorIs(t, e.m.StartRecording(testKey), ErrClosed)
}

// TestStopStaysStopped: a stream recorded by configuration and stopped by
// hand is not recorded again when its publisher resumes within the
// reconnect grace, only when it is published anew.
func TestStopStaysStopped(t *testing.T) {
	e := newEnv(t, Rule{Enabled: true})
	g := mediatest.New(mediatest.Config{})
	pub := e.publish(testKey)
	e.writeSync(testKey, pub, append(g.Headers(), g.Packets(50)...)...)
	e.wait(EventStarted)
	require.NoError(t, e.m.StopRecording(testKey))
	e.wait(EventDone)

	pub.Close() // within the reconnect grace: the stream lives on
	pub = e.publish(testKey)
	write(t, pub, append(g.Headers(), g.Packets(100)...)...)
	require.False(t, e.m.Recording(testKey))
	pub.Close()

	// Published anew after the stream ended (a hub without grace).
	e2 := newEnv(t, Rule{Enabled: true}, graceZero)
	g = mediatest.New(mediatest.Config{})
	pub = e2.publish(testKey)
	e2.writeSync(testKey, pub, append(g.Headers(), g.Packets(50)...)...)
	e2.wait(EventStarted)
	require.NoError(t, e2.m.StopRecording(testKey))
	e2.wait(EventDone)
	pub.Close()
	pub = e2.publish(testKey)
	require.True(t, e2.m.Recording(testKey))
	g = mediatest.New(mediatest.Config{})
	write(t, pub, append(g.Headers(), g.Packets(50)...)...)
	e2.wait(EventStarted)
	pub.Close()
	e2.wait(EventDone)
	e.noEvent()
}

// TestReconnectOneFile: a publisher that drops and comes back within the
// reconnect grace (timestamps restarting at 0, the same headers) keeps
// the stream, so the recording keeps its one file.
func TestReconnectOneFile(t *testing.T) {
	for _, f := range []Format{FormatFMP4, FormatFLV} {
		t.Run(f.String(), func(t *testing.T) {
			e := newEnv(t, Rule{Enabled: true, Format: f})
			pub := e.publish(testKey)
			write(t, pub, fixture(t, 1)...)
			pub.Close()
			pub = e.publish(testKey)
			write(t, pub, fixture(t, 1)...) // a fresh encoder: from 0 again
			pub.Close()
			e.hub.Close() // the end of the stream
			started := e.next()
			require.Equal(t, EventStarted, started.Type)
			done := e.next()
			require.Equal(t, EventDone, done.Type)
			e.noEvent()
			p := ffprobe(t, done.Recording.Path)
			require.InDelta(t, 20.0, p.end("video"), 0.5)
			require.InDelta(t, 20.0, done.Recording.Duration.Seconds(), 0.5)
			entries, err := os.ReadDir(filepath.Dir(done.Recording.Path))
			require.NoError(t, err)
			require.Len(t, entries, 1)
		})
	}
}

// TestShutdown finishes every file, and returns with the context's cause
// when a recording cannot finish in time (a stuck disk); Close then waits.
func TestShutdown(t *testing.T) {
	d := newDisk()
	e := newEnv(t, Rule{Enabled: true}, d.opt())
	g := mediatest.New(mediatest.Config{})
	for _, key := range []string{"live/a", "live/b"} {
		pub := e.publish(key)
		e.writeSync(key, pub, append(g.Headers(), g.Packets(100)...)...)
		e.wait(EventStarted)
	}
	require.Equal(t, 2, e.m.Stats().Active)
	require.NoError(t, e.m.Shutdown(context.Background()))
	for range 2 {
		done := e.wait(EventDone)
		p := ffprobe(t, done.Recording.Path)
		require.InDelta(t, done.Recording.Duration.Seconds(), p.duration(), 0.05, "mvhd duration set")
	}
	require.Equal(t, 0, e.m.Stats().Active)
	require.ErrorIs(t, e.m.StartRecording("live/a"), ErrClosed)
	require.NoError(t, e.m.Close())
	require.NoError(t, e.m.Close())

	e2 := newEnv(t, Rule{Enabled: true}, d.opt())
	g = mediatest.New(mediatest.Config{})
	pub := e2.publish(testKey)
	e2.writeSync(testKey, pub, append(g.Headers(), g.Packets(100)...)...)
	e2.wait(EventStarted)
	d.gated.Store(true)
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(context.DeadlineExceeded)
	require.ErrorIs(t, e2.m.Shutdown(ctx), context.DeadlineExceeded)
	d.gated.Store(false)
	close(d.gate)
	require.NoError(t, e2.m.Close())
	e2.wait(EventDone)
}

// TestRecordsLiveStreamsOnStart: Start records the streams already live.
func TestRecordsLiveStreamsOnStart(t *testing.T) {
	h := hub.New(hub.Config{})
	defer h.Close()
	pub, err := h.Publish(testKey, hub.PublisherInfo{})
	require.NoError(t, err)
	events := make(chan Event, 16)
	m := New(Config{Root: t.TempDir(), Rule: func(string) Rule { return Rule{Enabled: true} },
		OnEvent: func(e Event) { events <- e }}, h)
	defer m.Close()
	require.False(t, m.Recording(testKey))
	m.Start()
	m.Start()
	require.True(t, m.Recording(testKey))
	g := mediatest.New(mediatest.Config{})
	write(t, pub, append(g.Headers(), g.Packets(10)...)...)
	select {
	case ev := <-events:
		require.Equal(t, EventStarted, ev.Type)
	case <-time.After(waitFor):
		t.Fatal("no recording started")
	}
}

// Automatic recording records a stream once, on its origin: a rendition
// (its source is recorded) and, with SkipPulled, a stream pulled from
// another node are not; a stream that turns into a pull stops recording.
func TestAutoSkipsRenditionsAndPulls(t *testing.T) {
	e := newEnv(t, Rule{Enabled: true}, withConfig(func(c *Config) { c.SkipPulled = true }))
	rend, err := e.hub.Publish("live/cam_360p", hub.PublisherInfo{Protocol: access.ProtoTranscode,
		Source: "live/cam", Rendition: "360p"})
	require.NoError(t, err)
	defer rend.Close()
	pulled, err := e.hub.Publish("live/far", hub.PublisherInfo{Protocol: access.ProtoRelay})
	require.NoError(t, err)
	defer pulled.Close()
	require.False(t, e.m.Recording("live/cam_360p"), "a rendition")
	require.False(t, e.m.Recording("live/far"), "a pulled stream")

	// A stream published here records, until a pull resumes it (this
	// node stopped being its origin).
	p := e.publish("live/here")
	require.True(t, e.m.Recording("live/here"))
	p.Close() // inside the grace
	relay, err := e.hub.Publish("live/here", hub.PublisherInfo{Protocol: access.ProtoRelay})
	require.NoError(t, err)
	defer relay.Close()
	require.Eventually(t, func() bool { return !e.m.Recording("live/here") }, waitFor, 5*time.Millisecond)
}
