package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitTimeout = 10 * time.Second

// clearEnv hides the machine's RIPPLE_* variables (empty ones are ignored).
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "RIPPLE_") {
			t.Setenv(name, "")
		}
	}
}

func TestRunUsageAndConfigErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	cases := []struct {
		name string
		args []string
		env  map[string]string
		code int
		line string // the single stderr line; "" = not checked
		out  string // substring of stderr
	}{
		{name: "help", args: []string{"--help"}, code: 0, out: "--rtmp-listen"},
		{name: "unknown flag", args: []string{"--nope"}, code: 2, line: "ripple: unknown flag: --nope (see --help)"},
		{name: "positional argument", args: []string{"ripple.yaml"}, code: 2,
			line: `ripple: unexpected argument "ripple.yaml" (flags only; see --help)`},
		{name: "missing file", args: []string{"-c", missing}, code: 1,
			line: "ripple: config: open " + missing + ": no such file or directory"},
		{name: "bad flag value", args: []string{"--log-level", "loud"}, code: 1,
			line: `ripple: config: log.level: "loud" is not one of debug, info, warn, error`},
		{name: "bad env value", env: map[string]string{"RIPPLE_RTMP_CHUNK_SIZE": "100"}, code: 1,
			line: "ripple: config: rtmp.chunk_size: 100 out of range [128, 65536]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stderr strings.Builder
			code := run(context.Background(), tc.args, &stderr, nil)
			require.Equal(t, tc.code, code, stderr.String())
			if tc.line != "" {
				require.Equal(t, tc.line+"\n", stderr.String(), "one clear line")
			}
			require.Contains(t, stderr.String(), tc.out)
		})
	}
}

// TestRunServes starts the real process body on free ports from the
// environment, probes /healthz and stops it through the context (the signal
// path in main).
func TestRunServes(t *testing.T) {
	clearEnv(t)
	t.Setenv("RIPPLE_RTMP_LISTEN", "127.0.0.1:0")
	t.Setenv("RIPPLE_HTTP_LISTEN", "127.0.0.1:0")
	t.Setenv("RIPPLE_LOG_LEVEL", "debug")

	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, nil, pw, nil)
		pw.Close()
	}()

	started := regexp.MustCompile(`level=INFO msg="ripple started" rtmp=127\.0\.0\.1:\d+ http=(127\.0\.0\.1:\d+)`)
	httpAddr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := started.FindStringSubmatch(sc.Text()); m != nil {
				httpAddr <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, pr) // keep draining until run returns
	}()

	var addr string
	select {
	case addr = <-httpAddr:
	case c := <-code:
		t.Fatalf("run exited with %d before starting", c)
	case <-time.After(waitTimeout):
		t.Fatal("no \"ripple started\" line")
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, "ok\n", string(body))
	http.DefaultClient.CloseIdleConnections()

	cancel()
	select {
	case c := <-code:
		require.Equal(t, 0, c)
	case <-time.After(waitTimeout):
		t.Fatal("run did not return after cancel")
	}
}
