// Package redistest runs a real redis-server on a loopback port for tests
// of the cluster registry. Tests only.
//
// The server keeps nothing on disk (no RDB, no AOF): a Restart comes back
// empty, like a Redis that lost its data. Its output goes to a log file in
// the test's temporary directory, never to the test output; a start
// failure quotes the end of that file.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

const (
	// readyTimeout bounds the wait for a started server to answer PING.
	readyTimeout = 10 * time.Second
	// startAttempts is how many free ports Start tries when redis-server
	// fails to bind the one it was given (another process took it between
	// our probe and redis-server's bind).
	startAttempts = 5
	// logTail is how much of the log a start failure quotes.
	logTail = 2048
)

// Server is a real redis-server on a loopback port, started by a test.
type Server struct {
	Addr string // 127.0.0.1:PORT
	URL  string // redis://127.0.0.1:PORT/0

	bin  string
	dir  string
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
}

// Start starts a redis-server and waits until it answers PING. It fails the
// test when redis-server is not installed or does not come up; t.Cleanup
// kills it.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redistest: redis-server not found (%v); install it with `apt-get install redis-server`", err)
		return nil
	}
	s := &Server{bin: bin, dir: t.TempDir()}
	t.Cleanup(s.Kill)
	var last error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
			return nil
		}
		if last = s.start(port); last == nil {
			// Set once: Restart keeps the port, so readers never race.
			s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			s.URL = "redis://" + s.Addr + "/0"
			return s
		}
	}
	t.Fatalf("redistest: %v", last)
	return nil
}

// Kill stops the server with SIGKILL and waits for the process to exit.
// It is idempotent.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Restart starts the server again on the same port, killing it first if it
// still runs, and waits until it answers PING. Its data is gone.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	var err error
	// The port was ours a moment ago; a bind failure here is a transient
	// race with the old socket, so retry on the same port.
	for range startAttempts {
		if err = s.start(s.port); err == nil {
			return
		}
	}
	t.Fatalf("redistest: restart: %v", err)
}

// start runs redis-server on port and waits for PING. On failure the
// process is gone and the error quotes the end of the log.
func (s *Server) start(port int) error {
	logPath := filepath.Join(s.dir, "redis.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	fmt.Fprintf(logFile, "--- redistest: starting on port %d\n", port)

	p := strconv.Itoa(port)
	cmd := exec.Command(s.bin,
		"--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--protected-mode", "no", "--dir", s.dir)
	cmd.Dir = s.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()

	addr := net.JoinHostPort("127.0.0.1", p)
	if err := waitPing(addr, done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("redis-server on port %d: %w\nlog tail:\n%s", port, err, tail(logPath))
	}
	s.mu.Lock()
	s.cmd, s.done, s.port = cmd, done, port
	s.mu.Unlock()
	return nil
}

// waitPing polls addr with PING until it answers +PONG, the process exits
// (exited closed) or readyTimeout passes. Polling is the only way to learn
// that another process is ready.
func waitPing(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = ping(addr); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer to PING within %s: %w", readyTimeout, last)
		}
		select {
		case <-exited:
			return errors.New("exited before answering PING")
		case <-tick.C:
		}
	}
}

// ping sends one inline PING and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return port, nil
}

// tail returns the last logTail bytes of the file at path.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	if len(b) > logTail {
		b = b[len(b)-logTail:]
	}
	return string(b)
}
