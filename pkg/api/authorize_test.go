package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// TestAuthorizeWithoutToken walks every branch of the tokenless rule on a
// bind beyond loopback (RequireToken), and checks that a token or a
// loopback bind keep their rules.
func TestAuthorizeWithoutToken(t *testing.T) {
	h := hub.New(hub.Config{})
	t.Cleanup(h.Close)
	public := New(Config{RequireToken: true}, h)
	loopback := New(Config{}, h)
	withToken := New(Config{Token: "s3cret", RequireToken: true}, h)
	t.Cleanup(func() {
		for _, a := range []*API{public, loopback, withToken} {
			require.NoError(t, a.Close())
		}
	})

	cases := []struct {
		name   string
		api    *API
		method string
		path   string
		remote string
		header map[string]string
		status int
		msg    string // part of the error, when status is not 200
	}{
		{name: "local GET", api: public, method: "GET", path: "/api/v1/streams", remote: "127.0.0.1:5000", status: 200},
		{name: "local GET, other loopback address", api: public, method: "GET", path: "/api/v1/summary",
			remote: "127.0.0.2:5000", status: 200},
		{name: "local GET over IPv6", api: public, method: "GET", path: "/api/v1/relays", remote: "[::1]:5000", status: 200},
		{name: "local GET, v4-mapped", api: public, method: "GET", path: "/api/v1/relays", remote: "[::ffff:127.0.0.1]:5000",
			status: 200},
		{name: "local GET, bare address from realIP", api: public, method: "GET", path: "/api/v1/clients",
			remote: "127.0.0.1", status: 200},
		{name: "local HEAD", api: public, method: "HEAD", path: "/api/v1/streams", remote: "127.0.0.1:5000", status: 200},
		{name: "local GET of the OpenAPI document", api: public, method: "GET", path: "/api/v1/openapi.yaml",
			remote: "127.0.0.1:5000", status: 200},
		{name: "local GET of an unknown stream", api: public, method: "GET", path: "/api/v1/streams/live/x",
			remote: "127.0.0.1:5000", status: 404, msg: "not found"},
		{name: "local DELETE of a client", api: public, method: "DELETE", path: "/api/v1/clients/1",
			remote: "127.0.0.1:5000", status: 403, msg: "changes (kicks, recordings, restream targets) need a token; set api.token"},
		{name: "local DELETE of a stream", api: public, method: "DELETE", path: "/api/v1/streams/live/cam",
			remote: "[::1]:5000", status: 403, msg: "set api.token"},
		{name: "local POST", api: public, method: "POST", path: "/api/v1/streams", remote: "127.0.0.1:5000",
			status: 403, msg: "set api.token"},
		{name: "remote GET", api: public, method: "GET", path: "/api/v1/streams", remote: "192.0.2.7:5000",
			status: 403, msg: "answers only reads from this machine; set api.token"},
		{name: "remote GET of the events", api: public, method: "GET", path: "/api/v1/events", remote: "192.0.2.7:5000",
			status: 403, msg: "set api.token"},
		{name: "remote GET, unparsable address", api: public, method: "GET", path: "/api/v1/streams", remote: "somewhere",
			status: 403, msg: "set api.token"},
		{name: "local GET with X-Forwarded-For", api: public, method: "GET", path: "/api/v1/streams",
			remote: "127.0.0.1:5000", header: map[string]string{"X-Forwarded-For": "127.0.0.1"},
			status: 403, msg: "came through a proxy"},
		{name: "local GET with Forwarded", api: public, method: "GET", path: "/api/v1/streams",
			remote: "127.0.0.1:5000", header: map[string]string{"Forwarded": "for=192.0.2.7"},
			status: 403, msg: "came through a proxy"},
		{name: "local GET with X-Real-IP", api: public, method: "GET", path: "/api/v1/streams",
			remote: "127.0.0.1:5000", header: map[string]string{"X-Real-IP": "192.0.2.7"},
			status: 403, msg: "came through a proxy"},
		{name: "loopback bind, remote DELETE", api: loopback, method: "DELETE", path: "/api/v1/clients/1",
			remote: "192.0.2.7:5000", status: 404, msg: "not found"},
		{name: "loopback bind, proxied GET", api: loopback, method: "GET", path: "/api/v1/streams",
			remote: "127.0.0.1:5000", header: map[string]string{"X-Forwarded-For": "192.0.2.7"}, status: 200},
		{name: "loopback bind, proxied POST of a restream target", api: loopback, method: "POST",
			path: "/api/v1/streams/live/cam/forwards", remote: "127.0.0.1:5000",
			header: map[string]string{"Forwarded": "for=192.0.2.7"}, status: 403, msg: "came through a proxy: changes"},
		{name: "loopback bind, proxied DELETE", api: loopback, method: "DELETE", path: "/api/v1/clients/1",
			remote: "127.0.0.1:5000", header: map[string]string{"X-Real-IP": "192.0.2.7"}, status: 403,
			msg: "need a token"},
		{name: "token, local GET without it", api: withToken, method: "GET", path: "/api/v1/streams",
			remote: "127.0.0.1:5000", status: 401, msg: "missing bearer token"},
		{name: "token, remote GET with it", api: withToken, method: "GET", path: "/api/v1/streams",
			remote: "192.0.2.7:5000", header: map[string]string{"Authorization": "Bearer s3cret"}, status: 200},
		{name: "token, proxied DELETE with it", api: withToken, method: "DELETE", path: "/api/v1/clients/1",
			remote: "127.0.0.1:5000", header: map[string]string{"Authorization": "Bearer s3cret", "X-Forwarded-For": "192.0.2.7"},
			status: 404, msg: "not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			req.RemoteAddr = tc.remote
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := newRecorder()
			tc.api.ServeHTTP(rec, req)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.status == 200 || tc.method == http.MethodHead {
				return
			}
			var e Error
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), rec.Body.String())
			require.Contains(t, e.Error, tc.msg)
		})
	}
}
