package batch

import "github.com/ripplemedia/ripple/pkg/hub"

// Framing is a protocol's part in each write. Seal completes the batch
// right before it is written: it fills the reserved slots (an HTTP
// chunk-size line, a WebSocket frame header) and may append a trailer; it
// also runs for a write of an empty batch (Push). Written runs after the
// write, when the batch no longer references the framing's buffers.
type Framing interface {
	Seal(b *Batch)
	Written()
}

// Writer is one connection's batch writer: the slices added go out as one
// write when the batch is full or flushed, framed by the protocol, with
// one byte-count update per write for the API. Used by one goroutine.
type Writer struct {
	b    Batch
	out  *Out
	f    Framing
	src  *Source
	sent uint64
}

// NewWriter returns a writer to out. reserved leading slots of each batch
// are the framing's (see Batch); f may be nil (no framing).
func NewWriter(out *Out, f Framing, reserved int) *Writer {
	return &Writer{out: out, f: f, b: Batch{Reserved: reserved}}
}

// Batch returns the batch in progress, for framings that append slice
// lists directly (Batch.Open, Batch.Counted).
func (w *Writer) Batch() *Batch { return &w.b }

// SetSource makes w account its writes to src's reader (nil: none).
func (w *Writer) SetSource(src *Source) { w.src = src }

// Add adds p to the batch and writes the batch once it is full.
func (w *Writer) Add(p []byte) error {
	w.b.Add(p)
	if w.b.Full() {
		return w.Flush()
	}
	return nil
}

// Flush writes the batch, if anything was added.
func (w *Writer) Flush() error {
	if w.b.Empty() {
		return nil
	}
	return w.write()
}

// Push writes the batch even when it is empty: the framing may have
// something of its own to send (a response head).
func (w *Writer) Push() error { return w.write() }

func (w *Writer) write() error {
	w.b.Open()
	if w.f != nil {
		w.f.Seal(&w.b)
	}
	n, err := w.out.Write(w.b.Bufs)
	w.b.Reset()
	if w.f != nil {
		w.f.Written()
	}
	if n > 0 {
		w.sent += uint64(n)
		if w.src != nil {
			w.src.r.AddBytes(uint64(n)) // one atomic add per write, for the API
		}
	}
	return err
}

// Sent returns the bytes written so far (framing included).
func (w *Writer) Sent() uint64 { return w.sent }

// Reader returns the hub reader of the source, or nil.
func (w *Writer) Reader() *hub.Reader {
	if w.src == nil {
		return nil
	}
	return w.src.r
}
