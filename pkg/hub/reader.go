package hub

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
)

// ReaderStats are a reader's counters.
type ReaderStats struct {
	Delivered uint64 // packets returned by Read
	Dropped   uint64 // packets dropped on overflow or while waiting for a keyframe
	Overflows uint64
	Queued    int // packets waiting now
}

// Reader is one consumer of a stream with a bounded queue.
//
// The queue is a power-of-two ring of shared packet pointers filled by the
// publisher under the stream lock (never blocking) and drained by Read.
// notify (capacity 1) is signalled when the ring goes from empty to
// non-empty or the reader ends, so Read can also select on its context.
type Reader struct {
	s      *stream
	info   ReaderInfo
	notify chan struct{}
	id     uint64
	since  time.Time

	// Bytes the protocol reported written: this reader's, and its
	// protocol's total within the stream (shared with other readers).
	bytes atomic.Uint64
	out   *atomic.Uint64

	idx int // position in s.readers, -1 when detached; guarded by s.mu

	mu         sync.Mutex
	ring       []*av.Packet // grows by doubling up to limit (see offer)
	limit      int          // the queue length: overflow beyond it
	qbytes     int          // bytes of the queued media packets
	maxBytes   int          // overflow when queued media would exceed it
	mask       uint64
	head, tail uint64        // ring[head&mask] is the oldest; tail-head queued
	needKey    bool          // skip media until a packet a decoder can start at
	err        error         // terminal: io.EOF (after drain), ErrSlowReader, ErrClosed
	done       chan struct{} // closed when err is first set
	closed     bool          // Close was called
	overflowAt []time.Time   // last MaxOverflows overflow times, allocated on the first
	onEnd      []*endFunc    // AfterEnd callbacks not yet run or stopped
	overflowN  uint64
	stats      ReaderStats
}

// initialRing is the ring a reader starts with (beyond what its primed
// queue needs): a player that keeps up never queues more than a few flush
// points' worth, so most never grow it, and 1,000 players do not pin
// 1,000 full-size queues (8 KiB each at the default 1024).
const initialRing = 64

// newReader makes a reader whose queue holds limit packets (a power of
// two); its ring starts with room for need packets.
func newReader(s *stream, info ReaderInfo, need, limit, maxBytes int) *Reader {
	size := min(nextPow2(max(need, initialRing)), limit)
	return &Reader{
		maxBytes: maxBytes,
		s:        s,
		info:     info,
		id:       s.h.nextID.Add(1),
		since:    s.h.now(),
		notify:   make(chan struct{}, 1),
		done:     make(chan struct{}),
		ring:     make([]*av.Packet, size),
		limit:    limit,
		mask:     uint64(size - 1),
	}
}

// growLocked doubles the ring, keeping the queued packets in order.
func (r *Reader) growLocked() {
	ring := make([]*av.Packet, 2*len(r.ring))
	n := r.tail - r.head
	for i := range n {
		ring[i] = r.ring[(r.head+i)&r.mask]
	}
	r.ring, r.mask, r.head, r.tail = ring, uint64(len(ring)-1), 0, n
}

// push appends p; the caller guarantees room and that r is not yet shared
// or r.mu is held.
func (r *Reader) push(p *av.Packet) {
	r.ring[r.tail&r.mask] = p
	r.tail++
	r.qbytes += mediaBytes(p)
}

// mediaBytes is what p counts against a reader's byte budget: the payload
// of media, nothing for headers and metadata (never dropped, small).
func mediaBytes(p *av.Packet) int {
	if p.IsMedia() && !p.Header {
		return len(p.Data)
	}
	return 0
}

func (r *Reader) signal() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// canStart reports whether a decoder can start at media packet p: a video
// keyframe, or any audio frame when the stream has no video.
func canStart(p *av.Packet, audioOnly bool) bool {
	return (p.Kind == av.KindVideo && p.Keyframe) || (audioOnly && p.Kind == av.KindAudio)
}

// offer queues p without blocking (called by the publisher with the stream
// lock held). It returns the number of packets dropped for this reader and
// whether the reader must be evicted.
//
// wake says p is a flush point (flush.go): the reader is signalled then,
// not for every packet, so its writer writes once per flush point.
func (r *Reader) offer(p *av.Packet, audioOnly bool, s *stream, wake bool) (dropped uint64, evict bool) {
	r.mu.Lock()
	if r.err != nil {
		r.mu.Unlock()
		return 0, false
	}
	// Headers and metadata always pass: a player that resyncs needs them.
	media := p.IsMedia() && !p.Header
	if r.needKey && media {
		if !canStart(p, audioOnly) {
			r.stats.Dropped++
			r.mu.Unlock()
			return 1, false
		}
		r.needKey = false
	}
	if r.tail-r.head == uint64(len(r.ring)) && len(r.ring) < r.limit {
		r.growLocked()
	}
	size := mediaBytes(p)
	// A single packet larger than the budget still enters an empty queue:
	// config bounds it by rtmp.max_message_size, and refusing it would
	// overflow (and evict) every reader of the stream.
	if r.tail-r.head == uint64(len(r.ring)) || (r.qbytes > 0 && r.qbytes+size > r.maxBytes) {
		dropped, evict = r.overflowLocked(s)
		if evict {
			r.mu.Unlock()
			r.signal()
			return dropped, true
		}
		if media {
			if !canStart(p, audioOnly) {
				r.stats.Dropped++
				r.mu.Unlock()
				return dropped + 1, false
			}
			r.needKey = false
		}
	}
	r.ring[r.tail&r.mask] = p
	r.tail++
	r.qbytes += size
	r.mu.Unlock()
	if wake {
		r.signal()
	}
	return dropped, false
}

// overflowLocked handles a full queue (docs/architecture.md §4): it discards the queued
// media, keeps queued sequence headers and metadata in order, and makes the
// reader wait for the next keyframe. MaxOverflows overflows within
// OverflowWindow evict the reader, as does a queue still full of headers.
func (r *Reader) overflowLocked(s *stream) (dropped uint64, evict bool) {
	cfg := &s.h.cfg
	now := s.h.now()
	r.stats.Overflows++
	if r.overflowAt == nil {
		r.overflowAt = make([]time.Time, cfg.MaxOverflows)
	}
	n := uint64(len(r.overflowAt))
	r.overflowAt[r.overflowN%n] = now
	r.overflowN++
	// overflowAt[overflowN%n] is now the oldest of the last n overflows.
	evict = r.overflowN >= n && now.Sub(r.overflowAt[r.overflowN%n]) <= cfg.OverflowWindow

	w := r.head
	for i := r.head; i != r.tail; i++ {
		q := r.ring[i&r.mask]
		r.ring[i&r.mask] = nil
		if evict || (q.IsMedia() && !q.Header) {
			if q.IsMedia() && !q.Header {
				dropped++
			}
			continue
		}
		r.ring[w&r.mask] = q
		w++
	}
	r.tail = w
	r.qbytes = 0 // only headers and metadata are left
	r.needKey = true
	if !evict && r.tail-r.head == uint64(len(r.ring)) {
		// Nothing but headers queued: the reader is not reading at all.
		evict = true
		for i := r.head; i != r.tail; i++ {
			r.ring[i&r.mask] = nil
		}
		r.tail = r.head
	}
	r.stats.Dropped += dropped
	if evict {
		r.setErrLocked(ErrSlowReader)
	}
	return dropped, evict
}

// resync makes the reader skip media until the next keyframe (a new
// publisher took over the stream).
func (r *Reader) resync() {
	r.mu.Lock()
	r.needKey = true
	r.mu.Unlock()
}

// end sets the reader's terminal error (if none yet) and wakes Read; queued
// packets are still delivered first.
func (r *Reader) end(err error) {
	r.mu.Lock()
	r.setErrLocked(err)
	r.mu.Unlock()
	r.signal()
}

// setErrLocked records the reader's terminal error once, closes done and
// starts the AfterEnd callbacks.
func (r *Reader) setErrLocked(err error) {
	if r.err == nil {
		r.err = err
		close(r.done)
		for _, e := range r.onEnd {
			go e.f()
		}
		r.onEnd = nil
	}
}

type endFunc struct{ f func() }

// AfterEnd arranges for f to run in its own goroutine once the reader ends
// (Done closes), or at once if it has ended. It costs no goroutine until
// then: a writer blocked on a socket uses it to be cut off when its reader
// is evicted, instead of a goroutine per player waiting on Done. stop
// cancels it and reports whether it did so before f was started.
func (r *Reader) AfterEnd(f func()) (stop func() bool) {
	e := &endFunc{f: f}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		go f()
		return func() bool { return false }
	}
	r.onEnd = append(r.onEnd, e)
	return func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for i, x := range r.onEnd {
			if x == e {
				r.onEnd = append(r.onEnd[:i], r.onEnd[i+1:]...)
				return true
			}
		}
		return false
	}
}

// Ready receives a value when packets may have been queued or the reader
// ended, for a consumer that waits with its own timer (select on Ready and
// the timer, then Read). Wake-ups can be spurious; Read is still the only
// way to take packets.
func (r *Reader) Ready() <-chan struct{} { return r.notify }

// Wake makes a wait on Ready return (a spurious wake-up), e.g. from
// context.AfterFunc: a consumer can then wait on Ready alone instead of
// selecting on its context too, which is cheaper at 30+ wake-ups a second.
func (r *Reader) Wake() { r.signal() }

// Done is closed as soon as the reader has a terminal condition: the stream
// ended (queued packets may still be waiting for Read), it was evicted, or
// it was closed. A writer blocked on a socket can select on it to abort at
// once instead of at its next Read.
func (r *Reader) Done() <-chan struct{} { return r.done }

// Err returns the terminal condition (io.EOF, ErrSlowReader, ErrClosed)
// once Done is closed, else nil.
func (r *Reader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Read appends queued packets to dst (at most cap(dst)-len(dst) if that is
// > 0, otherwise everything queued) and returns it, blocking until at least
// one packet is queued, the reader is closed, or ctx ends. After the stream
// ends and the queue is drained it returns io.EOF; after eviction
// ErrSlowReader; after Close ErrClosed; ctx.Err() if ctx ends first.
// The packets are shared with other readers and must not be modified.
func (r *Reader) Read(ctx context.Context, dst []*av.Packet) ([]*av.Packet, error) {
	for {
		dst, ok, err := r.take(dst)
		if ok || err != nil {
			return dst, err
		}
		select {
		case <-r.notify:
		case <-ctx.Done():
			return dst, ctx.Err()
		}
	}
}

// TryRead is Read without blocking, for a consumer that waits on Ready and
// Done in its own select: it appends what is queued (same limit as Read)
// and returns at once. With nothing queued it returns dst unchanged and nil
// while the reader is live, its terminal error once it has ended.
func (r *Reader) TryRead(dst []*av.Packet) ([]*av.Packet, error) {
	dst, _, err := r.take(dst)
	return dst, err
}

// take moves queued packets to dst: ok reports some were queued; err is
// the terminal error when none were.
func (r *Reader) take(dst []*av.Packet) (_ []*av.Packet, ok bool, err error) {
	limit := uint64(0) // 0: no limit
	if c := cap(dst) - len(dst); c > 0 {
		limit = uint64(c)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.tail - r.head
	if n == 0 {
		return dst, false, r.err
	}
	if limit > 0 && n > limit {
		n = limit
	}
	for range n {
		i := r.head & r.mask
		p := r.ring[i]
		dst = append(dst, p)
		r.qbytes -= mediaBytes(p)
		r.ring[i] = nil
		r.head++
	}
	r.stats.Delivered += n
	return dst, true, nil
}

// Close detaches the reader and discards its queue; a blocked Read returns
// ErrClosed, or the cause it had already ended with (io.EOF, ErrSlowReader).
// Idempotent.
func (r *Reader) Close() {
	s := r.s
	s.mu.Lock()
	s.removeReaderLocked(r)
	readers := len(s.readers)
	s.mu.Unlock()
	r.mu.Lock()
	first := !r.closed
	r.closed = true
	// An evicted or ended reader keeps its cause (ErrSlowReader, io.EOF)
	// so the close line of its protocol says why it really ended.
	r.setErrLocked(ErrClosed)
	for i := r.head; i != r.tail; i++ {
		r.ring[i&r.mask] = nil
	}
	r.head = r.tail
	r.qbytes = 0
	r.mu.Unlock()
	r.signal()
	if first {
		s.h.emit(Event{Type: EventReaderLeave, Key: s.key, Reader: r.info, ReaderID: r.id, Readers: readers})
	}
}

// Key returns the stream key.
func (r *Reader) Key() string { return r.s.key }

// Info returns what the reader was created with.
func (r *Reader) Info() ReaderInfo { return r.info }

// Stream returns a snapshot of the stream the reader is attached to.
func (r *Reader) Stream() StreamInfo { return r.s.info() }

// Stats returns the reader's counters.
func (r *Reader) Stats() ReaderStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats
	st.Queued = int(r.tail - r.head)
	return st
}

// ID returns the reader's hub-assigned id, unique for the hub's lifetime
// (the API's client id).
func (r *Reader) ID() uint64 { return r.id }

// AddBytes records n bytes written to the reader's client. Protocols call
// it once per write batch, not per packet: it is three atomic adds.
func (r *Reader) AddBytes(n uint64) {
	r.bytes.Add(n)
	r.out.Add(n)
	r.s.h.bytesOut.Add(n)
}

// snapshot describes r for Hub.Readers; the caller holds r.s.mu.
func (r *Reader) snapshot() ReaderSnapshot {
	r.mu.Lock()
	st := r.stats
	st.Queued = int(r.tail - r.head)
	var lag time.Duration
	if r.tail != r.head {
		oldest, newest := r.ring[r.head&r.mask], r.ring[(r.tail-1)&r.mask]
		lag = time.Duration(newest.DTS-oldest.DTS) * time.Millisecond
	}
	r.mu.Unlock()
	return ReaderSnapshot{
		ID:          r.id,
		Key:         r.s.key,
		Info:        r.info,
		Since:       r.since,
		Bytes:       r.bytes.Load(),
		ReaderStats: st,
		Lag:         lag,
	}
}
