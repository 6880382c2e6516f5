package auth

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ripplemedia/ripple/pkg/internal/guard"
)

// notification is one queued asynchronous hook delivery; everything it
// needs is captured at enqueue time, so a Reload does not change it.
type notification struct {
	action  string
	url     string
	timeout time.Duration
	retries int
	backoff time.Duration
	body    []byte
	stream  string
}

// notifier delivers on_unpublish/on_stop in one background goroutine, in
// order, from a bounded queue. Enqueue never blocks: the stream path (hub
// event callbacks) only pays a channel send; when the queue is full the
// notification is dropped and counted.
type notifier struct {
	log    *slog.Logger
	client *http.Client
	q      chan notification
	panics *guard.Recorder

	ctx     context.Context
	cancel  context.CancelFunc
	stop    chan struct{} // closed by close: drain the queue, then exit
	done    chan struct{}
	closing atomic.Bool

	closeOnce sync.Once
	dropped   atomic.Uint64
	failed    atomic.Uint64
	delivered atomic.Uint64
	lastDrop  atomic.Int64 // unix nanos of the last "queue full" log line
}

func newNotifier(log *slog.Logger, client *http.Client, size int, panics *guard.Recorder) *notifier {
	if size <= 0 {
		size = DefaultQueueSize
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &notifier{
		log: log, client: client, q: make(chan notification, size), panics: panics,
		ctx: ctx, cancel: cancel, stop: make(chan struct{}), done: make(chan struct{}),
	}
	go n.run()
	return n
}

// enqueue queues nt or drops it when the queue is full or closed.
func (n *notifier) enqueue(nt notification) {
	if n.closing.Load() {
		n.dropped.Add(1)
		return
	}
	select {
	case n.q <- nt:
	default:
		n.dropped.Add(1)
		// At most one line per second however many are dropped.
		now := time.Now().UnixNano()
		last := n.lastDrop.Load()
		if now-last > int64(time.Second) && n.lastDrop.CompareAndSwap(last, now) {
			n.log.Warn("hook queue full, notification dropped", "hook", nt.action,
				"stream", nt.stream, "queue", cap(n.q), "dropped", n.dropped.Load())
		}
	}
}

func (n *notifier) run() {
	defer close(n.done)
	for n.ctx.Err() == nil {
		select {
		case <-n.ctx.Done():
			return
		case nt := <-n.q:
			n.safeDeliver(nt)
		case <-n.stop:
			for n.ctx.Err() == nil {
				select {
				case nt := <-n.q:
					n.safeDeliver(nt)
				default:
					return
				}
			}
			return
		}
	}
}

// safeDeliver delivers nt behind the panic guard: a bug in one delivery
// loses that notification, not the worker and the process.
func (n *notifier) safeDeliver(nt notification) {
	n.panics.Do("hook", n.log, func() { n.deliver(nt) })
}

// deliver tries nt once plus nt.retries times, waiting backoff, 2×backoff,
// ... (capped at 30 s) between attempts.
func (n *notifier) deliver(nt notification) {
	wait := nt.backoff
	var err error
	for attempt := 0; attempt <= nt.retries; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(wait)
			select {
			case <-n.ctx.Done():
				t.Stop()
				n.failed.Add(1)
				return
			case <-t.C:
			}
			wait = min(2*wait, 30*time.Second)
		}
		if _, err = post(n.ctx, n.client, nt.url, nt.timeout, nt.body); err == nil {
			n.delivered.Add(1)
			return
		}
		if n.ctx.Err() != nil {
			n.failed.Add(1)
			return
		}
	}
	n.failed.Add(1)
	n.log.Warn("hook notification failed", "hook", nt.action, "stream", nt.stream,
		"attempts", nt.retries+1, "err", err)
}

// close stops accepting notifications and delivers what is queued until
// ctx ends; then it abandons the rest (counted as dropped) and any delivery
// in flight, and returns once the worker is gone: nil when the queue was
// delivered, ctx's cause when it was cut short (or nil on a later call).
func (n *notifier) close(ctx context.Context) (err error) {
	n.closeOnce.Do(func() {
		n.closing.Store(true)
		close(n.stop)
		select {
		case <-n.done:
		case <-ctx.Done():
			select {
			case <-n.done: // delivered just in time
			default:
				err = context.Cause(ctx)
				n.cancel()
				<-n.done
			}
		}
		n.cancel()
		for {
			select {
			case <-n.q:
				n.dropped.Add(1)
			default:
				return
			}
		}
	})
	return err
}
