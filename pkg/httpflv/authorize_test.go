package httpflv

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/access"
)

// statusErr is a refusal carrying its HTTP status, like auth.Error.
type statusErr struct{ status int }

func (e statusErr) Error() string   { return "auth: refused for the test" }
func (e statusErr) HTTPStatus() int { return e.status }

// TestAuthorize: Authorize sees the app, stream, query, protocol and peer of
// every play; refusals answer the error's status (403 by default) before
// anything subscribes, over HTTP and WebSocket.
func TestAuthorize(t *testing.T) {
	reqs := make(chan access.Request, 8)
	e := newEnv(t, Config{Authorize: func(_ context.Context, r access.Request) error {
		reqs <- r
		switch r.Query {
		case "token=401":
			return statusErr{http.StatusUnauthorized}
		case "token=plain":
			return errors.New("auth: no")
		}
		return nil
	}})
	e.publish(t, "live/cam")

	for _, tc := range []struct {
		name, query string
		ws          bool
		status      int
	}{
		{"allowed", "token=ok", false, http.StatusOK},
		{"unauthorized", "token=401", false, http.StatusUnauthorized},
		{"forbidden_default", "token=plain", false, http.StatusForbidden},
		{"ws_allowed", "token=ok", true, http.StatusSwitchingProtocols},
		{"ws_unauthorized", "token=401", true, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			url := e.url("/live/cam.flv?" + tc.query)
			var status int
			if tc.ws {
				c, resp, err := websocket.Dial(ctx, strings.Replace(url, "http", "ws", 1), nil)
				if err == nil {
					c.CloseNow()
				}
				require.NotNil(t, resp)
				status = resp.StatusCode
			} else {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				require.NoError(t, err)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				if resp.StatusCode != http.StatusOK {
					body, _ := io.ReadAll(resp.Body)
					require.Contains(t, string(body), "auth:")
				}
				resp.Body.Close()
				status = resp.StatusCode
			}
			require.Equal(t, tc.status, status)
			r := <-reqs
			proto := "http-flv"
			if tc.ws {
				proto = "ws-flv"
			}
			require.Equal(t, access.Request{Action: access.Play, Key: "live/cam", Query: tc.query, Protocol: proto, RemoteAddr: r.RemoteAddr}, r)
			require.True(t, strings.HasPrefix(r.RemoteAddr, "127.0.0.1:"))
		})
	}
}

// TestAuthorizeHead: HEAD tells whether a stream is live, so it goes
// through the same check as GET.
func TestAuthorizeHead(t *testing.T) {
	reqs := make(chan access.Request, 4)
	e := newEnv(t, Config{Authorize: func(_ context.Context, r access.Request) error {
		reqs <- r
		if r.Query != "token=ok" {
			return statusErr{http.StatusUnauthorized}
		}
		return nil
	}})
	e.publish(t, "live/cam")
	for _, tc := range []struct {
		query  string
		status int
	}{{"", http.StatusUnauthorized}, {"token=bad", http.StatusUnauthorized}, {"token=ok", http.StatusOK}} {
		resp, err := http.Head(e.url("/live/cam.flv?" + tc.query))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, tc.status, resp.StatusCode, tc.query)
		r := <-reqs
		require.Equal(t, access.ProtoHTTPFLV, r.Protocol)
		require.Equal(t, "live/cam", r.Key)
		require.Equal(t, access.Play, r.Action)
	}
	// A refused HEAD does not reveal whether the stream exists.
	resp, err := http.Head(e.url("/live/none.flv"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}
