package transcode

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ripplemedia/ripple/pkg/flv"
)

// Bounds of ffmpeg's text outputs.
const (
	// maxLine bounds a stderr or progress line; the rest of a longer line
	// is dropped.
	maxLine = 512
	// tailLines stderr lines are kept for the restart log line.
	tailLines = 8
	// stderrPerSecond bounds the stderr lines logged (at Debug) per second
	// and process: ffmpeg can warn once per packet.
	stderrPerSecond = 20
)

// proc is a started ffmpeg and the parent's ends of its pipes.
type proc struct {
	cmd      *exec.Cmd
	stdin    *os.File   // FLV in
	outs     []*os.File // rung i's FLV, fd 3+i in ffmpeg
	progress *os.File   // -progress, fd 3+len(outs)
	stderr   *os.File
}

// startProcess starts ffmpeg with n output pipes in a process group of
// its own. Every pipe is created close-on-exec, so only this child
// inherits its ends (as its fds 0, 2 and 3+), and the parent closes the
// child's ends once it started: when ffmpeg dies, reads see EOF and
// writes fail at once.
func startProcess(path string, args []string, n int) (_ *proc, err error) {
	var parent, child []*os.File
	defer func() {
		for _, f := range child {
			f.Close()
		}
		if err != nil {
			for _, f := range parent {
				f.Close()
			}
		}
	}()
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err != nil {
			return nil, nil, fmt.Errorf("transcode: pipe: %w", err)
		}
		return r, w, nil
	}
	p := &proc{}
	inR, inW, err := pipe()
	if err != nil {
		return nil, err
	}
	child, parent = append(child, inR), append(parent, inW)
	p.stdin = inW
	extra := make([]*os.File, 0, n+1)
	for range n + 1 {
		r, w, err := pipe()
		if err != nil {
			return nil, err
		}
		child, parent = append(child, w), append(parent, r)
		extra = append(extra, w)
		p.outs = append(p.outs, r)
	}
	p.outs, p.progress = p.outs[:n], p.outs[n]
	errR, errW, err := pipe()
	if err != nil {
		return nil, err
	}
	child, parent = append(child, errW), append(parent, errR)
	p.stderr = errR

	cmd := exec.Command(path, args...) //nolint:gosec // the binary and the rungs are the operator's configuration
	cmd.Stdin = inR
	cmd.Stderr = errW
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("transcode: start %s: %w", path, err)
	}
	p.cmd = cmd
	return p, nil
}

// close closes the parent's ends of the pipes (unblocking their readers
// and writer).
func (p *proc) close() {
	p.stdin.Close()
	for _, f := range p.outs {
		f.Close()
	}
	p.progress.Close()
	p.stderr.Close()
}

// killGroup sends SIGKILL to the process group of a started cmd.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// pipeEnded reports errors that mean the other end went away (or the run
// closed ours).
func pipeEnded(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, os.ErrClosed)
}

// testHookOutput, if set (tests), is called for each packet read from a
// rung's output, on the goroutine reading it.
var testHookOutput func(rendition string)

// readOutput publishes rung o's FLV output as ffmpeg writes it.
func (r *run) readOutput(o *rendition, f *os.File) error {
	fr := flv.NewReader(f)
	if _, err := fr.ReadHeader(); err != nil {
		if pipeEnded(err) {
			r.afterExitOr(fmt.Errorf("%w (%s)", errOutputEnded, o.name))
			return nil
		}
		return fmt.Errorf("transcode: rendition %s: %w", o.name, err)
	}
	for {
		tag, err := fr.ReadTag()
		if err != nil {
			if pipeEnded(err) {
				r.afterExitOr(fmt.Errorf("%w (%s)", errOutputEnded, o.name))
				return nil
			}
			return fmt.Errorf("transcode: rendition %s: %w", o.name, err)
		}
		p, err := flv.PacketFromTag(tag.Type, tag.Timestamp, tag.Body)
		if err != nil {
			if errors.Is(err, flv.ErrUnsupported) {
				continue
			}
			return fmt.Errorf("transcode: rendition %s: tag at %d ms: %w", o.name, tag.Timestamp, err)
		}
		if p == nil {
			continue
		}
		r.lastOut.Store(time.Now().UnixNano())
		if testHookOutput != nil {
			testHookOutput(o.name)
		}
		o.handle(p, r)
	}
}

// lineReader reads lines of at most maxLine bytes; the rest of a longer
// line is skipped.
type lineReader struct {
	br   *bufio.Reader
	skip bool // inside an overlong line
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, maxLine)}
}

// next returns the next line without its end ("\n" or "\r": ffmpeg ends
// progress-like lines with "\r"). It is valid until the next call.
func (l *lineReader) next() ([]byte, error) {
	for {
		b, err := l.br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if l.skip {
				continue
			}
			l.skip = true
			return b, nil
		case err != nil && len(b) == 0:
			return nil, err
		}
		if l.skip {
			l.skip = false
			continue
		}
		return trimLine(b), nil
	}
}

func trimLine(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// readProgress reads ffmpeg's -progress output (key=value lines) for its
// speed.
func (r *run) readProgress(f *os.File) error {
	lr := newLineReader(f)
	for {
		line, err := lr.next()
		if err != nil {
			return nil // EOF, or the run closed the pipe
		}
		if v, ok := strings.CutPrefix(string(line), "speed="); ok {
			r.l.setSpeed(parseSpeed(v))
		}
	}
}

// parseSpeed parses a -progress speed ("1.02x", " 0.5x", "N/A": 0).
func parseSpeed(v string) float64 {
	v = strings.TrimSuffix(strings.TrimSpace(v), "x")
	s, err := strconv.ParseFloat(v, 64)
	if err != nil || s < 0 {
		return 0
	}
	return s
}

// readStderr logs ffmpeg's stderr at Debug, line by line (at most
// stderrPerSecond a second), and keeps its last lines for the restart
// line.
func (r *run) readStderr(f *os.File) error {
	lr := newLineReader(f)
	var second int64
	var n, suppressed int
	for {
		line, err := lr.next()
		if err != nil {
			if suppressed > 0 {
				r.l.log.Debug("ffmpeg stderr lines suppressed", "suppressed", suppressed)
			}
			return nil
		}
		if len(line) == 0 {
			continue
		}
		s := string(line)
		r.stderr.add(s)
		if now := time.Now().Unix(); now != second {
			if suppressed > 0 {
				r.l.log.Debug("ffmpeg stderr lines suppressed", "suppressed", suppressed)
			}
			second, n, suppressed = now, 0, 0
		}
		if n++; n > stderrPerSecond {
			suppressed++
			continue
		}
		r.l.log.Debug("ffmpeg", "line", s)
	}
}

// stderrTail keeps the last tailLines lines.
type stderrTail struct {
	mu    sync.Mutex
	lines [tailLines]string
	n     int
}

func (t *stderrTail) add(s string) {
	t.mu.Lock()
	t.lines[t.n%tailLines] = s
	t.n++
	t.mu.Unlock()
}

// String joins the kept lines with " | ", oldest first.
func (t *stderrTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := min(t.n, tailLines)
	parts := make([]string, 0, k)
	for i := t.n - k; i < t.n; i++ {
		parts = append(parts, t.lines[i%tailLines])
	}
	return strings.Join(parts, " | ")
}
