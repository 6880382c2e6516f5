package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHandler(t *testing.T) {
	cases := []struct {
		name     string
		opts     []Option
		method   string
		path     string
		code     int
		ctype    string
		contains []string
	}{
		{name: "page default port", path: "/", code: 200, ctype: "text/html; charset=utf-8",
			contains: []string{"<title>Ripple</title>", `content="1935"`, "mpegts.js@1.8.0/dist/mpegts.js", `value="live"`, `value="cam1"`}},
		{name: "page configured port", opts: []Option{WithRTMPPort(19350)}, path: "/index.html", code: 200,
			contains: []string{`<meta name="ripple-rtmp-port" content="19350">`}},
		{name: "head", method: http.MethodHead, path: "/", code: 200},
		{name: "script", path: "/app.js", code: 200, ctype: "text/javascript; charset=utf-8", contains: []string{"createPlayer"}},
		{name: "style", path: "/style.css", code: 200, ctype: "text/css; charset=utf-8"},
		{name: "not found", path: "/nope", code: 404},
		{name: "no directory listing", path: "/web.go", code: 404},
		{name: "post refused", method: http.MethodPost, path: "/", code: 405},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			rec := httptest.NewRecorder()
			Handler(tc.opts...).ServeHTTP(rec, httptest.NewRequest(method, tc.path, nil))
			require.Equal(t, tc.code, rec.Code)
			if tc.ctype != "" {
				require.Equal(t, tc.ctype, rec.Header().Get("Content-Type"))
			}
			for _, s := range tc.contains {
				require.Contains(t, rec.Body.String(), s)
			}
		})
	}
}
