package thumb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds of one ffmpeg run.
const (
	// MaxOutputBytes caps the JPEG read from ffmpeg's stdout; a larger
	// output kills the process and fails the decode.
	MaxOutputBytes = 8 << 20
	// maxStderr is how much of ffmpeg's stderr is kept for the error
	// message (the first lines say why; later ones repeat).
	maxStderr = 2 << 10
	// waitDelay bounds how long Wait waits for the pipes after the process
	// ended or was killed (os/exec Cmd.WaitDelay).
	waitDelay = time.Second
)

// decoder runs ffmpeg to turn one keyframe into a JPEG.
type decoder struct {
	path  string // resolved ffmpeg binary
	width int    // scale down to at most this width; 0 keeps the size
}

// args returns ffmpeg's arguments for an input of format. The demuxer is
// forced and only the pipe protocol allowed, so nothing a publisher sends
// can make ffmpeg probe another format or open a file or URL (as a
// playlist demuxer would). One thread: a thumbnail is one frame, and
// decodes share the machine with the streams.
// The mjpeg encoder's output is a single JPEG (-frames:v 1) at quality 5
// of the 2–31 scale, about 20–40 KiB for 720p. -xerror makes a decode
// error fatal instead of concealed: a publisher's corrupt keyframe gives
// an error, not a grey picture cached for an interval.
func (d decoder) args(format string) []string {
	a := []string{
		"-hide_banner", "-nostats", "-loglevel", "error", "-xerror",
		"-threads", "1", "-protocol_whitelist", "pipe", "-f", format, "-i", "pipe:0",
		"-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn",
	}
	if d.width > 0 {
		// Never upscale; -2 keeps the aspect ratio with an even height
		// (the mjpeg encoder's 4:2:0 wants even sides).
		a = append(a, "-vf", "scale=w='min(iw,"+strconv.Itoa(d.width)+")':h=-2")
	}
	return append(a, "-threads", "1", "-f", "image2pipe", "-c:v", "mjpeg", "-q:v", "5", "pipe:1")
}

// run feeds in to ffmpeg and returns its stdout. The process runs in a
// process group of its own; when ctx ends, when the output exceeds
// MaxOutputBytes, and in any case after it exited, the whole group is
// killed, and Wait is always called: nothing is left running or unreaped.
func (d decoder) run(ctx context.Context, in input) ([]byte, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cmd := exec.CommandContext(ctx, d.path, d.args(in.format)...) //nolint:gosec // the binary is the operator's configuration
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = waitDelay
	cmd.Stdin = bytes.NewReader(in.data)
	out := &capWriter{max: MaxOutputBytes, over: func() { cancel(ErrDecode) }}
	stderr := &capWriter{max: maxStderr}
	cmd.Stdout, cmd.Stderr = out, stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start %s: %w", ErrDecode, d.path, err)
	}
	err := cmd.Wait()
	// ffmpeg starts no children, but a wrapper script might, and they
	// share the group: end them too. The group id cannot have been reused
	// while the group exists, and killing an empty group fails harmlessly.
	_ = killGroup(cmd)
	if out.overran() {
		return nil, fmt.Errorf("%w: ffmpeg output exceeds %d bytes", ErrDecode, MaxOutputBytes)
	}
	if err != nil {
		if ctx.Err() != nil {
			cause := context.Cause(ctx)
			if errors.Is(cause, context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w: ffmpeg timed out", ErrDecode)
			}
			return nil, cause
		}
		return nil, fmt.Errorf("%w: ffmpeg: %w%s", ErrDecode, err, stderr.suffix())
	}
	b := out.bytes()
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: ffmpeg wrote no image%s", ErrDecode, stderr.suffix())
	}
	return b, nil
}

// killGroup sends SIGKILL to the process group of a started cmd.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// capWriter keeps the first max bytes written to it and discards the rest,
// calling over once when it first has to. It never fails a write, so the
// copying goroutine of os/exec keeps draining the pipe and the child is
// never blocked on it.
type capWriter struct {
	max  int
	over func()

	mu      sync.Mutex
	buf     []byte
	overrun bool
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	room := w.max - len(w.buf)
	if len(p) > room {
		w.buf = append(w.buf, p[:max(room, 0)]...)
		if !w.overrun {
			w.overrun = true
			if w.over != nil {
				w.over()
			}
		}
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (w *capWriter) overran() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.overrun
}

func (w *capWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf
}

// suffix renders the kept stderr (its first maxStderr bytes: ffmpeg's first
// error says why) as a suffix for an error message, on one line.
func (w *capWriter) suffix() string {
	s := strings.TrimSpace(string(w.bytes()))
	if s == "" {
		return ""
	}
	return ": " + strings.Join(strings.Fields(s), " ")
}
