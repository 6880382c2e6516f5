package rtmp

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// TestAuthorize: Authorize sees every publish and play with its query and
// the peer's address; a refusal reaches the client as an error onStatus
// (Publish.Denied / Play.Failed) carrying the reason, the hub never sees the
// refused request, and the connection's one close line names it.
func TestAuthorize(t *testing.T) {
	reqs := make(chan AuthRequest, 16)
	env := startServer(t, ServerConfig{
		Authorize: func(ctx context.Context, r AuthRequest) error {
			reqs <- r
			if strings.HasPrefix(r.Stream, "deny") {
				return errors.New("auth: forbidden: not on the list")
			}
			return nil
		},
	}, hub.Config{})
	next := func() AuthRequest {
		t.Helper()
		select {
		case r := <-reqs:
			return r
		case <-testCtx(t).Done():
			t.Fatal("Authorize not called")
			return AuthRequest{}
		}
	}

	// A publisher that stays for the whole test, so plays find a stream.
	pub := env.dial(t)
	require.NoError(t, pub.Publish(testCtx(t), "cam?token=abc"))
	require.Equal(t, AuthRequest{Publish: true, App: "live", Stream: "cam", Query: "token=abc",
		ConnID: 1, RemoteAddr: pub.nc.LocalAddr().String()}, next())

	for _, tc := range []struct {
		name    string
		publish bool
		stream  string
		code    string // "" = allowed
	}{
		{"play_allowed", false, "cam?token=def", ""},
		{"publish_refused", true, "deny1?token=x", codePublishDenied},
		{"play_refused", false, "deny2.flv?token=y", codePlayFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := env.dial(t)
			local := c.nc.LocalAddr().String()
			var err error
			if tc.publish {
				err = c.Publish(testCtx(t), tc.stream)
			} else {
				err = c.Play(testCtx(t), tc.stream)
			}
			r := next()
			name, query, _ := strings.Cut(tc.stream, "?")
			require.Equal(t, AuthRequest{Publish: tc.publish, App: "live", Stream: strings.TrimSuffix(name, ".flv"),
				Query: query, ConnID: r.ConnID, RemoteAddr: local}, r)
			require.NotZero(t, r.ConnID)
			if tc.code == "" {
				require.NoError(t, err)
				return
			}
			var se *StatusError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tc.code, se.Code)
			require.Equal(t, "auth: forbidden: not on the list", se.Description)
			line := env.logs.waitClosed(t, "remote="+local)
			require.Contains(t, line, "level=INFO")
			require.Contains(t, line, "not on the list")
			_, live := env.hub.Stream("live/" + strings.TrimSuffix(name, ".flv"))
			require.False(t, live)
		})
	}
}

// TestAuthorizeRtmpdump: librtmp (the RTMP code OBS embeds) treats our
// refusal as fatal and gives up at once, instead of waiting for a timeout. Manual interop check (RIPPLE_INTEROP=1, rtmpdump).
func TestAuthorizeRtmpdump(t *testing.T) {
	requireInterop(t)
	if _, err := exec.LookPath("rtmpdump"); err != nil {
		t.Skip("rtmpdump not installed")
	}
	env := startServer(t, ServerConfig{
		Authorize: func(context.Context, AuthRequest) error { return errors.New("auth: unauthorized: token expired at 1") },
	}, hub.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	out, err := run(t, ctx, "rtmpdump", "-v", "-r", env.url+"/cam1?token=x", "-o", os.DevNull)()
	t.Logf("rtmpdump (%v) after %s: %s", err, time.Since(start), out)
	require.Error(t, err)
	require.Less(t, time.Since(start), 10*time.Second, "librtmp must give up at once, not time out")
	// librtmp 2.4 (Debian's rtmpdump) prints the code only; OBS's copy
	// also logs the description.
	require.Contains(t, out, "Closing connection: "+codePlayFailed)
}
