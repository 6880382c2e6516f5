package rtmp

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
)

// TestConnectTimeout: a connection that neither publishes nor plays is
// closed ConnectTimeout after its handshake, however busy it keeps the
// server: pings (answered), acks, createStream calls and a command
// trickled in one byte per chunk do not move the deadline. The idle read
// timeout is far away, so only the connect timeout can end it.
func TestConnectTimeout(t *testing.T) {
	env := startServer(t, ServerConfig{ConnectTimeout: 300 * time.Millisecond, ReadTimeout: time.Minute}, hub.Config{})
	r := dialRaw(t, env.addr)
	r.handshake(t)
	r.connect(t)
	// From here every chunk carries one byte, so a command can be
	// trickled between the other messages.
	r.send(t, csidControl, SetChunkSizeMessage(1))
	r.cw.SetChunkSize(1)
	const trickleCSID = 9
	trickle := make([]byte, 60000) // never finished: the timeout comes first
	rounds := 0
	for ; ; rounds++ {
		var b []byte
		if rounds == 0 {
			b = wH0(trickleCSID, 0, len(trickle), TypeCommandAMF0, 0)
		} else {
			b = wH3(trickleCSID)
		}
		b = append(b, trickle[rounds])
		if rounds < 10 {
			m, err := commandMessage(0, "createStream", float64(10+rounds), nil)
			require.NoError(t, err)
			b = r.cw.AppendMessage(b, csidCommand, m)
		}
		b = r.cw.AppendMessage(b, csidControl, AckMessage(uint32(rounds)))
		b = r.cw.AppendMessage(b, csidControl, UserControlMessage(EventPingRequest, uint32(rounds)))
		if _, err := r.nc.Write(b); err != nil {
			break
		}
		// Wait for the answer: the connection is never idle.
		pong := false
		for !pong {
			m, err := r.cr.ReadMessage()
			if err != nil {
				break
			}
			ev, data, _ := ParseUserControl(m.Payload)
			pong = m.TypeID == TypeUserControl && ev == EventPingResponse && len(data) == 4 &&
				data[2] == byte(rounds>>8) && data[3] == byte(rounds)
		}
		if !pong {
			break
		}
	}
	line := env.logs.waitClosed(t, "connect timeout")
	t.Logf("closed after %d rounds: %s", rounds, line)
	require.Contains(t, line, "level=WARN")
	require.Contains(t, line, "neither publishing nor playing 300ms after the handshake")
	require.Greater(t, rounds, 0)
	env.requireServes(t)
}

// TestConnectTimeoutSparesActiveConns: publishers and players outlive the
// connect timeout, and a play waiting for its stream (PlayWait) is not
// cut by it.
func TestConnectTimeoutSparesActiveConns(t *testing.T) {
	const connectTimeout = 100 * time.Millisecond
	t.Run("publisher and player", func(t *testing.T) {
		env := startServer(t, ServerConfig{ConnectTimeout: connectTimeout}, hub.Config{})
		pub := env.publisher(t, "cam1")
		play := env.player(t, "cam1")
		gen := newGen()
		start := time.Now()
		for i := 0; time.Since(start) < 4*connectTimeout; i++ {
			p := gen.Next()
			require.NoError(t, pub.WritePacket(p))
			got, err := play.ReadPacket()
			require.NoError(t, err, "packet %d", i)
			require.Equal(t, p.Data, got.Data)
		}
		require.Equal(t, 2, env.srv.Conns())
		_, closed := env.logs.pollClosed("connect timeout")
		require.False(t, closed)
	})
	t.Run("play waiting for its stream", func(t *testing.T) {
		env := startServer(t, ServerConfig{ConnectTimeout: connectTimeout, PlayWait: 4 * connectTimeout}, hub.Config{})
		c := env.dial(t)
		err := c.Play(testCtx(t), "nobody")
		var se *StatusError
		require.ErrorAs(t, err, &se)
		require.Equal(t, codePlayNotFound, se.Code)
		env.logs.waitClosed(t, "stream not found", "level=INFO")
	})
}

// TestPanicEndsOnlyItsConnection: a panic on a connection's goroutine
// (here in Authorize, which runs on it) ends that connection with one
// close line at Error level carrying the stack, is counted under "rtmp",
// and the server goes on serving.
func TestPanicEndsOnlyItsConnection(t *testing.T) {
	rec := &guard.Recorder{}
	env := startServer(t, ServerConfig{
		Panics: rec,
		Authorize: func(_ context.Context, r access.Request) error {
			if r.Key == "live/boom" {
				panic("authorize exploded")
			}
			return nil
		},
	}, hub.Config{})
	c := env.dial(t)
	require.Error(t, c.Publish(testCtx(t), "boom"))
	line := env.logs.waitClosed(t, "authorize exploded")
	require.Contains(t, line, "level=ERROR")
	require.Contains(t, line, "stack=")
	require.Contains(t, line, "conn_test.go")
	require.Equal(t, []guard.Count{{Component: "rtmp", Panics: 1}}, rec.Counts())
	env.requireServes(t)
	require.Equal(t, []guard.Count{{Component: "rtmp", Panics: 1}}, rec.Counts())
}

// TestWriterPanicEndsConnection: a panic on a connection's writer
// goroutine is recovered there, counted under the writer's component and
// reported through fail, which closes the connection.
func TestWriterPanicEndsConnection(t *testing.T) {
	local, remote := net.Pipe()
	defer remote.Close()
	rec := &guard.Recorder{}
	failed := make(chan error, 1)
	w := newConnWriter(local, time.Second, DefaultOutChunkSize, func(error) {}, func(err error) {
		failed <- err
		local.Close()
	}, func(error) {})
	w.panics, w.component = rec, componentRTMP
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.run(ctx)
	require.NoError(t, w.send(ctx, outItem{op: opMessage, csid: csidCommand})) // no message: a bug
	select {
	case err := <-failed:
		pe, ok := guard.AsPanic(err)
		require.True(t, ok, "got %v", err)
		require.Equal(t, componentRTMP, pe.Component)
		require.NotEmpty(t, pe.Stack)
	case <-time.After(testTimeout):
		t.Fatal("writer panic not reported")
	}
	<-w.done
	require.Equal(t, []guard.Count{{Component: "rtmp", Panics: 1}}, rec.Counts())
}

// TestClientPanicEndsConnection: a panic on a client connection's writer
// (here: a nil packet, a caller's bug) ends that connection only; its
// calls return the *guard.PanicError, counted under "relay".
func TestClientPanicEndsConnection(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{})
	rec := &guard.Recorder{}
	c, err := Dial(testCtx(t), env.url, ClientConfig{Timeout: testTimeout, Panics: rec})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Publish(testCtx(t), "cam1"))
	require.NoError(t, c.WritePacket(nil))
	<-c.w.done
	err = c.WritePacket(&av.Packet{Kind: av.KindAudio, Data: []byte{0xAF, 1, 0}})
	pe, ok := guard.AsPanic(err)
	require.True(t, ok, "got %v", err)
	require.Equal(t, componentRelay, pe.Component)
	require.Equal(t, []guard.Count{{Component: "relay", Panics: 1}}, rec.Counts())
	require.True(t, errors.As(err, &pe))
	env.requireServes(t)
}
