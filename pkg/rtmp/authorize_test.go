package rtmp

import (
	"context"
	"errors"
	"strings"
	"testing"

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
