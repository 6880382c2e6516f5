package netx

import (
	"net/http"
	"time"
)

// writeChunk is the most an HTTP response writes under one deadline.
const writeChunk = 64 << 10

// DeadlineWriter wraps an HTTP response so that every write of at most
// 64 KiB gets its own deadline of timeout (docs/architecture.md §8.4:
// deadlines per write, not per response): a client that stops reading is
// cut after timeout, one that reads slowly is not. Call Clear when the
// response is done: the deadline would outlive it on a kept-alive
// connection (net/http sets none itself without Server.WriteTimeout,
// which Ripple never uses).
type DeadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

// NewDeadlineWriter wraps w with per-write deadlines of timeout.
func NewDeadlineWriter(w http.ResponseWriter, timeout time.Duration) DeadlineWriter {
	return DeadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: timeout}
}

func (w DeadlineWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), writeChunk)
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.timeout)) // unsupported: the write just has no deadline
		k, err := w.ResponseWriter.Write(p[:c])
		n += k
		if err != nil {
			return n, err
		}
		p = p[c:]
	}
	return n, nil
}

// Clear removes the deadline for the connection's next request.
func (w DeadlineWriter) Clear() {
	_ = w.rc.SetWriteDeadline(time.Time{}) // unsupported writers have none to clear
}

// WriteDeadlines serves h with a DeadlineWriter of timeout; the response's
// last buffered bytes are flushed under the deadline too, before it is
// cleared.
func WriteDeadlines(h http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dw := NewDeadlineWriter(w, timeout)
		defer dw.Clear()
		defer func() { _ = dw.rc.Flush() }() // a failed flush means the client left
		h.ServeHTTP(dw, r)
	})
}

// Unwrap lets http.ResponseController reach the connection.
func (w DeadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
