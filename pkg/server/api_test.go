package server

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// get returns status and body of a GET with optional bearer token.
func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	return do(t, http.MethodGet, url, token)
}

// do returns status and body of a request with optional bearer token.
func do(t *testing.T, method, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
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
		status                    int // GET /api/v1/streams from 127.0.0.1
		kick                      int // DELETE /api/v1/clients/1 from 127.0.0.1
		warn                      bool
	}{
		{name: "loopback, no token", listen: "127.0.0.1:0", status: http.StatusOK, kick: http.StatusNotFound},
		{name: "loopback, token set", listen: "127.0.0.1:0", token: "t", status: http.StatusUnauthorized,
			kick: http.StatusUnauthorized},
		// The first run: go run ./cmd/ripple listens on ":8080".
		{name: "all interfaces, no token", listen: ":0", status: http.StatusOK, kick: http.StatusForbidden, warn: true},
		{name: "all interfaces v4, no token", listen: "0.0.0.0:0", status: http.StatusOK, kick: http.StatusForbidden,
			warn: true},
		{name: "all interfaces, token", listen: ":0", token: "t", send: "t", status: http.StatusOK,
			kick: http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.HTTP.Listen = tc.listen
			cfg.API.Token = tc.token
			r := start(t, cfg)
			base := "http://127.0.0.1:" + strconv.Itoa(portOf(r.HTTPAddr()))
			status, body := get(t, base+"/api/v1/streams", tc.send)
			require.Equal(t, tc.status, status, body)
			status, body = do(t, http.MethodDelete, base+"/api/v1/clients/1", tc.send)
			require.Equal(t, tc.kick, status, body)
			if tc.kick == http.StatusForbidden {
				require.Contains(t, body, "set api.token")
			}
			require.Equal(t, tc.warn, strings.Contains(r.logs.String(), `msg="api answers only reads from this machine`),
				r.logs.String())
			status, _ = get(t, base+"/healthz", "")
			require.Equal(t, http.StatusOK, status, "health is never behind the token")
		})
	}
}

// TestAPIProxiedLocalRead checks that a tokenless API on a public bind
// refuses a loopback request that a proxy relayed, even when the proxy is
// trusted and names a loopback client.
func TestAPIProxiedLocalRead(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.Listen = ":0"
	cfg.HTTP.TrustedProxies = "127.0.0.1"
	r := start(t, cfg)
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(portOf(r.HTTPAddr()))+"/api/v1/streams", nil)
	require.NoError(t, err)
	req.Header.Set("X-Forwarded-For", "127.0.0.1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusForbidden, resp.StatusCode, string(b))
	require.Contains(t, string(b), "came through a proxy")
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
