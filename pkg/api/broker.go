package api

import (
	"encoding/json"
	"sync"
	"time"
)

// sseEvent is one event of the live event stream, encoded once for every
// subscriber.
type sseEvent struct {
	id   uint64 // 0: not resumable (stats)
	name string
	data []byte // JSON, one line
}

// broker fans events out to the SSE handlers. The ring of recent events is
// the only queue: a subscriber keeps the id of the last event it wrote and
// asks for what follows, so a slow client costs no memory and, if it falls
// further behind than the ring, is told to resync (as is a client resuming
// with a Last-Event-ID older than the ring).
type broker struct {
	mu     sync.Mutex
	ring   []sseEvent
	first  uint64 // id of the first event ever published
	next   uint64 // id of the next event
	stats  sseEvent
	statsN uint64 // stats generation, 0 = none yet
	subs   map[chan struct{}]struct{}
	closed bool

	done chan struct{} // closed by close: handlers return
	wg   sync.WaitGroup

	left chan struct{} // tests: a send per unsubscribe when not nil; guarded by mu
}

// newBroker keeps the last backlog events. Ids start at the boot time in
// microseconds, so ids of an earlier process are older than any of ours: a
// client resuming across a restart gets the whole ring and a resync.
func newBroker(backlog int) *broker {
	start := uint64(time.Now().UnixMicro())
	return &broker{
		ring:  make([]sseEvent, backlog),
		first: start,
		next:  start,
		subs:  make(map[chan struct{}]struct{}),
		done:  make(chan struct{}),
	}
}

// publish appends a resumable event and wakes the subscribers. It never
// blocks (it runs inside hub.Watch callbacks).
func (b *broker) publish(name string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return // our own types always marshal
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	ev := sseEvent{id: b.next, name: name, data: data}
	b.ring[b.next%uint64(len(b.ring))] = ev
	b.next++
	b.wakeLocked()
	b.mu.Unlock()
}

// setStats replaces the current stats event; subscribers write the latest
// one only (stats are not resumable: they are superseded every interval).
func (b *broker) setStats(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	b.mu.Lock()
	b.stats = sseEvent{name: "stats", data: data}
	b.statsN++
	b.wakeLocked()
	b.mu.Unlock()
}

func (b *broker) wakeLocked() {
	for ch := range b.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// lastID is the id of the newest event, or first-1 when none yet.
func (b *broker) lastID() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.next - 1
}

// since appends to dst the events after id. lost reports that events after
// id are no longer in the ring (the caller resyncs). stats is the current
// stats event if its generation is newer than statsN.
func (b *broker) since(id uint64, statsN uint64, dst []sseEvent) (out []sseEvent, lost bool, stats sseEvent, newStatsN uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	oldest := b.first
	if n := uint64(len(b.ring)); b.next-b.first > n {
		oldest = b.next - n
	}
	from := id + 1
	if id >= b.next { // from the future: nothing we know of follows it
		from = b.next
	}
	if from < oldest {
		lost = id+1 != b.first // a fresh process has lost nothing since its first event
		from = oldest
	}
	for i := from; i < b.next; i++ {
		dst = append(dst, b.ring[i%uint64(len(b.ring))])
	}
	if b.statsN > statsN {
		stats = b.stats
	}
	return dst, lost, stats, b.statsN
}

// subscribe registers a handler; ok is false after close.
func (b *broker) subscribe() (chan struct{}, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, false
	}
	ch := make(chan struct{}, 1)
	b.subs[ch] = struct{}{}
	b.wg.Add(1)
	return ch, true
}

func (b *broker) unsubscribe(ch chan struct{}) {
	b.mu.Lock()
	delete(b.subs, ch)
	left := b.left
	b.mu.Unlock()
	if left != nil {
		left <- struct{}{}
	}
	b.wg.Done()
}

// close ends every subscriber and waits for their handlers to return
// (each is bounded by its write deadline). Idempotent.
func (b *broker) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.done)
	}
	b.mu.Unlock()
	b.wg.Wait()
}
