package hub

import (
	"errors"
	"maps"
	"slices"
	"sync"
	"time"
)

// EventType says what happened in the hub.
type EventType uint8

// Event types.
const (
	// EventPublish: a publisher started a stream, or resumed/took over one
	// (Resumed is true then).
	EventPublish EventType = iota + 1
	// EventUnpublish: the publisher left. The stream may live on inside its
	// reconnect grace; EventStreamEnd follows when it really ends.
	EventUnpublish
	// EventStreamEnd: the stream is gone; its readers drain and get io.EOF.
	EventStreamEnd
	// EventReaderJoin: a reader subscribed.
	EventReaderJoin
	// EventReaderLeave: a reader was closed (Reader.Close).
	EventReaderLeave
)

var eventNames = [...]string{
	EventPublish: "publish", EventUnpublish: "unpublish", EventStreamEnd: "stream_end",
	EventReaderJoin: "reader_join", EventReaderLeave: "reader_leave",
}

func (t EventType) String() string {
	if int(t) < len(eventNames) && eventNames[t] != "" {
		return eventNames[t]
	}
	return "unknown"
}

// Event is one lifecycle change. Events are for control paths (relays,
// segmenters, the API): nothing is emitted per packet.
type Event struct {
	Type      EventType
	Key       string
	Time      time.Time
	Resumed   bool          // EventPublish: the stream existed (reconnect or takeover)
	Publisher PublisherInfo // EventPublish, EventUnpublish
	Reader    ReaderInfo    // EventReaderJoin, EventReaderLeave
	ReaderID  uint64        // EventReaderJoin, EventReaderLeave: Reader.ID
	Readers   int           // readers attached after the change
}

// watchers is the set of event callbacks; copy-on-write so emit takes no
// lock that Watch callers hold.
type watchers struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(Event)
	list []func(Event) // snapshot of fns, replaced on change
}

// Watch registers fn for every hub event and returns a function that
// unregisters it. fn is called synchronously from the goroutine that caused
// the event, with no hub lock held, so it may call the hub; it must not
// block (hand slow work to a goroutine or a queue). Events of different
// goroutines may interleave: a consumer that needs the truth asks the hub
// (Stream, Subscribe) or relies on its Reader's io.EOF.
func (h *Hub) Watch(fn func(Event)) (cancel func()) {
	w := &h.watch
	w.mu.Lock()
	if w.fns == nil {
		w.fns = make(map[int]func(Event))
	}
	id := w.next
	w.next++
	w.fns[id] = fn
	w.rebuildLocked()
	w.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			w.mu.Lock()
			delete(w.fns, id)
			w.rebuildLocked()
			w.mu.Unlock()
		})
	}
}

func (w *watchers) rebuildLocked() {
	list := make([]func(Event), 0, len(w.fns))
	for i := range w.next {
		if fn, ok := w.fns[i]; ok {
			list = append(list, fn)
		}
	}
	w.list = list
}

func (h *Hub) emit(e Event) {
	h.watch.mu.Lock()
	list := h.watch.list
	h.watch.mu.Unlock()
	if len(list) == 0 {
		return
	}
	if e.Time.IsZero() {
		e.Time = h.now()
	}
	for _, fn := range list {
		fn(e)
	}
}

// SetDemand installs the handler Demand calls; nil removes it. An edge
// relay or a cluster node uses it to start an upstream pull on the first
// player. Handlers added with AddDemand are asked first.
func (h *Hub) SetDemand(fn func(key string, info ReaderInfo) error) {
	h.demandMu.Lock()
	h.demand = fn
	h.demandMu.Unlock()
}

// AddDemand adds a demand handler asked before the SetDemand one, for
// sources other than pulls (a transcoder starting a rendition on its first
// viewer); it returns the function that removes it. A handler that has
// nothing for the key returns ErrStreamNotFound and the next one is asked.
func (h *Hub) AddDemand(fn func(key string, info ReaderInfo) error) (remove func()) {
	h.demandMu.Lock()
	h.nextDemand++
	id := h.nextDemand
	if h.demands == nil {
		h.demands = make(map[uint64]func(string, ReaderInfo) error)
	}
	h.demands[id] = fn
	h.demandMu.Unlock()
	return func() {
		h.demandMu.Lock()
		delete(h.demands, id)
		h.demandMu.Unlock()
	}
}

// Demand tells the hub that a reader wants key, which is not live. nil
// means a source for key is being started (an edge or cluster pull, a
// rendition): the caller should WaitStream for a bounded time before
// giving up. ErrStreamNotFound (also without a demand handler) means no
// source will come: the caller fails at once (HTTP 404) or waits on its
// own terms (RTMP play). Any other error says why the source cannot be
// known now (the cluster registry is unreachable): the caller refuses with
// it (HTTP 503).
func (h *Hub) Demand(key string, info ReaderInfo) error {
	if !ValidKey(key) {
		return ErrStreamNotFound
	}
	h.demandMu.Lock()
	fns := make([]func(string, ReaderInfo) error, 0, len(h.demands)+1)
	for _, id := range slices.Sorted(maps.Keys(h.demands)) {
		fns = append(fns, h.demands[id])
	}
	if h.demand != nil {
		fns = append(fns, h.demand)
	}
	h.demandMu.Unlock()
	for _, fn := range fns {
		if err := fn(key, info); !errors.Is(err, ErrStreamNotFound) {
			return err
		}
	}
	return ErrStreamNotFound
}
