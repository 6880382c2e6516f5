package httpflv

import (
	"errors"
	"net/http"
	"time"
)

// responseWriter writes the FLV body through an http.ResponseWriter that
// cannot be hijacked (HTTP/2, recorders, wrapping middleware). net/http does
// the framing; each batch is flushed under its own write deadline, never
// http.Server.WriteTimeout, which would end every stream after that long.
type responseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	bufs    [][]byte
	sent    uint64
}

// startResponse sends the 200 head (on the first flush) and makes w p's
// sink. The returned end has nothing to do: returning from the handler ends
// the response.
func startResponse(w http.ResponseWriter, rc *http.ResponseController, p *player, timeout time.Duration) func(error) {
	// An endless response: lift the server's request read timeout (each
	// write has its own deadline). A hijacked connection has none left.
	_ = rc.SetReadDeadline(time.Time{}) // unsupported: there is none to lift
	w.WriteHeader(http.StatusOK)
	p.sink = &responseWriter{w: w, rc: rc, timeout: timeout}
	return func(error) {}
}

func (w *responseWriter) add(b []byte) { w.bufs = append(w.bufs, b) }

func (w *responseWriter) flush() error {
	defer func() {
		clear(w.bufs) // drop references to packet bytes until the next batch
		w.bufs = w.bufs[:0]
	}()
	err := w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	for _, b := range w.bufs {
		n, err := w.w.Write(b)
		w.sent += uint64(n)
		if err != nil {
			return err
		}
	}
	return w.rc.Flush()
}

func (w *responseWriter) bytes() uint64 { return w.sent }
