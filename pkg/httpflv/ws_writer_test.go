package httpflv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/batch"
)

func (e *env) wsURL(path string) string { return "ws" + strings.TrimPrefix(e.srv.URL, "http") + path }

// readWS reads binary messages until the connection closes and returns them
// with the close status.
func readWS(ctx context.Context, t *testing.T, c *websocket.Conn) ([][]byte, websocket.StatusCode) {
	t.Helper()
	var msgs [][]byte
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			return msgs, websocket.CloseStatus(err)
		}
		require.Equal(t, websocket.MessageBinary, typ, "binary messages only")
		msgs = append(msgs, b)
	}
}

func TestWSFLV(t *testing.T) {
	cases := []struct {
		name         string
		audio, video bool
	}{
		{"audio+video", true, true},
		{"video only", false, true},
		{"audio only", true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			p := e.publish(t, "live/cam")
			primed, live := streamPackets(tc.audio, tc.video)
			write(t, p, primed...)

			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, e.wsURL("/live/cam.flv"), nil)
			require.NoError(t, err)
			defer c.CloseNow()
			require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
			c.SetReadLimit(-1)

			e.waitReaders(t, "live/cam", 1)
			write(t, p, live...)
			p.Close()

			msgs, status := readWS(ctx, t, c)
			require.Equal(t, websocket.StatusNormalClosure, status)
			require.Len(t, msgs[0], 13, "the FLV header is the first message")
			fh, tags := readFLV(t, bytes.NewReader(bytes.Join(msgs, nil)))
			require.Equal(t, tc.audio, fh.HasAudio, "audio flag")
			require.Equal(t, tc.video, fh.HasVideo, "video flag")
			checkTags(t, tags, tc.audio, tc.video)
			require.Len(t, tags, len(primed)+len(live))
		})
	}
}

func TestWSOrigin(t *testing.T) {
	e := newEnv(t, Config{AllowOrigin: "https://a.example"})
	p := e.publish(t, "live/cam")
	primed, _ := streamPackets(true, true)
	write(t, p, primed...)
	cases := []struct {
		origin string
		ok     bool
	}{
		{"https://a.example", true},
		{"https://evil.example", false},
		{"", true}, // not a browser: nothing to protect
	}
	for _, tc := range cases {
		t.Run(tc.origin, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			hdr := http.Header{}
			if tc.origin != "" {
				hdr.Set("Origin", tc.origin)
			}
			c, resp, err := websocket.Dial(ctx, e.wsURL("/live/cam.flv"), &websocket.DialOptions{HTTPHeader: hdr})
			if !tc.ok {
				require.Error(t, err)
				require.Equal(t, http.StatusForbidden, resp.StatusCode)
				return
			}
			require.NoError(t, err)
			require.NoError(t, c.CloseNow())
		})
	}
	e.waitReaders(t, "live/cam", 0)
}

func TestWSNotLive(t *testing.T) {
	e := newEnv(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, e.wsURL("/live/none.flv"), nil)
	require.Error(t, err)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "answered before the upgrade")
}

// TestWSEndCloseCode: how a WebSocket player ends depends on why. A kick
// (Handler.Close) closes at once without a close handshake: a handshake
// waits up to 5 s for a client that may not read, which held Handler.Close
// whenever the player goroutine ended before the kick closed the
// connection.
func TestWSEndCloseCode(t *testing.T) {
	cases := []struct {
		name  string
		cause error
		want  websocket.StatusCode
	}{
		{"stream ended", io.EOF, websocket.StatusNormalClosure},
		{"draining", errDraining, websocket.StatusGoingAway},
		{"handler closed", errHandlerClosed, -1},
		{"client gone", errClientGone, -1},
		{"write timeout", errWriteTimeout, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ended := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(ended)
				ww, err := acceptWS(w, r, nil, time.Minute, func(error) {}, nil)
				if err != nil {
					return
				}
				ww.end(tc.cause)
			}))
			defer srv.Close()

			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
			require.NoError(t, err)
			defer c.CloseNow()
			_, status := readWS(ctx, t, c)
			require.Equal(t, tc.want, status)
			select {
			case <-ended:
			case <-ctx.Done():
				t.Fatal("end did not return")
			}
		})
	}
}

// wsPair serves one WebSocket with acceptWS and dials it with
// coder/websocket: the server's writer, the reason its reader ended
// (buffered) and the client.
func wsPair(t *testing.T) (*wsWriter, <-chan error, *websocket.Conn) {
	t.Helper()
	type accepted struct {
		ww  *wsWriter
		err error
	}
	acc := make(chan accepted, 1)
	readEnded := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww, err := acceptWS(w, r, nil, waitFor, func(err error) { readEnded <- err }, nil)
		acc <- accepted{ww, err}
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.CloseNow() })
	c.SetReadLimit(-1)
	a := <-acc
	require.NoError(t, a.err)
	t.Cleanup(func() { a.ww.end(errHandlerClosed) })
	return a.ww, readEnded, c
}

// wsPlayer returns a player writing to ww as startWS sets it up.
func wsPlayer(ww *wsWriter) *player {
	return &player{w: batch.NewWriter(ww.out, ww, wsReserved)}
}

// TestWSFraming sends batches whose frames need each header size (2, 4
// and 10 bytes, RFC 6455 §5.2) as several slices, and checks what a real
// client reads.
func TestWSFraming(t *testing.T) {
	ww, _, c := wsPair(t)
	p := wsPlayer(ww)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var sent uint64
	for _, n := range []int{1, 125, 126, 4096, 65535, 65536, 300 << 10} {
		want := make([]byte, n)
		for i := range want {
			want[i] = byte(i * 7)
		}
		// Split as a player does: tag header, body, trailer.
		a, b := n/3, 2*n/3
		require.NoError(t, p.add(want[:a]))
		require.NoError(t, p.add(want[a:b]))
		require.NoError(t, p.add(want[b:]))
		require.NoError(t, p.flush())
		typ, got, err := c.Read(ctx)
		require.NoError(t, err)
		require.Equal(t, websocket.MessageBinary, typ)
		require.Equal(t, want, got, "n=%d", n)
		sent += uint64(len(appendFrameHeader(nil, wsOpBinary, n)) + n)
	}
	require.NoError(t, p.flush(), "nothing added: nothing sent")
	require.Equal(t, sent, p.w.Sent(), "frame headers and payloads")
}

// TestWSPingPong: pings are answered while media flows, and a pong never
// lands inside a media frame (the client would fail to parse the stream).
func TestWSPingPong(t *testing.T) {
	ww, _, c := wsPair(t)
	p := wsPlayer(ww)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	payload := bytes.Repeat([]byte{0xAB}, 64<<10)
	stop := make(chan struct{})
	writeErr := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				writeErr <- nil
				return
			default:
			}
			err := p.add(payload[:10])
			if err == nil {
				err = p.add(payload)
			}
			if err == nil {
				err = p.flush()
			}
			if err != nil {
				writeErr <- err
				return
			}
		}
	}()
	readErr := make(chan error, 1)
	go func() {
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				readErr <- err
				return
			}
			if len(b) != 10+len(payload) {
				readErr <- errors.New("message of unexpected size")
				return
			}
		}
	}()
	for range 20 {
		require.NoError(t, c.Ping(ctx))
	}
	close(stop)
	require.NoError(t, <-writeErr)
	select {
	case err := <-readErr:
		t.Fatalf("client read failed: %v", err)
	default:
	}
}

func TestWSClientClose(t *testing.T) {
	ww, readEnded, c := wsPair(t)
	// Close waits for the server's answering close frame.
	require.NoError(t, c.Close(websocket.StatusNormalClosure, "bye"))
	require.ErrorIs(t, <-readEnded, errClientGone)
	p := wsPlayer(ww)
	require.NoError(t, p.add([]byte("x")))
	require.ErrorIs(t, p.flush(), errClientGone, "nothing may follow a close")
}

func TestWSClientData(t *testing.T) {
	ww, readEnded, c := wsPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("hello")))
	_, _, err := c.Read(ctx)
	require.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(err))
	err = <-readEnded
	require.ErrorIs(t, err, errClientData)
	require.ErrorIs(t, err, errClientGone)
	p := wsPlayer(ww)
	require.NoError(t, p.add([]byte("x")))
	require.ErrorIs(t, p.flush(), errClientGone)
}

// TestWSClientProtocolError: an unmasked client frame (RFC 6455 §5.1) is
// answered with 1002 and ends the player.
func TestWSClientProtocolError(t *testing.T) {
	readEnded := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww, err := acceptWS(w, r, nil, waitFor, func(err error) { readEnded <- err }, nil)
		if err == nil {
			<-ww.readDone
			ww.end(errClientGone)
		}
	}))
	defer srv.Close()
	conn, br, resp := rawWS(t, srv.Listener.Addr().String(), "/", nil)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	_, err := conn.Write([]byte{0x89, 0x00}) // an unmasked ping
	require.NoError(t, err)
	got, err := io.ReadAll(br)
	require.NoError(t, err, "the server closes after its close frame")
	require.Equal(t, []byte{0x88, 2, 0x03, 0xEA}, got, "close 1002")
	var pe *wsProtocolError
	require.ErrorAs(t, <-readEnded, &pe)
}

// BenchmarkWSWriter measures the WS-FLV write path alone on loopback TCP:
// a batch of tags as one frame through writev. Expect 0 allocs/op.
func BenchmarkWSWriter(b *testing.B) {
	second := benchBatch()
	for _, bc := range []struct {
		name string
		pkts []*av.Packet
	}{
		{"batch=frame", second[:3]}, // one video frame and its audio: a flush point
		{"batch=1s", second},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(b, err)
			defer ln.Close()
			client, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(b, err)
			server, err := ln.Accept()
			require.NoError(b, err)
			done := make(chan struct{})
			go drain(client, done)

			p := wsPlayer(newWSWriter(server, server, time.Minute))
			p.hasAudio, p.hasVideo, p.started = true, true, true
			b.SetBytes(int64(tagBytes(bc.pkts)))
			b.ReportAllocs()
			for b.Loop() {
				if err := p.writeBatch(bc.pkts); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			require.NoError(b, server.Close())
			<-done
			require.NoError(b, client.Close())
		})
	}
}

// TestWSWriteTimeout: a WebSocket client that stops reading is dropped
// after the write timeout, although the deadline is not moved per frame.
func TestWSWriteTimeout(t *testing.T) {
	logs := &logBuffer{}
	e := newEnv(t, Config{Logger: logs.logger(), WriteTimeout: 200 * time.Millisecond})
	p := e.publish(t, "live/cam")
	primed, _ := streamPackets(false, true)
	write(t, p, primed...)
	conn, _, resp := rawWS(t, e.srv.Listener.Addr().String(), "/live/cam.flv", nil) // never read on
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	// A fixed small receive buffer: autotuning may grow it to
	// net.ipv4.tcp_rmem's maximum (32 MiB on some machines), and then
	// everything below would fit and no write would ever block.
	require.NoError(t, conn.(*net.TCPConn).SetReadBuffer(64<<10))
	e.waitReaders(t, "live/cam", 1)
	// The stream goes on until the player is cut: a burst alone may be
	// dropped by the hub (the player's queue overflows) and leave the
	// writer with no more than the socket buffers hold, never blocking.
	deadline := time.Now().Add(waitFor)
	for {
		write(t, p, bigFrames(8, 256<<10)...)
		if info, ok := e.hub.Stream("live/cam"); ok && info.Readers == 0 {
			break
		}
		require.False(t, time.Now().After(deadline), "the player was not cut after its write timeout")
		<-time.After(5 * time.Millisecond) // the stream's pace, not a synchronisation
	}
	waitLog(t, logs, "player closed", "proto=ws-flv", "level=WARN", "write timeout")
}
