//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBadInput sends broken RTMP clients to the real binary while a normal
// publish and HTTP-FLV play run on the same server: each bad connection must be
// closed, leave exactly one log line naming the cause, and not disturb the
// healthy stream.
func TestBadInput(t *testing.T) {
	t.Parallel()
	const (
		readTimeout = 3 * time.Second
		key         = "live/healthy"
	)
	clip := mediaPath(t, "h264_aac_gop2s.mp4")
	src := probeClip(t, clip)
	srv := startServer(t, envGrace+"=0s", envRTMPReadTimeout+"="+readTimeout.String())

	events := srv.openEvents(t, "")
	pub := publish(t, srv, key, clip, "-progress", "pipe:2", "-stats_period", "0.1")
	srv.waitLive(t, key, pub)
	healthy := probeURLAsync(srv.flvURL(key))
	// Under load ffprobe may subscribe after the first GOP: what it must
	// get depends on when it did.
	joined := waitJoins(t, events, pub, key, "http-flv")

	cases := []struct {
		name string
		// send talks to the server over c; it returns once the client has
		// said everything it is going to say.
		send func(t *testing.T, c net.Conn)
		// cause must match the server's log line about the closed connection.
		cause *regexp.Regexp
		// closeWithin bounds how long the server may keep the connection.
		closeWithin time.Duration
	}{
		{
			name: "rtmpe_version_byte",
			send: func(t *testing.T, c net.Conn) {
				// C0 = 6 asks for RTMPE, which Ripple does not speak (version 3 only).
				_, err := c.Write(append([]byte{6}, make([]byte, 1536)...))
				require.NoError(t, err)
			},
			cause:       regexp.MustCompile(`(?i)version`),
			closeWithin: 10 * time.Second,
		},
		{
			name: "http_on_rtmp_port",
			send: func(t *testing.T, c net.Conn) {
				_, err := c.Write([]byte("GET /live/healthy.flv HTTP/1.1\r\nHost: x\r\n\r\n"))
				require.NoError(t, err)
			},
			cause:       regexp.MustCompile(`(?i)version|http|handshake`),
			closeWithin: 10 * time.Second,
		},
		{
			name: "silent_after_handshake",
			send: func(t *testing.T, c net.Conn) {
				plainHandshake(t, c)
				// ...and then nothing: no connect command.
			},
			cause:       regexp.MustCompile(`(?i)timeout|deadline`),
			closeWithin: readTimeout + 10*time.Second,
		},
	}
	// Sequential, on the test goroutine: the three clients take a few seconds
	// in all, well inside the healthy stream's 10 s.
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", srv.RTMPAddr, 5*time.Second)
			require.NoError(t, err)
			defer c.Close()
			local := c.LocalAddr().String()
			tc.send(t, c)

			// The server must close the connection: read until EOF/reset.
			start := time.Now()
			require.NoError(t, c.SetReadDeadline(start.Add(tc.closeWithin)))
			_, err = io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("server kept the connection open for %s", tc.closeWithin)
			}
			t.Logf("closed by the server after %s (%v)", time.Since(start).Round(time.Millisecond), err)

			// One line about this connection carries the cause (err=...).
			mentions := func(s string) bool { return strings.Contains(s, local) && strings.Contains(s, "err=") }
			line, err := srv.out.waitFor(10*time.Second, 0, mentions)
			require.NoError(t, err, "no log line with remote=%s and err=", local)
			assert.Regexp(t, tc.cause, line)
			assert.Len(t, srv.out.matching(0, mentions), 1, "log lines with remote=%s and err=", local)
		})
	}

	require.False(t, pub.exited(), "the healthy stream ended before the bad clients were done: the concurrency check is void")
	t.Run("healthy_stream", func(t *testing.T) {
		require.NoError(t, pub.wait(playTimeout), "publisher")
		r := await(t, "http-flv ffprobe", healthy, playTimeout)
		require.NoError(t, r.err)
		checkPlaybackJoined(t, r.probe, src, joined["http-flv"])
	})
}

// plainHandshake does the client side of the plain RTMP handshake (RTMP 1.0
// §5.2): C0+C1 with a zero "version" field, read S0+S1+S2, answer C2 = S1.
func plainHandshake(t *testing.T, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	c1 := make([]byte, 1536)
	_, err := rand.Read(c1[8:])
	require.NoError(t, err)
	_, err = c.Write(append([]byte{3}, c1...))
	require.NoError(t, err)
	s := make([]byte, 1+1536+1536)
	_, err = io.ReadFull(c, s)
	require.NoError(t, err, "reading S0+S1+S2")
	require.Equal(t, byte(3), s[0], "S0")
	assert.True(t, bytes.Equal(c1, s[1+1536:]), "plain S2 must echo C1")
	_, err = c.Write(s[1 : 1+1536])
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Time{}))
}
