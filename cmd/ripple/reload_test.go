package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lines collects run's stderr and lets the test wait for a line.
type lines struct {
	mu   sync.Mutex
	all  []string
	more chan struct{}
}

func collect(r io.Reader) *lines {
	l := &lines{more: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.mu.Lock()
			l.all = append(l.all, sc.Text())
			close(l.more)
			l.more = make(chan struct{})
			l.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	return l
}

// wait returns the first line from index from on containing every part.
func (l *lines) wait(t *testing.T, from int, parts ...string) (string, int) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		l.mu.Lock()
		for i := from; i < len(l.all); i++ {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(l.all[i], p)
			}
			if ok {
				s := l.all[i]
				l.mu.Unlock()
				return s, i + 1
			}
		}
		more := l.more
		l.mu.Unlock()
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("no line with %q in:\n%s", parts, strings.Join(l.all, "\n"))
		}
	}
}

// TestRunReload drives SIGHUP through run: a valid file applies log.level
// at once and lists rtmp.chunk_size as needing a restart; an invalid file
// is refused with the key named and changes nothing.
func TestRunReload(t *testing.T) {
	clearEnv(t)
	t.Setenv("RIPPLE_RTMP_LISTEN", "127.0.0.1:0")
	t.Setenv("RIPPLE_HTTP_LISTEN", "127.0.0.1:0")
	file := filepath.Join(t.TempDir(), "ripple.yaml")
	write := func(s string) { require.NoError(t, os.WriteFile(file, []byte(s), 0o600)) }
	write("log:\n  level: info\n")

	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hup := make(chan os.Signal, 1)
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-c", file}, pw, hup)
		pw.Close()
	}()
	out := collect(pr)
	_, next := out.wait(t, 0, `msg="ripple started"`)

	write("log:\n  level: debug\nrtmp:\n  chunk_size: 8192\n")
	hup <- syscall.SIGHUP
	line, next := out.wait(t, next, `msg="config reloaded"`)
	require.Contains(t, line, `changed="[log.level rtmp.chunk_size]" applied=[log] restart_required=[rtmp.chunk_size]`)

	write("log:\n  level: loud\n")
	hup <- syscall.SIGHUP
	line, next = out.wait(t, next, `msg="config reload failed, keeping the running config"`)
	require.Contains(t, line, `log.level: \"loud\" is not one of`)

	// Debug is on (applied by the first reload), and the refused file did
	// not change anything: the same valid file again changes nothing.
	write("log:\n  level: debug\nrtmp:\n  chunk_size: 8192\n")
	hup <- syscall.SIGHUP
	line, _ = out.wait(t, next, `msg="config reloaded"`)
	require.Contains(t, line, `changed=[] applied=[] restart_required=[rtmp.chunk_size]`)
	require.True(t, strings.HasPrefix(line, "time="), line)

	cancel()
	select {
	case c := <-code:
		require.Equal(t, 0, c)
	case <-time.After(waitTimeout):
		t.Fatal("run did not return after cancel")
	}
}

func TestHealthURL(t *testing.T) {
	cases := []struct {
		listen, url, err string
	}{
		{":8080", "http://127.0.0.1:8080/healthz", ""},
		{"0.0.0.0:8080", "http://127.0.0.1:8080/healthz", ""},
		{"[::]:8080", "http://127.0.0.1:8080/healthz", ""},
		{"10.0.0.5:80", "http://10.0.0.5:80/healthz", ""},
		{"[::1]:8080", "http://[::1]:8080/healthz", ""},
		{"localhost:8080", "http://localhost:8080/healthz", ""},
		{"127.0.0.1:0", "", `http.listen "127.0.0.1:0": port 0 cannot be probed`},
		{"8080", "", `http.listen "8080": address 8080: missing port in address`},
	}
	for _, tc := range cases {
		t.Run(tc.listen, func(t *testing.T) {
			got, err := healthURL(tc.listen)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.url, got)
		})
	}
}
