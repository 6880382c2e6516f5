package main

import (
	"context"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestHealthcheck runs "ripple healthcheck" against a running server (exit
// 0) and against a port nobody serves (exit 1, one line naming the URL).
func TestHealthcheck(t *testing.T) {
	clearEnv(t)
	t.Setenv("RIPPLE_RTMP_LISTEN", "127.0.0.1:0")
	t.Setenv("RIPPLE_HTTP_LISTEN", "127.0.0.1:0")
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, nil, pw, nil)
		pw.Close()
	}()
	line, _ := collect(pr).wait(t, 0, `msg="ripple started"`)
	addr := regexp.MustCompile(`http=(\S+)`).FindStringSubmatch(line)[1]

	var stderr strings.Builder
	require.Equal(t, 0, run(context.Background(), []string{"healthcheck", "--http-listen", addr}, &stderr, nil), stderr.String())
	require.Empty(t, stderr.String())

	free, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := free.Addr().String()
	require.NoError(t, free.Close())
	stderr.Reset()
	require.Equal(t, 1, run(context.Background(), []string{"healthcheck", "--http-listen", dead}, &stderr, nil))
	require.Contains(t, stderr.String(), "ripple healthcheck: ")
	require.Contains(t, stderr.String(), dead+"/healthz")
	require.Equal(t, 1, strings.Count(stderr.String(), "\n"))

	cancel()
	select {
	case c := <-code:
		require.Equal(t, 0, c)
	case <-time.After(waitTimeout):
		t.Fatal("run did not return after cancel")
	}
}
