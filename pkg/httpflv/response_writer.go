package httpflv

import (
	"errors"
	"net/http"
	"time"

	"github.com/ripplemedia/ripple/pkg/internal/batch"
)

// rcWriter writes the FLV body through an http.ResponseWriter that cannot
// be hijacked (HTTP/2, recorders, wrapping middleware). net/http does the
// framing; the batch writer writes each batch's slices, then Flush, under a
// write deadline of its own, never http.Server.WriteTimeout, which would
// end every stream after that long.
type rcWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (w rcWriter) Flush() error { return w.rc.Flush() }

func (w rcWriter) SetWriteDeadline(t time.Time) error {
	if err := w.rc.SetWriteDeadline(t); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// startResponse sends the 200 head (on the first write) and makes w p's
// output. The returned end has nothing to do: returning from the handler
// ends the response.
func startResponse(w http.ResponseWriter, rc *http.ResponseController, p *player, timeout time.Duration) func(error) {
	// An endless response: lift the server's request read timeout (each
	// write has its own deadline). A hijacked connection has none left.
	_ = rc.SetReadDeadline(time.Time{}) // unsupported: there is none to lift
	w.WriteHeader(http.StatusOK)
	p.w = batch.NewWriter(batch.NewOut(rcWriter{w, rc}, timeout, 0), nil, 0)
	return func(error) {}
}
