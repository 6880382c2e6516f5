package httpflv

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
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
				ww, err := acceptWS(w, r, nil, time.Minute, func(error) {})
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
