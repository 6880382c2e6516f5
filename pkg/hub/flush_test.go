package hub

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// woken reports (and consumes) a pending Ready signal.
func woken(r *Reader) bool {
	select {
	case <-r.Ready():
		return true
	default:
		return false
	}
}

// liveReader publishes headers and a keyframe on live/a and returns a
// reader that has taken its primed queue and its wake-up.
func liveReader(t *testing.T, h *Hub, g *mediatest.Generator) (*Publisher, *Reader) {
	t.Helper()
	p := publish(t, h, "live/a")
	write(t, p, g.Headers()...)
	write(t, p, g.NextVideo())
	r := subscribe(t, h, "live/a")
	require.True(t, woken(r), "a new reader is woken for its primed queue at once")
	got, err := r.TryRead(nil)
	require.NoError(t, err)
	require.NotEmpty(t, got)
	return p, r
}

func TestFlushAudioRidesWithVideo(t *testing.T) {
	h, clk, ft := testHub(t, Config{})
	g := mediatest.New(mediatest.Config{FPS: 30, GOP: 30})
	p, r := liveReader(t, h, g)

	a := g.NextAudio()
	write(t, p, a)
	require.False(t, woken(r), "audio alone is not a flush point")
	require.Equal(t, []time.Duration{AudioHold}, ft.flush.pending(), "the stream's timer bounds the hold")

	clk.advance(20 * time.Millisecond)
	v := g.NextVideo()
	write(t, p, v)
	require.True(t, woken(r), "a video frame is")
	got, err := r.TryRead(nil)
	require.NoError(t, err)
	require.Equal(t, []*av.Packet{a, v}, got, "one batch: the held audio and the frame")

	// The timer armed for the first audio finds nothing held and stays quiet.
	require.Equal(t, 1, ft.flush.fireAll())
	require.False(t, woken(r))
	require.Empty(t, ft.flush.pending())
}

func TestFlushHeldAudioBounded(t *testing.T) {
	h, clk, ft := testHub(t, Config{})
	g := mediatest.New(mediatest.Config{FPS: 30, GOP: 30})
	p, r := liveReader(t, h, g)

	// Video paused: audio keeps coming and goes out once the oldest held
	// packet is AudioHold old, without the timer.
	write(t, p, g.NextAudio())
	clk.advance(AudioHold - time.Millisecond)
	write(t, p, g.NextAudio())
	require.False(t, woken(r))
	clk.advance(time.Millisecond)
	write(t, p, g.NextAudio())
	require.True(t, woken(r), "held audio waits at most AudioHold")
	got, err := r.TryRead(nil)
	require.NoError(t, err)
	require.Len(t, got, 3)

	// Publisher silent after one audio frame: the timer flushes it, after
	// re-arming for the rest of the hold when it fires early.
	ft.flush.fireAll() // the timer of the first hold: nothing held then
	write(t, p, g.NextAudio())
	require.False(t, woken(r))
	require.Equal(t, []time.Duration{AudioHold}, ft.flush.pending())
	clk.advance(AudioHold / 2)
	ft.flush.fireAll()
	require.False(t, woken(r), "fired early: not due yet")
	require.Equal(t, []time.Duration{AudioHold / 2}, ft.flush.pending(), "re-armed for the rest")
	clk.advance(AudioHold / 2)
	ft.flush.fireAll()
	require.True(t, woken(r), "due: the timer wakes the readers")
	got, err = r.TryRead(nil)
	require.NoError(t, err)
	require.Len(t, got, 1)
}

func TestFlushAudioOnlyWakesPerPacket(t *testing.T) {
	h, _, ft := testHub(t, Config{})
	g := mediatest.New(mediatest.Config{NoVideo: true})
	p := publish(t, h, "live/a")
	write(t, p, g.Headers()...)
	r := subscribe(t, h, "live/a")
	require.True(t, woken(r))
	_, err := r.TryRead(nil)
	require.NoError(t, err)
	for range 5 {
		write(t, p, g.NextAudio())
		require.True(t, woken(r))
	}
	require.Empty(t, ft.flush.pending())
}

func TestFlushHeadersAndMetadataWake(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	g := mediatest.New(mediatest.Config{FPS: 30, GOP: 30})
	p, r := liveReader(t, h, g)
	write(t, p, g.AudioHeader())
	require.True(t, woken(r), "an audio sequence header is a flush point")
	write(t, p, g.Metadata())
	require.True(t, woken(r), "so is metadata")
}

func TestFlushMergeWindow(t *testing.T) {
	const window = 200 * time.Millisecond
	h, clk, ft := testHub(t, Config{MergeWindow: window})
	g := mediatest.New(mediatest.Config{FPS: 30, GOP: 30})
	p, r := liveReader(t, h, g)

	// The priming keyframe woke at t0. Everything within the window waits,
	// video included.
	var sent []*av.Packet
	for range 6 {
		clk.advance(30 * time.Millisecond)
		pk := g.Next()
		write(t, p, pk)
		sent = append(sent, pk)
		require.False(t, woken(r))
	}
	require.Equal(t, []time.Duration{window - 30*time.Millisecond}, ft.flush.pending(),
		"the timer ends the window the first held packet fell in")
	clk.advance(20 * time.Millisecond) // t0 + 200 ms
	pk := g.Next()
	write(t, p, pk)
	sent = append(sent, pk)
	require.True(t, woken(r), "the first packet after the window wakes")
	got, err := r.TryRead(nil)
	require.NoError(t, err)
	require.Equal(t, sent, got, "a window's packets in one batch")

	// A window with packets and nothing after it: the timer flushes it.
	ft.flush.fireAll() // stale: nothing held
	clk.advance(10 * time.Millisecond)
	write(t, p, g.Next())
	require.False(t, woken(r))
	clk.advance(window - 10*time.Millisecond)
	ft.flush.fireAll()
	require.True(t, woken(r))
}

func TestFlushTimerStopsWithStream(t *testing.T) {
	h, _, ft := testHub(t, Config{})
	g := mediatest.New(mediatest.Config{FPS: 30, GOP: 30})
	p, r := liveReader(t, h, g)
	write(t, p, g.NextAudio())
	require.Len(t, ft.flush.pending(), 1)
	p.Close()
	require.Empty(t, ft.flush.pending(), "no timer outlives its stream")
	require.True(t, woken(r), "the end wakes the reader")
	got, err := r.TryRead(nil)
	require.NoError(t, err)
	require.Len(t, got, 1, "held audio is still delivered")
}
