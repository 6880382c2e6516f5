//go:build e2e

package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// errLogClosed is returned by lineLog.waitFor when the writer has exited
// without printing a matching line.
var errLogClosed = errors.New("output closed")

// lineLog collects a process's output lines and lets tests wait for a line
// without sleeping: every appended line wakes the waiters.
type lineLog struct {
	mu     sync.Mutex
	lines  []string
	notify chan struct{} // closed and replaced on every change
	closed bool
}

func newLineLog() *lineLog { return &lineLog{notify: make(chan struct{})} }

func (l *lineLog) add(line string) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
}

func (l *lineLog) close() {
	l.mu.Lock()
	l.closed = true
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
}

// len returns the number of lines so far (an index for waitFor).
func (l *lineLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

func (l *lineLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func (l *lineLog) String() string { return strings.Join(l.snapshot(), "\n") }

// matching returns the lines, from index from on, for which match is true.
func (l *lineLog) matching(from int, match func(string) bool) []string {
	var out []string
	for i, s := range l.snapshot() {
		if i >= from && match(s) {
			out = append(out, s)
		}
	}
	return out
}

// waitFor returns the first line at index >= from for which match is true,
// waiting up to timeout for it to be written.
func (l *lineLog) waitFor(timeout time.Duration, from int, match func(string) bool) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		for ; from < len(l.lines); from++ {
			if match(l.lines[from]) {
				s := l.lines[from]
				l.mu.Unlock()
				return s, nil
			}
		}
		ch, closed := l.notify, l.closed
		l.mu.Unlock()
		if closed {
			return "", errLogClosed
		}
		select {
		case <-ch:
		case <-deadline.C:
			return "", fmt.Errorf("no matching line within %s", timeout)
		}
	}
}

func contains(sub string) func(string) bool {
	return func(s string) bool { return strings.Contains(s, sub) }
}

// proc is a child process whose stdout and stderr are collected line by line.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *lineLog
	done chan struct{} // closed once the process has exited and its output is read
	err  error         // cmd.Wait's result, valid after done

	quiet bool // do not dump the output when the test failed
}

// startProc starts bin with args and registers a cleanup that kills it if the
// test did not wait for it, and dumps its output when the test failed.
func startProc(t *testing.T, name, bin string, args, env []string) *proc {
	t.Helper()
	p := &proc{name: name, out: newLineLog(), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Dir = t.TempDir()

	// An *os.File as Stdout/Stderr is handed to the child directly, so Wait
	// does not depend on our reader; the reader sees EOF when the child exits.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("%s: pipe: %v", name, err)
	}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		r.Close()
		w.Close()
		t.Fatalf("%s: start %s: %v", name, bin, err)
	}
	w.Close()
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.out.add(sc.Text())
		}
		r.Close()
		p.err = p.cmd.Wait()
		p.out.close()
		close(p.done)
	}()

	t.Cleanup(func() {
		p.kill()
		if t.Failed() && !p.quiet {
			t.Logf("---- %s output (%s) ----\n%s", p.name, strings.Join(p.cmd.Args, " "), tail(p.out.snapshot(), 60))
		}
	})
	return p
}

// kill sends SIGKILL if the process is still running and waits for it.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// result returns the exit error once the process has exited, nil before: safe
// to call at any time, unlike reading p.err.
func (p *proc) result() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// wait waits up to timeout for the process to exit and returns its exit error
// (nil for status 0).
func (p *proc) wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%s still running after %s", p.name, timeout)
	}
}

// exitCode waits like wait and returns the exit status (-1 if killed by a
// signal or still running).
func (p *proc) exitCode(timeout time.Duration) (int, error) {
	err := p.wait(timeout)
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return -1, err
}

func tail(lines []string, n int) string {
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines omitted)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
