package rtmp

import (
	"context"
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// graceForever is a reconnect grace no test outlives: a player that gets
// io.EOF under it got it because the stream ended at once.
const graceForever = 10 * time.Minute

// watchEvents returns a channel of the hub's events (buffered; the test
// drains what it needs).
func watchEvents(t *testing.T, h *hub.Hub) <-chan hub.Event {
	ch := make(chan hub.Event, 64)
	cancel := h.Watch(func(e hub.Event) {
		select {
		case ch <- e:
		default:
		}
	})
	t.Cleanup(cancel)
	return ch
}

func waitEventType(t *testing.T, ch <-chan hub.Event, typ hub.EventType, key string) {
	t.Helper()
	timeout := time.After(testTimeout)
	for {
		select {
		case e := <-ch:
			if e.Type == typ && e.Key == key {
				return
			}
		case <-timeout:
			t.Fatalf("no %s event for %s", typ, key)
		}
	}
}

// rawPublisher connects a raw client to addr that publishes live/name and
// returns it with its message stream id.
func rawPublisher(t *testing.T, addr, name string) (*rawConn, uint32) {
	t.Helper()
	r := dialRaw(t, addr)
	r.handshake(t)
	r.connect(t)
	id := r.createStream(t, 2)
	r.command(t, id, "publish", 3, nil, name, "live")
	require.Equal(t, codePublishStart, r.expectStatus(t).String("code"))
	return r, id
}

// TestStopOnPurposeEndsStream: a publisher that says it stops (FCUnpublish,
// deleteStream or closeStream of its stream) ends the stream at once: its
// players drain and see the end although the reconnect grace is long, and
// the publisher's connection stays open.
func TestStopOnPurposeEndsStream(t *testing.T) {
	cases := []struct {
		name string
		stop func(t *testing.T, r *rawConn, id uint32)
	}{
		{"FCUnpublish", func(t *testing.T, r *rawConn, _ uint32) {
			r.command(t, 0, "FCUnpublish", 9, nil, "cam")
			r.expectCommand(t, "_result", 9)
		}},
		{"deleteStream", func(t *testing.T, r *rawConn, id uint32) {
			r.command(t, 0, "deleteStream", 0, nil, float64(id))
		}},
		{"closeStream", func(t *testing.T, r *rawConn, id uint32) {
			r.command(t, id, "closeStream", 0, nil)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := startServer(t, ServerConfig{}, hub.Config{ReconnectGrace: graceForever})
			events := watchEvents(t, env.hub)
			r, id := rawPublisher(t, env.addr, "cam")
			play := env.player(t, "cam")

			tc.stop(t, r, id)
			waitEventType(t, events, hub.EventStreamEnd, "live/cam")
			_, err := play.ReadPacket()
			require.ErrorIs(t, err, io.EOF, "the player sees the end, not the grace")
			_, ok := env.hub.Stream("live/cam")
			require.False(t, ok)
			require.Equal(t, uint32(2), r.createStream(t, 10), "the publisher's connection stays open")
		})
	}
}

// TestClientCloseEndsStream: our client's Close sends deleteStream, so a
// publisher that closes (as a relay push does) ends the stream at once;
// the queued media reaches the player before the end.
func TestClientCloseEndsStream(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{ReconnectGrace: graceForever})
	pub := env.publisher(t, "cam")
	play := env.player(t, "cam")
	gen := newGen()
	sent := append(gen.Headers(), gen.Packets(30)...)
	for _, p := range sent {
		require.NoError(t, pub.WritePacket(p))
	}
	require.NoError(t, pub.Close())
	n := 0
	for {
		_, err := play.ReadPacket()
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
			break
		}
		n++
	}
	require.Equal(t, len(sent), n, "everything published is delivered, then the end")
}

// TestClientAbortKeepsGrace: Abort is a dropped connection, not a stop:
// the stream waits inside its grace for the publisher to come back.
func TestClientAbortKeepsGrace(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{ReconnectGrace: graceForever})
	events := watchEvents(t, env.hub)
	pub := env.publisher(t, "cam")
	env.player(t, "cam")
	gen := newGen()
	for _, p := range append(gen.Headers(), gen.Packets(5)...) {
		require.NoError(t, pub.WritePacket(p))
	}
	pub.Abort()
	require.NoError(t, pub.Close(), "Close after Abort does nothing")
	waitEventType(t, events, hub.EventUnpublish, "live/cam")
	info, ok := env.hub.Stream("live/cam")
	require.True(t, ok, "the stream waits inside its grace")
	require.False(t, info.Publishing)
	require.Equal(t, 1, info.Readers, "the player is still attached")
}

// TestDroppedPublisherKeepsGrace: a publisher whose connection drops
// without saying it stops keeps the reconnect grace: the stream and its
// player wait for it.
func TestDroppedPublisherKeepsGrace(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{ReconnectGrace: graceForever})
	events := watchEvents(t, env.hub)
	r, id := rawPublisher(t, env.addr, "cam")
	env.player(t, "cam")
	// deleteStream of a stream that is not the published one ends nothing.
	r.command(t, 0, "deleteStream", 0, nil, float64(id+1))
	require.Equal(t, uint32(2), r.createStream(t, 4))
	info, ok := env.hub.Stream("live/cam")
	require.True(t, ok)
	require.True(t, info.Publishing)

	require.NoError(t, r.nc.Close()) // no FCUnpublish, no deleteStream
	waitEventType(t, events, hub.EventUnpublish, "live/cam")
	info, ok = env.hub.Stream("live/cam")
	require.True(t, ok, "the stream waits inside its grace")
	require.False(t, info.Publishing)
	require.Equal(t, 1, info.Readers, "the player is still attached")
}

// TestFFmpegEndEndsStream: ffmpeg that reaches the end of its input sends
// FCUnpublish and deleteStream before closing, so the stream ends at once
// under a reconnect grace no test outlives (a dropped connection would
// leave it waiting, with no EventStreamEnd).
func TestFFmpegEndEndsStream(t *testing.T) {
	if testing.Short() {
		t.Skip("ffmpeg publish skipped in -short mode")
	}
	ffmpeg, err := exec.LookPath("ffmpeg")
	require.NoError(t, err, "ffmpeg is needed (apt-get install ffmpeg)")
	env := startServer(t, ServerConfig{}, hub.Config{ReconnectGrace: graceForever})
	events := watchEvents(t, env.hub)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error",
		"-i", mediatest.RepoPath(t, "media/h264_aac_gop1s.mp4"), "-t", "1", "-c", "copy",
		"-f", "flv", env.url+"/ff").CombinedOutput()
	require.NoError(t, err, string(out))
	waitEventType(t, events, hub.EventStreamEnd, "live/ff")
	require.Contains(t, env.logs.String(), "the publisher stopped it")
}
