package rtmp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/amf0"
	"github.com/ripplemedia/ripple/pkg/internal/logtest"
)

// Interop of the handshake with a real ffmpeg (Debian 12 ships 5.1). ffmpeg
// always sends a digest C1; as a player it verifies our S1 digest and S2
// signature and gives up ("Server response validating failed", "Signature
// mismatch") before sending connect. So receiving its connect command proves
// the digest dialect, keys included, against an independent implementation.

func requireFFmpeg(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("ffmpeg interop skipped in -short mode")
	}
	path, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	return path
}

// recordingReader keeps a copy of everything read through it.
type recordingReader struct {
	r   io.Reader
	buf bytes.Buffer
}

func (rr *recordingReader) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	rr.buf.Write(p[:n])
	return n, err
}

// lockedBuffer collects output written from several goroutines.
type lockedBuffer = logtest.Buffer

// startFFmpeg runs ffmpeg until the test ends; stderr is returned for errors.
func startFFmpeg(t *testing.T, args ...string) *lockedBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, requireFFmpeg(t), append([]string{"-hide_banner", "-nostdin", "-loglevel", "error"}, args...)...)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait() // killed: the error is expected
	})
	return stderr
}

// acceptWithTimeout accepts one connection or fails the test.
func acceptWithTimeout(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	require.NoError(t, ln.(*net.TCPListener).SetDeadline(time.Now().Add(15*time.Second)))
	c, err := ln.Accept()
	require.NoError(t, err, "ffmpeg did not connect")
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(15*time.Second)))
	return c
}

// readCommand reads messages until a command and returns its AMF0 values.
func readCommand(t *testing.T, cr *ChunkReader) []any {
	t.Helper()
	for {
		m, err := cr.ReadMessage()
		require.NoError(t, err)
		if m.TypeID == TypeCommandAMF0 {
			vals, err := amf0.DecodeAll(m.Payload)
			require.NoError(t, err)
			return vals
		}
	}
}

func TestServerHandshakeFFmpeg(t *testing.T) {
	cases := []struct {
		name string
		args func(url string) []string
	}{
		{"player", func(url string) []string { return []string{"-rw_timeout", "15000000", "-i", url, "-f", "null", "-"} }},
		{"publisher", func(url string) []string {
			return []string{"-re", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-c:v", "flv1", "-f", "flv", url}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			stderr := startFFmpeg(t, c.args("rtmp://"+ln.Addr().String()+"/live/test")...)
			conn := acceptWithTimeout(t, ln)

			rec := &recordingReader{r: conn}
			br := bufio.NewReader(rec)
			require.NoError(t, ServerHandshake(br, conn))
			c1 := rec.buf.Bytes()[1:1537]
			_, _, ok := findDigest(c1, playerDigestKey)
			require.True(t, ok, "ffmpeg's C1 digest must validate, so we answered digest-style")

			vals := readCommand(t, NewChunkReader(br, 0))
			require.NotEmpty(t, vals, "stderr: %s", stderr)
			require.Equal(t, "connect", vals[0], "stderr: %s", stderr)
		})
	}
}

// dialRetry connects to an ffmpeg -listen that may not be listening yet:
// connection refused is retried with a short backoff until the deadline.
func dialRetry(t *testing.T, addr string) net.Conn {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, 200*time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			t.Cleanup(func() { c.Close() })
			require.NoError(t, c.SetDeadline(time.Now().Add(15*time.Second)))
			return c
		}
		if !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
			t.Fatalf("dial ffmpeg -listen: %v", err)
		}
		<-time.After(backoff)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestClientHandshakeFFmpeg: ffmpeg -listen (the server side of libavformat)
// accepts our handshake in both dialects and answers our connect.
func TestClientHandshakeFFmpeg(t *testing.T) {
	for name, client := range map[string]func(*bufio.Reader, io.Writer) error{
		"plain":  ClientHandshake,
		"digest": ClientHandshakeDigest,
	} {
		t.Run(name, func(t *testing.T) {
			addr := freePort(t)
			stderr := startFFmpeg(t, "-listen", "1", "-i", "rtmp://"+addr+"/live/test", "-f", "null", "-")
			conn := dialRetry(t, addr)
			br := bufio.NewReader(conn)
			require.NoError(t, client(br, conn))

			cmd, err := amf0.Append(nil, "connect", 1, amf0.Object{
				{Key: "app", Value: "live"}, {Key: "type", Value: "nonprivate"},
				{Key: "tcUrl", Value: "rtmp://" + addr + "/live"},
			})
			require.NoError(t, err)
			_, err = conn.Write(NewChunkWriter().AppendMessage(nil, 3, &Message{TypeID: TypeCommandAMF0, Payload: cmd}))
			require.NoError(t, err)

			vals := readCommand(t, NewChunkReader(br, 0))
			require.NotEmpty(t, vals)
			require.Equal(t, "_result", vals[0], "stderr: %s", stderr)
			errs := stderr.String()
			require.NotContains(t, strings.ToLower(errs), "handshake", "stderr: %s", errs)
		})
	}
}
