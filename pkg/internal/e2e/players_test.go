//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// ffmpegBase are the flags every ffmpeg child gets: no stdin (CI has none,
// and parallel ffmpegs must not fight over a terminal), no banner, warnings
// and errors only, no \r-terminated stats line.
var ffmpegBase = []string{"-nostdin", "-hide_banner", "-loglevel", "warning", "-nostats"}

// playTimeout bounds how long a player may run: a 10 s clip, the reconnect
// grace and generous slack for a loaded machine.
const playTimeout = 90 * time.Second

// publish pushes clip to rtmp://.../key at real time (-re) with stream copy,
// like a live encoder. extra goes before the output (e.g. -output_ts_offset,
// -progress).
func publish(t *testing.T, s *server, key, clip string, extra ...string) *proc {
	t.Helper()
	args := append(append([]string{}, ffmpegBase...), "-re", "-i", clip, "-c", "copy")
	args = append(args, extra...)
	args = append(args, "-f", "flv", s.rtmpURL(key))
	return startProc(t, "publisher "+key, ffmpegBin, args, nil)
}

// playRTMPToFile starts an ffmpeg RTMP player that remuxes (stream copy) into
// an FLV file; ffprobe reads the file once the player exits.
func playRTMPToFile(t *testing.T, s *server, key, out string) *proc {
	t.Helper()
	args := append(append([]string{}, ffmpegBase...), "-i", s.rtmpURL(key), "-c", "copy", "-f", "flv", "-y", out)
	return startProc(t, "rtmp player "+key, ffmpegBin, args, nil)
}

// timestampWarnings returns ffmpeg's complaints about the timestamps it
// received (the muxer warns before "fixing" them, so the file would hide it).
func timestampWarnings(p *proc) []string {
	return p.out.matching(0, func(s string) bool {
		s = strings.ToLower(s)
		return strings.Contains(s, "non-monotonous dts") || strings.Contains(s, "non monotonically increasing dts") ||
			strings.Contains(s, "invalid dts") || strings.Contains(s, "invalid pts")
	})
}

// result is what a background player hands back to the test goroutine (no
// require/t calls off the test goroutine).
type result struct {
	probe probe
	err   error
}

// probeURLAsync runs ffprobe on a live URL until the stream ends.
func probeURLAsync(url string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), playTimeout)
		defer cancel()
		p, err := runProbe(ctx, url)
		ch <- result{p, err}
	}()
	return ch
}

// playWSAsync plays WS-FLV with a Go client, writes every binary message to
// out in order (the payload is one FLV byte stream), then probes the file.
func playWSAsync(url, out string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), playTimeout)
		defer cancel()
		if err := readWS(ctx, url, out); err != nil {
			ch <- result{err: err}
			return
		}
		p, err := runProbe(ctx, out)
		ch <- result{p, err}
	}()
	return ch
}

func readWS(ctx context.Context, url, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	c, resp, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("ws dial %s: %w (HTTP %d)", url, err, resp.StatusCode)
		}
		return fmt.Errorf("ws dial %s: %w", url, err)
	}
	defer c.CloseNow()
	c.SetReadLimit(32 << 20)
	for n := 0; ; n++ {
		typ, data, err := c.Read(ctx)
		if err != nil {
			// The server ends the stream with a close frame: normal closure or
			// going away (shutdown).
			switch websocket.CloseStatus(err) {
			case websocket.StatusNormalClosure, websocket.StatusGoingAway:
				return f.Close()
			}
			return fmt.Errorf("ws read after %d messages: %w", n, err)
		}
		if typ != websocket.MessageBinary {
			return fmt.Errorf("ws message %d is %v, want binary (mpegts.js rejects text frames)", n, typ)
		}
		if _, err := f.Write(data); err != nil {
			return err
		}
	}
}

// fetchFLV downloads an HTTP-FLV stream into out until the server ends it and
// returns the response's Content-Type.
func fetchFLVAsync(url, out string) <-chan error {
	ch := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), playTimeout)
		defer cancel()
		ch <- fetchFLV(ctx, url, out)
	}()
	return ch
}

func fetchFLV(ctx context.Context, url, out string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "video/x-flv" {
		return fmt.Errorf("GET %s: Content-Type %q, want video/x-flv", url, ct)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("GET %s: body: %w", url, err)
	}
	return f.Close()
}

// await receives from ch or fails the test after timeout.
func await[T any](t *testing.T, what string, ch <-chan T, timeout time.Duration) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(timeout):
		t.Fatalf("%s: no result within %s", what, timeout)
		panic("unreachable")
	}
}

func tempFile(t *testing.T, name string) string {
	return filepath.Join(t.TempDir(), name)
}
