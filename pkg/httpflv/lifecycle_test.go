package httpflv

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// logBuffer collects log output from the handler's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitLog waits until the log holds a line containing all of parts.
func waitLog(t *testing.T, l *logBuffer, parts ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for line := range strings.SplitSeq(l.String(), "\n") {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return true
			}
		}
		return false
	}, waitFor, 2*time.Millisecond, "no log line with %q in:\n%s", parts, l)
}

func TestHoldHeaderUntilTracksKnown(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.publish(t, "live/new")
	// A stream that just started: metadata announces A+V, only video so far.
	write(t, p, metaPacket(metaAV...), videoSeq(0), videoKey(0), videoInter(40))

	resp, err := http.Get(e.url("/live/new.flv"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the response head is not held")
	e.waitReaders(t, "live/new", 1)
	write(t, p, audioSeq(50), audioFrame(50), videoInter(80), audioFrame(73))
	p.Close()

	fh, tags := readFLV(t, resp.Body)
	require.True(t, fh.HasAudio, "audio arrived after the player joined, within the hold")
	require.True(t, fh.HasVideo)
	require.Len(t, tags, 8)
}

func TestHoldTimeoutWithoutMetadata(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.publish(t, "live/new")
	// Just started, no metadata, video only: nothing says whether audio
	// comes, so the header waits out the hold timeout.
	write(t, p, videoSeq(0), videoKey(0))
	start := time.Now()
	resp, err := http.Get(e.url("/live/new.flv"))
	require.NoError(t, err)
	defer resp.Body.Close()
	fh, err := readHeader(resp.Body)
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), holdTimeout-50*time.Millisecond)
	require.False(t, fh.HasAudio)
	require.True(t, fh.HasVideo)
}

func TestCloseEndsPlayers(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.publish(t, "live/cam")
	primed, _ := streamPackets(true, true)
	write(t, p, primed...)

	resp, err := http.Get(e.url("/live/cam.flv"))
	require.NoError(t, err)
	defer resp.Body.Close()
	_, err = readHeader(resp.Body)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, _, err := websocket.Dial(ctx, e.wsURL("/live/cam.flv"), nil)
	require.NoError(t, err)
	defer c.CloseNow()
	c.SetReadLimit(-1)
	e.waitReaders(t, "live/cam", 2)

	closed := make(chan struct{})
	go func() {
		e.h.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(waitFor):
		t.Fatal("Close did not return")
	}
	_, err = io.Copy(io.Discard, resp.Body)
	require.Error(t, err, "a kicked HTTP player sees a truncated body, not a clean end")
	_, status := readWS(ctx, t, c)
	require.NotEqual(t, websocket.StatusNormalClosure, status)
	require.Equal(t, 0, mustStream(t, e.hub, "live/cam").Readers)

	resp2, err := http.Get(e.url("/live/cam.flv"))
	require.NoError(t, err)
	require.NoError(t, resp2.Body.Close())
	require.Equal(t, http.StatusServiceUnavailable, resp2.StatusCode)
}

func TestClientDisconnectReleasesReader(t *testing.T) {
	logs := &logBuffer{}
	e := newEnv(t, Config{Logger: logs.logger()})
	p := e.publish(t, "live/cam")
	primed, _ := streamPackets(true, true)
	write(t, p, primed...)

	t.Run("http", func(t *testing.T) {
		resp, err := http.Get(e.url("/live/cam.flv"))
		require.NoError(t, err)
		_, err = readHeader(resp.Body)
		require.NoError(t, err)
		e.waitReaders(t, "live/cam", 1)
		require.NoError(t, resp.Body.Close()) // closes the connection mid-body
		e.waitReaders(t, "live/cam", 0)
		waitLog(t, logs, "player closed", "proto=http-flv", "client disconnected", "level=INFO")
	})
	t.Run("ws", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		c, _, err := websocket.Dial(ctx, e.wsURL("/live/cam.flv"), nil)
		require.NoError(t, err)
		e.waitReaders(t, "live/cam", 1)
		require.NoError(t, c.CloseNow())
		e.waitReaders(t, "live/cam", 0)
		waitLog(t, logs, "player closed", "proto=ws-flv", "client disconnected")
	})
}

// rawGet sends a GET on a raw connection that the test reads (or not) at
// its own pace.
func rawGet(t *testing.T, e *env, path string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	return conn
}

func bigFrames(n, size int) []*av.Packet {
	body := make([]byte, size)
	body[0], body[1] = 0x27, 1
	pkts := make([]*av.Packet, n)
	for i := range pkts {
		pkts[i] = &av.Packet{Kind: av.KindVideo, Codec: av.CodecH264, DTS: int64(1000 + i*40), Data: body}
	}
	return pkts
}

func TestWriteTimeout(t *testing.T) {
	logs := &logBuffer{}
	e := newEnv(t, Config{Logger: logs.logger(), WriteTimeout: 200 * time.Millisecond})
	p := e.publish(t, "live/cam")
	primed, _ := streamPackets(false, true)
	write(t, p, primed...)
	rawGet(t, e, "/live/cam.flv") // never read
	e.waitReaders(t, "live/cam", 1)
	// 32 MiB is more than loopback socket buffers hold.
	write(t, p, bigFrames(128, 256<<10)...)
	e.waitReaders(t, "live/cam", 0)
	waitLog(t, logs, "player closed", "level=WARN", "write timeout")
}

func TestSlowReaderEvicted(t *testing.T) {
	logs := &logBuffer{}
	hb := hub.New(hub.Config{QueueSize: 16, MaxOverflows: 1})
	// A write deadline far away: the eviction itself must cut the player
	// blocked on its socket (Reader.AfterEnd), not the deadline.
	h := NewHandler(Config{Logger: logs.logger(), WriteTimeout: time.Minute}, hb)
	srv := httptest.NewServer(h)
	defer func() {
		srv.Close()
		h.Close()
		hb.Close()
	}()
	e := &env{hub: hb, h: h, srv: srv}
	p := e.publish(t, "live/cam")
	primed, _ := streamPackets(false, true)
	write(t, p, primed[:3]...)
	conn := rawGet(t, e, "/live/cam.flv")
	e.waitReaders(t, "live/cam", 1)
	// The response head first: a player evicted before it wrote anything
	// closes without one.
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// The player blocks in a write the client does not read; its queue
	// overflows and the hub evicts it.
	write(t, p, bigFrames(128, 256<<10)...)
	e.waitReaders(t, "live/cam", 0)
	// Closed at once, while the client still is not reading.
	waitLog(t, logs, "player closed", "level=WARN", "too slow")
	_, err = io.Copy(io.Discard, resp.Body)
	require.Error(t, err, "no clean end after eviction")
}

func TestResponseWriterFallback(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.publish(t, "live/cam")
	primed, live := streamPackets(true, true)
	write(t, p, primed...)

	rec := httptest.NewRecorder() // cannot hijack
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/live/cam.flv", nil))
	}()
	e.waitReaders(t, "live/cam", 1)
	write(t, p, live...)
	p.Close()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("handler did not return at end of stream")
	}
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "video/x-flv", rec.Header().Get("Content-Type"))
	require.True(t, rec.Flushed)
	fh, tags := readFLV(t, rec.Body)
	require.True(t, fh.HasAudio)
	require.True(t, fh.HasVideo)
	checkTags(t, tags, true, true)
	require.Len(t, tags, len(primed)+len(live))
}

func TestHTTP10NotChunked(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.publish(t, "live/cam")
	primed, live := streamPackets(true, true)
	write(t, p, primed...)
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET /live/cam.flv HTTP/1.0\r\n\r\n")
	require.NoError(t, err)
	e.waitReaders(t, "live/cam", 1)
	write(t, p, live...)
	p.Close()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	require.Empty(t, resp.TransferEncoding)
	_, tags := readFLV(t, resp.Body)
	require.Len(t, tags, len(primed)+len(live), "body delimited by close")
}

func TestHeadBeforeFirstPacket(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.publish(t, "live/empty") // claimed, nothing sent yet
	resp, err := http.Get(e.url("/live/empty.flv"))
	require.NoError(t, err, "the response head comes after the hold timeout at the latest")
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	g := mediatest.New(mediatest.Config{NoAudio: true})
	write(t, p, g.Headers()...)
	write(t, p, g.Packets(3)...)
	fh, err := readHeader(resp.Body)
	require.NoError(t, err)
	require.True(t, fh.HasVideo)
	require.False(t, fh.HasAudio)
}
