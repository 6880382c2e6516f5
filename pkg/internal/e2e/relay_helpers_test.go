//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// startWithConfig runs ripple with a YAML config file (apps can only be
// configured there) on free loopback ports, like startServer. A server the
// test kills itself (mayDie) is not required to exit cleanly.
func startWithConfig(t *testing.T, name, yaml string, mayDie bool, env ...string) *server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ripple.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{
		envRTMPListen + "=127.0.0.1:0",
		envHTTPListen + "=127.0.0.1:0",
		envLogLevel + "=debug",
		"GORACE=halt_on_error=0 exitcode=66",
	}
	p := startProc(t, name, rippleBin, []string{"-c", path}, append(base, env...))
	p.quiet = true
	srv := &server{proc: p}
	t.Cleanup(func() {
		if mayDie && srv.exited() {
			srv.checkLog(t)
			return
		}
		srv.stop(t)
	})
	line, err := p.out.waitFor(startTimeout, 0, contains(`msg="ripple started"`))
	if err != nil {
		t.Fatalf("%s did not log \"ripple started\": %v\n%s", name, err, tail(p.out.snapshot(), 60))
	}
	m := startedAddrs.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("cannot parse listen addresses from %q", line)
	}
	srv.RTMPAddr, srv.HTTPAddr = m[1], m[2]
	return srv
}

// checkLog fails on race reports or panics in a server that was killed.
func (s *server) checkLog(t *testing.T) {
	for _, bad := range []string{"WARNING: DATA RACE", "panic:", "fatal error:"} {
		if l := s.out.matching(0, contains(bad)); len(l) > 0 {
			t.Errorf("%s output contains %q (%d times)", s.name, bad, len(l))
		}
	}
	if t.Failed() {
		t.Logf("---- %s log ----\n%s", s.name, tail(s.out.snapshot(), 200))
	}
}

// sigkill kills the server like a crash: no shutdown, sockets reset.
func (s *server) sigkill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// logLine waits for a server log line containing every part, from index from.
func (s *server) logLine(t *testing.T, timeout time.Duration, from int, parts ...string) string {
	t.Helper()
	line, err := s.out.waitFor(timeout, from, func(l string) bool {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("%s: no log line with %q within %s: %v", s.name, parts, timeout, err)
	}
	return line
}

// countLines counts the server's log lines containing every part.
func (s *server) countLines(parts ...string) int {
	return len(s.out.matching(0, func(l string) bool {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				return false
			}
		}
		return true
	}))
}

// publishTee pushes clip (looped, real time) to several RTMP URLs from one
// ffmpeg, so every origin gets identical frames; a dead output is ignored.
func publishTee(t *testing.T, clip string, urls ...string) *proc {
	t.Helper()
	var outs []string
	for _, u := range urls {
		outs = append(outs, "[f=flv:onfail=ignore]"+u)
	}
	args := append(append([]string{}, ffmpegBase...), "-re", "-stream_loop", "-1", "-i", clip,
		// The tee muxer does not translate MP4 codec tags to FLV ones.
		"-map", "0", "-c", "copy", "-tag:v", "7", "-tag:a", "10", "-f", "tee", strings.Join(outs, "|"))
	return startProc(t, "tee publisher", ffmpegBin, args, nil)
}

// arrival is when a video frame reached a Go player.
type arrival struct {
	hash uint64
	at   time.Time
}

// goPlayer is our RTMP client playing a stream, recording the arrival time
// of every video frame (hashed by content, the same on every server).
type goPlayer struct {
	mu     sync.Mutex
	frames []arrival
	notify chan struct{} // closed and replaced on each frame
	done   chan struct{}
	err    error
	conn   *rtmp.ClientConn
}

func frameHash(p *av.Packet) uint64 {
	h := fnv.New64a()
	h.Write(p.Data)
	return h.Sum64()
}

// playGo starts a Go RTMP player of rtmpURL ("rtmp://host/app/name").
func playGo(ctx context.Context, url string) *goPlayer {
	g := &goPlayer{notify: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(g.done)
		g.err = g.run(ctx, url)
		g.mu.Lock()
		close(g.notify)
		g.notify = make(chan struct{})
		g.mu.Unlock()
	}()
	return g
}

func (g *goPlayer) run(ctx context.Context, url string) error {
	i := strings.LastIndexByte(url, '/')
	c, err := rtmp.Dial(ctx, url[:i], rtmp.ClientConfig{Timeout: 15 * time.Second})
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.conn = c
	g.mu.Unlock()
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Play(ctx, url[i+1:]); err != nil {
		return err
	}
	for {
		p, err := c.ReadPacket()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if p.Kind != av.KindVideo || p.Header {
			continue
		}
		a := arrival{hash: frameHash(p), at: time.Now()}
		g.mu.Lock()
		g.frames = append(g.frames, a)
		close(g.notify)
		g.notify = make(chan struct{})
		g.mu.Unlock()
	}
}

// count returns the video frames received so far.
func (g *goPlayer) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.frames)
}

func (g *goPlayer) snapshot() []arrival {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.frames)
}

// waitFrames waits until the player has n video frames in total.
func (g *goPlayer) waitFrames(timeout time.Duration, n int) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		g.mu.Lock()
		have, ch := len(g.frames), g.notify
		g.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-g.done:
			if g.count() >= n {
				return nil
			}
			// A clean end leaves g.err nil, which %w would print as %!w(<nil>).
			return fmt.Errorf("player ended with %d of %d frames: %v", g.count(), n, g.err) //nolint:errorlint // may be nil
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("player has %d of %d frames after %s", g.count(), n, timeout)
		}
	}
}

// percentile returns the p-th percentile (0..100) of sorted ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(float64(len(ds)-1) * p / 100)
	return ds[i]
}

// hopLatency matches the frames two players received (by content; for a
// looping clip, the nearest copy in time) and returns how much later each
// reached b than a, sorted. Only frames that reached a after b's first frame
// count: b joined later, and what it got from the GOP cache at its start is
// late by construction, not by the hop.
func hopLatency(a, b []arrival) []time.Duration {
	if len(b) == 0 {
		return nil
	}
	at := make(map[uint64][]time.Time, len(a))
	for _, x := range a {
		if x.at.After(b[0].at) {
			at[x.hash] = append(at[x.hash], x.at)
		}
	}
	var out []time.Duration
	for _, y := range b {
		best, ok := time.Duration(0), false
		for _, t := range at[y.hash] {
			if d := y.at.Sub(t); !ok || d.Abs() < best.Abs() {
				best, ok = d, true
			}
		}
		if ok {
			out = append(out, best)
		}
	}
	slices.Sort(out)
	return out
}

// longestGap returns the longest time between consecutive frames arriving
// within [from, to], and when it started.
func longestGap(fs []arrival, from, to time.Time) (time.Duration, time.Time) {
	var gap time.Duration
	var at time.Time
	for i := 1; i < len(fs); i++ {
		if fs[i].at.Before(from) || fs[i-1].at.After(to) {
			continue
		}
		if d := fs[i].at.Sub(fs[i-1].at); d > gap {
			gap, at = d, fs[i-1].at
		}
	}
	return gap, at
}

// freePort returns a loopback TCP port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// requireTool fails in CI (CI=true: a missing tool must not turn green) and
// skips elsewhere when bin or file is missing.
func requireTool(t *testing.T, what string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s missing (scripts/test.sh installs it)", what)
	}
	t.Skipf("%s missing", what)
}

func execLookPath(name string) (string, error) { return exec.LookPath(name) }
