//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Lifecycle timings for these tests: the delay is long enough to observe the
// not-ready phase on a loaded 2-core machine; the timeout bounds the drain.
const (
	lcShutdownDelay   = 2 * time.Second
	lcShutdownTimeout = 10 * time.Second
)

// startOwnedServer runs ripple like startServer but leaves stopping to the
// test: these tests signal the process themselves and check how it exits.
// args go to ripple (e.g. "-c", file); env adds to the loopback listeners.
func startOwnedServer(t *testing.T, args []string, env ...string) *server {
	t.Helper()
	base := []string{
		envRTMPListen + "=127.0.0.1:0",
		envHTTPListen + "=127.0.0.1:0",
		"GORACE=halt_on_error=0 exitcode=66",
	}
	p := startProc(t, "ripple", rippleBin, args, append(base, env...))
	t.Cleanup(func() {
		for _, bad := range []string{"WARNING: DATA RACE", "panic:", "fatal error:"} {
			if l := p.out.matching(0, contains(bad)); len(l) > 0 {
				t.Errorf("ripple output contains %q (%d times)", bad, len(l))
			}
		}
	})
	line, err := p.out.waitFor(startTimeout, 0, contains(`msg="ripple started"`))
	if err != nil {
		t.Fatalf("ripple did not log \"ripple started\": %v\n%s", err, tail(p.out.snapshot(), 60))
	}
	m := startedAddrs.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("cannot parse listen addresses from %q", line)
	}
	return &server{proc: p, RTMPAddr: m[1], HTTPAddr: m[2]}
}

// publishForever pushes clip in a loop at real time, so the stream outlives any
// wait in the test; the test ends it.
func publishForever(t *testing.T, s *server, key, clip string) *proc {
	t.Helper()
	args := append(append([]string{}, ffmpegBase...), "-re", "-stream_loop", "-1", "-i", clip,
		"-c", "copy", "-f", "flv", s.rtmpURL(key))
	return startProc(t, "publisher "+key, ffmpegBin, args, nil)
}

// playToFile starts an ffmpeg player of url (RTMP or HTTP-FLV) remuxing
// into an FLV file.
func playToFile(t *testing.T, name, url, out string) *proc {
	t.Helper()
	args := append(append([]string{}, ffmpegBase...), "-i", url, "-c", "copy", "-f", "flv", "-y", out)
	return startProc(t, name, ffmpegBin, args, nil)
}

// waitGrowth waits until the file at path is larger than size bytes, and
// fails if p exits first.
func waitGrowth(t *testing.T, p *proc, path string, size int64) int64 {
	t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if fi, err := os.Stat(path); err == nil && fi.Size() > size {
			return fi.Size()
		}
		select {
		case <-tick.C:
		case <-p.done:
			t.Fatalf("%s exited (%v) before %s grew past %d bytes", p.name, p.err, filepath.Base(path), size)
		case <-deadline:
			t.Fatalf("%s did not grow past %d bytes", path, size)
		}
	}
}

// readyz returns /readyz's status code, or 0 if the request failed.
func readyz(s *server) int {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + s.HTTPAddr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// requireDecodes decodes the whole file with ffmpeg: it must exit 0
// without errors and hold video frames.
func requireDecodes(t *testing.T, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := runProbe(ctx, path)
	if err != nil {
		t.Fatalf("%s does not probe: %v", filepath.Base(path), err)
	}
	if n := len(p.packets("video")); n < 25 {
		t.Fatalf("%s holds %d video packets, want at least a second", filepath.Base(path), n)
	}
	p2 := startProc(t, "decode "+filepath.Base(path), ffmpegBin,
		append(append([]string{}, ffmpegBase...), "-v", "error", "-i", path, "-f", "null", "-"), nil)
	if err := p2.wait(60 * time.Second); err != nil {
		t.Fatalf("decoding %s: %v\n%s", filepath.Base(path), err, p2.out)
	}
	if l := p2.out.snapshot(); len(l) > 0 {
		t.Fatalf("decoding %s reported errors:\n%s", filepath.Base(path), strings.Join(l, "\n"))
	}
}

// TestSIGTERMDrainsPlayers: ffmpeg publishes; an ffmpeg RTMP player and an
// ffmpeg HTTP-FLV player record. SIGTERM: /readyz answers 503 during
// shutdown_delay while the players keep going; then both players are told
// the stream ended (StreamEOF + UnpublishNotify; the chunked body's last
// chunk), exit 0 with files that decode, and ripple exits 0 within
// shutdown_delay + shutdown_timeout.
func TestSIGTERMDrainsPlayers(t *testing.T) {
	t.Parallel()
	s := startOwnedServer(t, nil,
		"RIPPLE_SHUTDOWN_DELAY="+lcShutdownDelay.String(),
		"RIPPLE_SHUTDOWN_TIMEOUT="+lcShutdownTimeout.String())
	key := "live/drain"
	pub := publishForever(t, s, key, mediaPath(t, "h264_aac_gop2s.mp4"))
	s.waitLive(t, key, pub)
	if code := readyz(s); code != http.StatusOK {
		t.Fatalf("/readyz = %d before SIGTERM, want 200", code)
	}

	rtmpOut, flvOut := tempFile(t, "rtmp.flv"), tempFile(t, "http.flv")
	rtmpPlayer := playToFile(t, "rtmp player", s.rtmpURL(key), rtmpOut)
	flvPlayer := playToFile(t, "http-flv player", s.flvURL(key), flvOut)
	waitGrowth(t, rtmpPlayer, rtmpOut, 200<<10)
	waitGrowth(t, flvPlayer, flvOut, 200<<10)

	from := s.out.len()
	sent := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := s.out.waitFor(lcShutdownDelay, from, contains(`msg="ripple draining"`)); err != nil {
		t.Fatalf("no \"ripple draining\" line: %v", err)
	}
	if code := readyz(s); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d during shutdown_delay, want 503", code)
	}
	// Still serving during the delay: the players are not cut.
	if rtmpPlayer.exited() || flvPlayer.exited() {
		t.Fatalf("a player ended during shutdown_delay (rtmp: %v, http-flv: %v)", rtmpPlayer.result(), flvPlayer.result())
	}

	limit := lcShutdownDelay + lcShutdownTimeout
	for _, p := range []*proc{rtmpPlayer, flvPlayer} {
		code, err := p.exitCode(limit + 10*time.Second)
		if err != nil || code != 0 {
			t.Errorf("%s: exit %d (%v), want 0 (a clean end of stream)", p.name, code, err)
		}
	}
	code, err := s.exitCode(limit + 10*time.Second)
	took := time.Since(sent)
	if err != nil || code != 0 {
		t.Fatalf("ripple: exit %d (%v) after SIGTERM, want 0", code, err)
	}
	if took < lcShutdownDelay || took > limit {
		t.Errorf("ripple exited %s after SIGTERM, want within [%s, %s]", took.Round(time.Millisecond), lcShutdownDelay, limit)
	}
	t.Logf("ripple exited %s after SIGTERM", took.Round(time.Millisecond))
	for _, want := range []string{`msg="ripple stopping"`, `msg="ripple stopped"`} {
		if l := s.out.matching(from, contains(want)); len(l) == 0 {
			t.Errorf("no %s line", want)
		}
	}
	if t.Failed() {
		return
	}
	requireDecodes(t, rtmpOut)
	requireDecodes(t, flvOut)
}

// TestSIGHUPReload: a changed config file is applied on SIGHUP without
// dropping the ffmpeg player (its file keeps growing, even though the new
// play secret would refuse it now), the one log line names what changed and
// what needs a restart; an invalid file is refused naming the key, and the
// old configuration stays.
func TestSIGHUPReload(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "ripple.yaml")
	writeConfig := func(body string) {
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig("log:\n  level: info\nhub:\n  publish_policy: reject\n")
	s := startOwnedServer(t, []string{"-c", file})
	t.Cleanup(func() { s.stop(t) })

	key := "live/hup"
	pub := publishForever(t, s, key, mediaPath(t, "h264_aac_gop2s.mp4"))
	s.waitLive(t, key, pub)
	out := tempFile(t, "hup.flv")
	player := playToFile(t, "http-flv player", s.flvURL(key), out)
	size := waitGrowth(t, player, out, 64<<10)

	// Valid change: log level, publish policy and play auth apply live,
	// the chunk size needs a restart.
	writeConfig("log:\n  level: debug\nhub:\n  publish_policy: takeover\nrtmp:\n  chunk_size: 8192\n" +
		"auth:\n  play_secret: s3cret\n")
	from := s.out.len()
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	line, err := s.out.waitFor(20*time.Second, from, contains(`msg="config reloaded"`))
	if err != nil {
		t.Fatalf("no \"config reloaded\" line: %v", err)
	}
	for _, want := range []string{
		`changed="[auth.play_secret hub.publish_policy log.level rtmp.chunk_size]"`,
		"publish_policy", "log", "auth",
		`restart_required=[rtmp.chunk_size]`,
	} {
		if !strings.Contains(line, want) {
			t.Errorf("reload line %q lacks %q", line, want)
		}
	}
	// The player was not dropped: it keeps receiving, though it has no
	// token; a new player without one is refused.
	size = waitGrowth(t, player, out, size+64<<10)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(s.flvURL(key))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned player after play_secret was reloaded: %s, want 401", resp.Status)
	}

	// Invalid file: refused, naming the key; nothing changes.
	writeConfig("log:\n  level: debug\nrtmp:\n  chunk_size: 12\n")
	from = s.out.len()
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	line, err = s.out.waitFor(20*time.Second, from, contains(`config reload failed`))
	if err != nil {
		t.Fatalf("no \"config reload failed\" line: %v", err)
	}
	if !strings.Contains(line, "rtmp.chunk_size") || !strings.Contains(line, "keeping the running config") {
		t.Errorf("failure line %q must name rtmp.chunk_size and keep the config", line)
	}
	if l := s.out.matching(from, contains(`msg="config reloaded"`)); len(l) > 0 {
		t.Errorf("an invalid file was applied: %q", l)
	}
	waitGrowth(t, player, out, size+64<<10)
	if code := readyz(s); code != http.StatusOK {
		t.Errorf("/readyz = %d after reloads, want 200", code)
	}

	// The takeover policy from the valid reload is in force: a second
	// publisher replaces the first instead of being refused.
	pub2 := publishForever(t, s, key, mediaPath(t, "h264_aac_gop2s.mp4"))
	if _, err := s.out.waitFor(20*time.Second, from, contains("publisher replaced")); err != nil {
		t.Errorf("second publisher did not take over after reloading publish_policy: takeover: %v", err)
	}
	pub2.kill()
	pub.kill()
}

// TestSecondSignalForcesExit: a second SIGTERM during a long drain (here
// the shutdown_delay) ends the process at once.
func TestSecondSignalForcesExit(t *testing.T) {
	t.Parallel()
	s := startOwnedServer(t, nil, "RIPPLE_SHUTDOWN_DELAY=1m")
	from := s.out.len()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := s.out.waitFor(20*time.Second, from, contains(`msg="ripple draining"`)); err != nil {
		t.Fatalf("no \"ripple draining\" line: %v", err)
	}
	sent := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := s.exitCode(10 * time.Second)
	if err != nil {
		t.Fatalf("ripple still running 10s after a second SIGTERM: %v", err)
	}
	if code != 1 {
		t.Errorf("exit code %d after a second SIGTERM, want 1", code)
	}
	if l := s.out.matching(from, contains("second signal")); len(l) != 1 {
		t.Errorf("want one line naming the second signal, got %q", l)
	}
	t.Logf("forced exit %s after the second SIGTERM", time.Since(sent).Round(time.Millisecond))
}
