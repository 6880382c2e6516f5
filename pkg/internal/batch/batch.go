// Package batch drains a hub reader into batched writes: what the hub has
// queued for a player when it wakes it goes out as one net.Buffers write
// (one writev on TCP), with the same limits, deadlines and byte accounting
// for every protocol. RTMP play, HTTP-FLV, WS-FLV and the relay pusher plug
// in only their framing (chunk headers, HTTP chunks, WebSocket frames); see
// docs/performance.md for why a player costs what it does.
//
// The parts:
//   - Batch collects the slices of one write: shared packet bytes (never
//     copied, never modified) and the framing's own small slices;
//   - Out writes a batch to a connection (writev, or a buffered fallback on
//     connections without it, e.g. TLS) within a write deadline;
//   - Source drains a hub reader with TryRead into a Framer, and ends the
//     connection at once when the hub evicts or kicks the reader;
//   - Writer puts the three together for a player whose connection carries
//     nothing but the stream (HTTP-FLV, WS-FLV).
package batch

import "net"

// Limits shared by every protocol writer.
const (
	// ReadPackets is the most packets taken from a hub reader per TryRead;
	// a writer takes batches until the reader is drained.
	ReadPackets = 64
	// MaxBytes caps one write, so that each per-write deadline measures
	// real progress of a bounded size (a join replays a whole GOP).
	MaxBytes = 256 << 10
	// MaxBufs caps the slices of one write. The iovec array the runtime
	// keeps per socket (16 bytes per slice) and a Batch's own slice (24
	// bytes per slice) are sized by the largest write and kept for the
	// session, so the GOP burst a player joins with must not size them.
	// Every protocol adds one slice per packet (RTMP's chunked messages
	// are shared whole, like FLV tags), and a steady-state batch (a video
	// frame and the audio riding with it) is a few; 32 hold a 200 ms merge
	// window of 30 fps video with AAC.
	MaxBufs = 32
	// KeepBufs: a larger slice list (a huge keyframe cut into small RTMP
	// chunks, which cannot be split across writes) is dropped after its
	// write rather than kept per player.
	KeepBufs = 1024
)

// Batch is the slices of one write. The slices are shared (packet bytes,
// cached encodings) or owned by the framing; a Batch never copies or
// modifies them and drops its references after each write. The first
// Reserved slices are the framing's to fill in Seal (an HTTP chunk-size
// line, a WebSocket frame header); empty slices are written as nothing.
// Used by one goroutine at a time.
type Batch struct {
	Bufs     net.Buffers
	Reserved int // leading slots kept for the framing, reset to nil per batch
	// Payload is the bytes added with Add since the last Reset (the
	// reserved slots' bytes are not counted).
	Payload int
}

// Add appends b to the batch.
func (b *Batch) Add(p []byte) {
	if len(b.Bufs) < b.Reserved {
		b.open()
	}
	if len(b.Bufs) == cap(b.Bufs) {
		b.grow()
	}
	b.Bufs = append(b.Bufs, p)
	b.Payload += len(p)
}

// Counted adds to Payload the slices appended to b.Bufs directly since
// index from (by helpers that build slice lists, after Open).
func (b *Batch) Counted(from int) {
	for _, p := range b.Bufs[from:] {
		b.Payload += len(p)
	}
}

// Open makes sure the reserved slots are there and returns the index the
// next slice will take.
func (b *Batch) Open() int {
	if len(b.Bufs) < b.Reserved {
		b.open()
	}
	return len(b.Bufs)
}

func (b *Batch) open() {
	for len(b.Bufs) < b.Reserved {
		if len(b.Bufs) == cap(b.Bufs) {
			b.grow()
		}
		b.Bufs = append(b.Bufs, nil)
	}
}

// grow doubles the slice list up to what a full batch needs (the reserved
// slots, MaxBufs, and two trailing slices a framing may append): a player
// whose batches are a frame and its audio keeps a few slots, not the
// full-batch size, and a join-time burst does not grow it past that.
func (b *Batch) grow() {
	limit := b.Reserved + MaxBufs + 2
	n := min(max(2*cap(b.Bufs), 8), limit)
	if n <= cap(b.Bufs) {
		n = 2 * cap(b.Bufs) // past it: slices appended without a Full check
	}
	bufs := make(net.Buffers, len(b.Bufs), n)
	copy(bufs, b.Bufs)
	b.Bufs = bufs
}

// Empty reports whether nothing was added since the last Reset.
func (b *Batch) Empty() bool { return len(b.Bufs) <= b.Reserved }

// Full reports whether the batch reached MaxBytes or MaxBufs and should be
// written before more is added.
func (b *Batch) Full() bool {
	return b.Payload >= MaxBytes || len(b.Bufs)-b.Reserved >= MaxBufs
}

// Room reports whether n more slices fit within MaxBufs. An empty batch
// always has room: a single packet larger than the limit goes alone.
func (b *Batch) Room(n int) bool {
	return b.Empty() || len(b.Bufs)-b.Reserved+n <= MaxBufs
}

// Reset drops the references to the written slices and keeps the backing
// array for the next batch (unless a huge batch grew it).
func (b *Batch) Reset() {
	clear(b.Bufs)
	b.Bufs, b.Payload = b.Bufs[:0], 0
	if cap(b.Bufs) > KeepBufs {
		b.Bufs = nil
	}
}
