package server

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// get returns status and body of a GET with optional bearer token.
func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestReadyz(t *testing.T) {
	r := start(t, testConfig(t))
	status, body := get(t, r.url("/readyz"), "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "ready\n", body)
	require.True(t, r.Ready())

	r.SetDraining(true)
	status, body = get(t, r.url("/readyz"), "")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "draining\n", body)
	status, _ = get(t, r.url("/healthz"), "")
	require.Equal(t, http.StatusOK, status, "alive while draining")
	require.False(t, r.Ready())

	r.SetDraining(false)
	status, _ = get(t, r.url("/readyz"), "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 2, strings.Count(r.logs.String(), `msg="readiness changed"`))
}

func TestMetricsEndpoint(t *testing.T) {
	cases := []struct {
		name, metricsToken, send string
		status                   int
	}{
		{name: "open by default", status: http.StatusOK},
		{name: "token required", metricsToken: "m", status: http.StatusUnauthorized},
		{name: "token given", metricsToken: "m", send: "m", status: http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.API.MetricsToken = tc.metricsToken
			r := start(t, cfg)
			p, err := r.hub.Publish("live/cam", hub.PublisherInfo{Protocol: "test"})
			require.NoError(t, err)
			defer p.Close()
			status, body := get(t, r.url("/metrics"), tc.send)
			require.Equal(t, tc.status, status, body)
			if status == http.StatusOK {
				require.Contains(t, body, `ripple_stream_publishing{app="live",stream="cam"} 1`)
				require.Contains(t, body, "ripple_streams 1")
				require.Contains(t, body, `ripple_connections{protocol="http"}`)
				require.Contains(t, body, "go_goroutines")
			}
		})
	}
}

func TestAPIBindRule(t *testing.T) {
	cases := []struct {
		name, listen, token, send string
		status                    int
		warn                      bool
	}{
		{name: "loopback, no token", listen: "127.0.0.1:0", status: http.StatusOK},
		{name: "loopback, token set", listen: "127.0.0.1:0", token: "t", status: http.StatusUnauthorized},
		{name: "all interfaces, no token", listen: "0.0.0.0:0", status: http.StatusForbidden, warn: true},
		{name: "all interfaces, token", listen: "0.0.0.0:0", token: "t", send: "t", status: http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.HTTP.Listen = tc.listen
			cfg.API.Token = tc.token
			r := start(t, cfg)
			port := r.HTTPAddr().String()[strings.LastIndexByte(r.HTTPAddr().String(), ':'):]
			status, body := get(t, "http://127.0.0.1"+port+"/api/v1/summary", tc.send)
			require.Equal(t, tc.status, status, body)
			require.Equal(t, tc.warn, strings.Contains(r.logs.String(), `msg="api disabled`), r.logs.String())
			status, _ = get(t, "http://127.0.0.1"+port+"/healthz", "")
			require.Equal(t, http.StatusOK, status, "health is never behind the token")
		})
	}
}

// TestEventsEndOnShutdown checks that an open SSE stream does not hold
// up shutdown: http.Server.Shutdown does not end long-lived responses.
func TestEventsEndOnShutdown(t *testing.T) {
	cfg := testConfig(t)
	cfg.ShutdownTimeout = 5 * time.Second
	r := start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url("/api/v1/events"), nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "event: stats") {
			break
		}
	}

	took, err := r.stop(t)
	require.NoError(t, err)
	require.Less(t, took, cfg.ShutdownTimeout, "shutdown waited for the event stream")
	for sc.Scan() {
	}
	require.NoError(t, sc.Err(), "the stream ended cleanly")
}
