//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment overrides understood by cmd/ripple (pkg/config: RIPPLE_ +
// SECTION_KEY). The listen addresses use port 0: the kernel picks free ports
// and the server reports the bound addresses in its "ripple started" line, so
// parallel tests never race for a port.
const (
	envRTMPListen = "RIPPLE_RTMP_LISTEN"
	envHTTPListen = "RIPPLE_HTTP_LISTEN"
	envLogLevel   = "RIPPLE_LOG_LEVEL"
	// envGrace is hub.Config.ReconnectGrace.
	envGrace = "RIPPLE_HUB_RECONNECT_GRACE"
	// envRTMPReadTimeout is rtmp.ServerConfig.ReadTimeout (idle read timeout).
	envRTMPReadTimeout = "RIPPLE_RTMP_READ_TIMEOUT"
)

const (
	startTimeout    = 30 * time.Second // the race-built binary on a loaded 2-core machine
	shutdownTimeout = 15 * time.Second
)

var startedAddrs = regexp.MustCompile(`\brtmp="?([^"\s]+)"?.*\bhttp="?([^"\s]+)"?`)

// server is a running ripple binary.
type server struct {
	*proc
	RTMPAddr string // host:port actually bound
	HTTPAddr string
}

// startServer runs the ripple binary on free loopback ports with debug logs and
// the given extra environment ("KEY=value"), and waits for its
// `msg="ripple started"` line. The cleanup sends SIGTERM and requires a clean
// exit within shutdownTimeout; it fails the test on race reports or panics in
// the server's output and dumps the log when the test failed.
func startServer(t *testing.T, env ...string) *server {
	t.Helper()
	base := []string{
		envRTMPListen + "=127.0.0.1:0",
		envHTTPListen + "=127.0.0.1:0",
		envLogLevel + "=debug",
		"GORACE=halt_on_error=0 exitcode=66",
	}
	p := startProc(t, "ripple", rippleBin, nil, append(base, env...))
	p.quiet = true // stop dumps a longer log
	// Cleanups run last-in first-out: this graceful stop runs before
	// startProc's kill.
	srv := &server{proc: p}
	t.Cleanup(func() { srv.stop(t) })

	line, err := p.out.waitFor(startTimeout, 0, contains(`msg="ripple started"`))
	if err != nil {
		t.Fatalf("ripple did not log \"ripple started\": %v\n%s", err, tail(p.out.snapshot(), 60))
	}
	m := startedAddrs.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("cannot parse listen addresses from %q", line)
	}
	srv.RTMPAddr, srv.HTTPAddr = m[1], m[2]
	for _, a := range []string{srv.RTMPAddr, srv.HTTPAddr} {
		if strings.HasSuffix(a, ":0") {
			t.Fatalf("ripple logged the configured address %q, not the bound one: %q", a, line)
		}
	}
	return srv
}

func (s *server) stop(t *testing.T) {
	if !s.exited() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
			if s.err != nil {
				t.Errorf("ripple exited with %v after SIGTERM", s.err)
			}
		case <-time.After(shutdownTimeout):
			t.Errorf("ripple did not exit within %s of SIGTERM", shutdownTimeout)
			s.kill()
		}
	} else if !t.Failed() {
		t.Errorf("ripple exited before the end of the test: %v", s.err)
	}
	for _, bad := range []string{"WARNING: DATA RACE", "panic:", "fatal error:"} {
		if l := s.out.matching(0, contains(bad)); len(l) > 0 {
			t.Errorf("ripple output contains %q (%d times); see the log below", bad, len(l))
		}
	}
	if t.Failed() {
		t.Logf("---- ripple log ----\n%s", tail(s.out.snapshot(), 300))
	}
}

func (s *server) rtmpURL(key string) string { return "rtmp://" + s.RTMPAddr + "/" + key }
func (s *server) flvURL(key string) string {
	k, q, ok := strings.Cut(key, "?") // "live/cam?token=...": the query goes after .flv
	if ok {
		return "http://" + s.HTTPAddr + "/" + k + ".flv?" + q
	}
	return "http://" + s.HTTPAddr + "/" + key + ".flv"
}
func (s *server) wsURL(key string) string { return "ws://" + s.HTTPAddr + "/" + key + ".flv" }

// waitLive polls the API (GET /api/v1/streams/KEY, open on loopback) until
// the stream is live: a play check (signed URLs, on_play) does not stand in
// the way, unlike HEAD on the FLV URL. It stops early if pub exits (nil: no
// publisher to watch). A query in key ("live/cam?token=...") is ignored.
func (s *server) waitLive(t *testing.T, key string, pub *proc) {
	t.Helper()
	key, _, _ = strings.Cut(key, "?")
	const timeout = 20 * time.Second
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: 5 * time.Second}
	var last string
	for {
		last = s.head(client, key)
		if last == "200" {
			return
		}
		if pub != nil && pub.exited() {
			t.Fatalf("publisher exited (%v) before %s was live (last status: %s)", pub.result(), key, last)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not live within %s (last status: %s)", key, timeout, last)
		}
		select {
		case <-tick.C:
		case <-pub.doneChan():
		}
	}
}

// head returns the status code of GET /api/v1/streams/KEY as a string, or
// the error: "200" while the stream is live.
func (s *server) head(client *http.Client, key string) string {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet,
		"http://"+s.HTTPAddr+"/api/v1/streams/"+key, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return err.Error()
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		// The API needs a token here (api.token): HEAD the FLV URL.
		req, err = http.NewRequestWithContext(context.Background(), http.MethodHead, s.flvURL(key), nil)
		if err != nil {
			return err.Error()
		}
		if resp, err = client.Do(req); err != nil {
			return err.Error()
		}
		resp.Body.Close()
	}
	return fmt.Sprint(resp.StatusCode)
}

// doneChan is p.done, or nil (blocks forever in a select) for a nil proc.
func (p *proc) doneChan() <-chan struct{} {
	if p == nil {
		return nil
	}
	return p.done
}
