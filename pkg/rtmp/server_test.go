package rtmp

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newGen() *mediatest.Generator {
	return mediatest.New(mediatest.Config{GOP: 15, KeySize: 6000, FrameSz: 900})
}

// samePacket asserts that got is want after a trip through the server:
// the same bytes and timestamps, and the flags ingest derives from them.
func samePacket(t *testing.T, sent, got *av.Packet, i int) {
	t.Helper()
	want, err := flv.PacketFromTag(flv.TagTypeOf(sent.Kind), uint32(sent.DTS), sent.Data)
	require.NoError(t, err)
	require.Equal(t, want.Kind, got.Kind, "packet %d kind", i)
	require.Equal(t, want.Codec, got.Codec, "packet %d codec", i)
	require.Equal(t, want.Header, got.Header, "packet %d header", i)
	require.Equal(t, want.Keyframe, got.Keyframe, "packet %d keyframe", i)
	require.Equal(t, want.DTS, got.DTS, "packet %d dts", i)
	require.Equal(t, want.CTS, got.CTS, "packet %d cts", i)
	require.Equal(t, want.Data, got.Data, "packet %d data", i)
}

func TestPublishPlayRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name      string
		chunkSize int
	}{
		{"server chunk 4096", 0},
		{"server chunk 128", 128},
		{"server chunk 65536", 65536},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := startServer(t, ServerConfig{ChunkSize: tc.chunkSize}, hub.Config{})
			pub := env.publisher(t, "cam1")
			env.waitLive(t, "live/cam1")
			play := env.player(t, "cam1")
			require.Equal(t, uint32(1), play.StreamID())

			gen := newGen()
			want := append(gen.Headers(), gen.Packets(200)...)
			// Compare against copies: the client may cache chunk headers
			// in the packets it sends.
			for _, p := range want {
				require.NoError(t, pub.WritePacket(p))
			}
			for i, w := range want {
				got, err := play.ReadPacket()
				require.NoError(t, err, "packet %d", i)
				samePacket(t, w, got, i)
			}

			// Publisher leaves → the player sees the end of the stream.
			require.NoError(t, pub.Close())
			_, err := play.ReadPacket()
			require.ErrorIs(t, err, io.EOF)
			line := env.logs.waitClosed(t, "stream ended")
			require.Contains(t, line, "level=INFO")
			require.Contains(t, line, "stream=live/cam1")
		})
	}
}

func TestLateJoinerGetsHeadersAndGOP(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{})
	pub := env.publisher(t, "cam1")
	gen := newGen()
	hdrs := gen.Headers()
	var sent []*av.Packet
	for _, p := range hdrs {
		require.NoError(t, pub.WritePacket(p))
	}
	// Two and a half GOPs (a keyframe every 15 video frames), so the
	// cache holds the first half of the third GOP.
	var lastKey *av.Packet
	for countVideo(sent) < 38 {
		p := gen.Next()
		if p.Keyframe {
			lastKey = p
		}
		sent = append(sent, p)
		require.NoError(t, pub.WritePacket(p))
	}
	// The client writes asynchronously: wait until the hub ingested
	// everything, so the player joins mid third GOP.
	require.Eventually(t, func() bool {
		info, ok := env.hub.Stream("live/cam1")
		return ok && info.Packets >= uint64(len(sent)+len(hdrs))
	}, testTimeout, 5*time.Millisecond)

	play := env.player(t, "cam1")
	var got []*av.Packet
	for range 3 {
		p, err := play.ReadPacket()
		require.NoError(t, err)
		got = append(got, p)
	}
	for i, p := range got {
		require.True(t, p.Header || p.Kind == av.KindData, "packet %d must be metadata or a sequence header", i)
	}
	// Then media from the cached keyframe: the first video packet must be
	// the last keyframe sent.
	var firstVideo *av.Packet
	for firstVideo == nil {
		p, err := play.ReadPacket()
		require.NoError(t, err)
		if p.Kind == av.KindVideo {
			firstVideo = p
		}
	}
	require.True(t, firstVideo.Keyframe)
	require.Equal(t, lastKey.DTS, firstVideo.DTS)
	require.Equal(t, lastKey.Data, firstVideo.Data)
}

func countVideo(ps []*av.Packet) int {
	n := 0
	for _, p := range ps {
		if p.Kind == av.KindVideo {
			n++
		}
	}
	return n
}

func TestPublishBusyStream(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{})
	env.publisher(t, "cam1")
	second := env.dial(t)
	err := second.Publish(testCtx(t), "cam1")
	var se *StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, codePublishBadName, se.Code)
	require.Contains(t, se.Description, "already published")
	line := env.logs.waitClosed(t, "stream already published")
	require.Contains(t, line, "level=INFO")
	env.requireServes(t)
}

func TestPlayMissingStream(t *testing.T) {
	const wait = 300 * time.Millisecond
	env := startServer(t, ServerConfig{PlayWait: wait}, hub.Config{})
	c := env.dial(t)
	start := time.Now()
	err := c.Play(testCtx(t), "nobody")
	var se *StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, codePlayNotFound, se.Code)
	require.GreaterOrEqual(t, time.Since(start), wait)
	env.logs.waitClosed(t, "stream not found", "level=INFO", "stream=live/nobody")
}

func TestPlayWaitsForPublisher(t *testing.T) {
	env := startServer(t, ServerConfig{PlayWait: testTimeout}, hub.Config{})
	c := env.dial(t)
	played := make(chan error, 1)
	go func() { played <- c.Play(testCtx(t), "late") }()
	// The play is waiting inside the server; publishing makes it start.
	pub := env.publisher(t, "late")
	select {
	case err := <-played:
		require.NoError(t, err)
	case <-time.After(testTimeout):
		t.Fatal("play did not start after the publisher arrived")
	}
	gen := newGen()
	for _, p := range gen.Headers() {
		require.NoError(t, pub.WritePacket(p))
	}
	p, err := c.ReadPacket()
	require.NoError(t, err)
	require.Equal(t, av.KindData, p.Kind)
}

func TestPublishQueryAndNestedApp(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{})
	c, err := Dial(testCtx(t), "rtmp://"+env.addr+"/live/sub?app=1", ClientConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Publish(testCtx(t), "cam9?token=secret"))
	info, ok := env.hub.Stream("live/sub/cam9")
	require.True(t, ok)
	require.Equal(t, "app=1&token=secret", info.Publisher.Query)
	require.Equal(t, "rtmp", info.Publisher.Protocol)
}

func TestTakeoverClosesOldPublisher(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{Policy: func(string) hub.PublishPolicy { return hub.PolicyTakeover }})
	old := env.publisher(t, "cam1")
	env.publisher(t, "cam1")
	env.logs.waitClosed(t, "publisher replaced", "level=INFO")
	// The old client notices: its writes fail once the server closed it.
	gen := newGen()
	require.Eventually(t, func() bool {
		return old.WritePacket(gen.Next()) != nil
	}, testTimeout, time.Millisecond)
}

func TestMaxConnections(t *testing.T) {
	env := startServer(t, ServerConfig{MaxConnections: 1}, hub.Config{})
	env.dial(t)
	_, err := Dial(testCtx(t), env.url, ClientConfig{Timeout: time.Second})
	require.Error(t, err)
	require.Eventually(t, func() bool {
		l := env.logs.String()
		return strings.Contains(l, "too many connections") && strings.Contains(l, "limit=1")
	}, testTimeout, 5*time.Millisecond)
	total, perIP := env.srv.Refused()
	require.Equal(t, uint64(1), total)
	require.Zero(t, perIP)
}

func TestServerCloseEndsConnections(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{})
	pub := env.publisher(t, "cam1")
	play := env.player(t, "cam1")
	require.NoError(t, env.srv.Close())
	_, err := play.ReadPacket()
	require.Error(t, err)
	gen := newGen()
	require.Eventually(t, func() bool { return pub.WritePacket(gen.Next()) != nil }, testTimeout, time.Millisecond)
	require.Equal(t, 0, env.srv.Conns())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.ErrorIs(t, env.srv.Serve(ln), ErrServerClosed)
}

func TestDialErrors(t *testing.T) {
	_, err := Dial(context.Background(), "http://x/live", ClientConfig{})
	require.Error(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = Dial(testCtx(t), "rtmp://"+addr+"/live", ClientConfig{})
	require.Error(t, err)

	// A server that accepts and never answers: the context bounds Dial.
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = Dial(ctx, "rtmp://"+ln.Addr().String()+"/live", ClientConfig{})
	require.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	(<-accepted).Close()
}

// TestSilentPlayerOutlivesReadTimeout: players may send nothing at all;
// the idle read timeout applies to publishers only. The publisher streams
// from its own goroutine until the connection count is checked, so it is
// never idle itself, however long the player's reads take on a loaded
// machine.
func TestSilentPlayerOutlivesReadTimeout(t *testing.T) {
	const (
		readTimeout = 150 * time.Millisecond
		pace        = 30 * time.Millisecond
	)
	env := startServer(t, ServerConfig{ReadTimeout: readTimeout}, hub.Config{})
	pub := env.publisher(t, "cam1")
	play := env.player(t, "cam1")
	gen := newGen()
	headers := gen.Headers()
	for _, p := range headers {
		require.NoError(t, pub.WritePacket(p))
	}
	// A live stream paced at 30 ms; the player never sends a byte.
	sent := make(chan *av.Packet, 1024)
	stop := make(chan struct{})
	fed := make(chan error, 1)
	go func() {
		tick := time.NewTicker(pace)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				fed <- nil
				return
			case <-tick.C:
			}
			p := gen.Next()
			if err := pub.WritePacket(p); err != nil {
				fed <- err
				close(sent)
				return
			}
			sent <- p
		}
	}()
	defer func() {
		close(stop)
		require.NoError(t, <-fed, "publisher")
	}()
	for i, w := range headers {
		got, err := play.ReadPacket()
		require.NoError(t, err, "packet %d", i)
		samePacket(t, w, got, i)
	}
	// The live packets are at least pace apart: reading this many spans
	// four read timeouts of player silence.
	for i := range int(4*readTimeout/pace) + 1 {
		w, ok := <-sent
		require.True(t, ok, "the publisher stopped streaming")
		got, err := play.ReadPacket()
		require.NoError(t, err, "live packet %d", i)
		samePacket(t, w, got, len(headers)+i)
	}
	require.Equal(t, 2, env.srv.Conns())
}

// TestSlowPlayer: a player that stops reading fills its socket, then its
// hub queue, and is evicted by the hub. The writer is blocked on that
// player's socket meanwhile; the reader's AfterEnd callback closes the
// connection (close line: evicted), unless the write deadline fires first
// (close line: i/o timeout); both at Warn, and the server carries on.
func TestSlowPlayer(t *testing.T) {
	fill := func(t *testing.T, env *testEnv, pub *ClientConn) {
		t.Helper()
		gen := mediatest.New(mediatest.Config{NoAudio: true, GOP: 1, KeySize: 64 << 10})
		for i := 0; ; i++ {
			require.NoError(t, pub.WritePacket(gen.Next()))
			if info, ok := env.hub.Stream("live/cam1"); ok && info.Evicted > 0 {
				return
			}
			require.Less(t, i, 3000, "slow player never evicted")
		}
	}
	t.Run("resumes reading after eviction", func(t *testing.T) {
		env := startServer(t, ServerConfig{}, hub.Config{QueueSize: 16, MaxOverflows: 1})
		pub := env.publisher(t, "cam1")
		slow := env.player(t, "cam1")
		fill(t, env, pub)
		var err error
		for err == nil {
			_, err = slow.ReadPacket()
		}
		line := env.logs.waitClosed(t, "reader evicted")
		require.Contains(t, line, "level=WARN")
		require.Contains(t, line, "stream=live/cam1")
		env.requireServes(t)
	})
	t.Run("never reads again", func(t *testing.T) {
		env := startServer(t, ServerConfig{WriteTimeout: 300 * time.Millisecond}, hub.Config{QueueSize: 16, MaxOverflows: 1})
		pub := env.publisher(t, "cam1")
		env.player(t, "cam1") // never reads
		fill(t, env, pub)
		// Whichever comes first: the eviction or the write deadline.
		line := env.logs.waitClosed(t, "stream=live/cam1", "level=WARN")
		require.True(t, strings.Contains(line, "reader evicted") || strings.Contains(line, "i/o timeout"), line)
		env.requireServes(t)
	})
}

// RTMP play of a stream that is not live asks the hub for it (an edge app
// starts its upstream pull there) before waiting PlayWait.
func TestPlayDemandsStream(t *testing.T) {
	env := startServer(t, ServerConfig{PlayWait: testTimeout}, hub.Config{})
	asked := make(chan hub.ReaderInfo, 1)
	env.hub.SetDemand(func(key string, info hub.ReaderInfo) error {
		if key == "live/edge" {
			asked <- info
		}
		return nil
	})
	c := env.dial(t)
	played := make(chan error, 1)
	go func() { played <- c.Play(testCtx(t), "edge") }()
	select {
	case info := <-asked:
		require.Equal(t, "rtmp", info.Protocol)
	case <-time.After(testTimeout):
		t.Fatal("play did not demand the stream")
	}
	env.publisher(t, "edge") // the "pull" arrives
	select {
	case err := <-played:
		require.NoError(t, err)
	case <-time.After(testTimeout):
		t.Fatal("play did not start once the demanded stream was live")
	}
}
