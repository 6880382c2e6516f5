package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/internal/guard"
)

// TestGuardHTTP: a handler's panic is counted and logged once with its
// stack, the connection is aborted, and the server answers the next request.
func TestGuardHTTP(t *testing.T) {
	var logs syncBuffer
	s := &Server{}
	s.limits.log = slog.New(slog.NewTextHandler(&logs, nil))
	h := s.guardHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			var p *http.Request
			_ = p.URL // nil dereference
		}
		_, _ = w.Write([]byte("ok"))
	}))
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = slog.NewLogLogger(slog.New(slog.NewTextHandler(&logs, nil)).Handler(), slog.LevelWarn)
	srv.Start()
	defer srv.Close()

	_, err := http.Get(srv.URL + "/boom")
	require.Error(t, err, "the connection is aborted")
	resp, err := http.Get(srv.URL + "/fine")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.Equal(t, []guard.Count{{Component: "http", Panics: 1}}, s.panics.Counts())
	out := logs.String()
	require.Equal(t, 1, strings.Count(out, "panic recovered"), out)
	require.Contains(t, out, "path=/boom")
	require.Contains(t, out, "stack=")
	require.NotContains(t, out, "http: panic serving", "net/http does not log a second stack")
}
