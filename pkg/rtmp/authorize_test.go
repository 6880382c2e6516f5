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

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// TestAuthorize: Authorize sees every publish and play with its query and
// the peer's address; a refusal reaches the client as an error onStatus
// (Publish.Denied / Play.Failed) carrying the reason, the hub never sees the
// refused request, and the connection's one close line names it.
func TestAuthorize(t *testing.T) {
	reqs := make(chan access.Request, 16)
	env := startServer(t, ServerConfig{
		Authorize: func(_ context.Context, r access.Request) error {
			reqs <- r
			if _, stream := r.Split(); strings.HasPrefix(stream, "deny") {
				return errors.New("auth: forbidden: not on the list")
			}
			return nil
		},
	}, hub.Config{})
	next := func() access.Request {
		t.Helper()
		select {
		case r := <-reqs:
			return r
		case <-testCtx(t).Done():
			t.Fatal("Authorize not called")
			return access.Request{}
		}
	}

	// A publisher that stays for the whole test, so plays find a stream.
	pub := env.dial(t)
	require.NoError(t, pub.Publish(testCtx(t), "cam?token=abc"))
	require.Equal(t, access.Request{Action: access.Publish, Protocol: access.ProtoRTMP, Key: "live/cam",
		Query: "token=abc", ClientID: "rtmp-1", RemoteAddr: pub.nc.LocalAddr().String()}, next())

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
			action := access.Play
			if tc.publish {
				action = access.Publish
			}
			require.Equal(t, access.Request{Action: action, Protocol: access.ProtoRTMP,
				Key: "live/" + strings.TrimSuffix(name, ".flv"), Query: query, ClientID: r.ClientID, RemoteAddr: local}, r)
			require.Regexp(t, `^rtmp-[1-9][0-9]*$`, r.ClientID)
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
		Authorize: func(context.Context, access.Request) error {
			return errors.New("auth: unauthorized: token expired at 1")
		},
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

// TestAuthorizeNestedAppAndQuery: the Request names the whole hub key when
// the app has several segments, and carries the connect app's query and
// the publish/play name's query joined (both may hold a token).
func TestAuthorizeNestedAppAndQuery(t *testing.T) {
	reqs := make(chan access.Request, 4)
	env := startServer(t, ServerConfig{
		Authorize: func(_ context.Context, r access.Request) error {
			reqs <- r
			return nil
		},
	}, hub.Config{})
	for _, tc := range []struct {
		app, name, query string
	}{
		{"live/x?a=1", "cam1?token=t", "a=1&token=t"},
		{"live/x?a=1", "cam1", "a=1"},
		{"live/x", "cam1?token=t", "token=t"},
	} {
		c, err := Dial(testCtx(t), "rtmp://"+env.addr+"/"+tc.app, ClientConfig{Timeout: testTimeout})
		require.NoError(t, err)
		require.NoError(t, c.Publish(testCtx(t), tc.name))
		r := <-reqs
		require.Equal(t, access.Publish, r.Action)
		require.Equal(t, "live/x/cam1", r.Key)
		require.Equal(t, tc.query, r.Query)
		app, stream := r.Split()
		require.Equal(t, [2]string{"live/x", "cam1"}, [2]string{app, stream})
		info, ok := env.hub.Stream("live/x/cam1")
		require.True(t, ok)
		require.Equal(t, tc.query, info.Publisher.Query)
		require.NoError(t, c.Close())
		env.logs.waitClosed(t, "stream=live/x/cam1")
	}
}

// TestQueryTooLong: a publish or play whose query (connect's and the
// name's together) exceeds access.MaxQuery is refused before Authorize is
// asked, with or without Authorize, and the close line names the length
// and the limit.
func TestQueryTooLong(t *testing.T) {
	long := "token=" + strings.Repeat("x", access.MaxQuery)
	half := "a=" + strings.Repeat("y", access.MaxQuery/2)
	for _, tc := range []struct {
		name      string
		app       string // connect app, may carry a query
		stream    string
		publish   bool
		authorize bool
	}{
		{"publish", "live", "cam1?" + long, true, false},
		{"play", "live", "cam1?" + long, false, false},
		{"publish with authorize", "live", "cam1?" + long, true, true},
		{"play with authorize", "live", "cam1?" + long, false, true},
		{"connect and play queries together", "live?" + half, "cam1?" + half, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			called := make(chan struct{}, 1)
			cfg := ServerConfig{PlayWait: time.Millisecond}
			if tc.authorize {
				cfg.Authorize = func(context.Context, access.Request) error {
					called <- struct{}{}
					return nil
				}
			}
			env := startServer(t, cfg, hub.Config{})
			c, err := Dial(testCtx(t), "rtmp://"+env.addr+"/"+tc.app, ClientConfig{Timeout: testTimeout})
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			code := codePlayFailed
			if tc.publish {
				err, code = c.Publish(testCtx(t), tc.stream), codePublishDenied
			} else {
				err = c.Play(testCtx(t), tc.stream)
			}
			var se *StatusError
			require.ErrorAs(t, err, &se)
			require.Equal(t, code, se.Code)
			require.Contains(t, se.Description, "query too long")
			require.Contains(t, se.Description, "limit 4096")
			line := env.logs.waitClosed(t, "exceeds the limit of 4096")
			require.Contains(t, line, "level=WARN")
			require.Len(t, called, 0, "Authorize must not be asked")
			_, live := env.hub.Stream("live/cam1")
			require.False(t, live)
		})
	}
}
