package hub

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
)

const waitTimeout = 5 * time.Second

// fakeClock is a settable Hub.now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeTimers replaces time.AfterFunc: timers fire only when the test says.
type fakeTimers struct {
	mu     sync.Mutex
	timers []*fakeTimer
	// flush holds the streams' flush timers (flush.go), apart from the
	// grace timers the other tests count.
	flush *fakeTimers
}

type fakeTimer struct {
	ft      *fakeTimers
	d       time.Duration
	f       func()
	stopped bool
	fired   bool
}

func (ft *fakeTimers) afterFunc(d time.Duration, f func()) stopper {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	t := &fakeTimer{ft: ft, d: d, f: f}
	ft.timers = append(ft.timers, t)
	return t
}

// Reset re-arms t (as time.Timer.Reset) for the flush timer.
func (t *fakeTimer) Reset(d time.Duration) bool {
	t.ft.mu.Lock()
	defer t.ft.mu.Unlock()
	active := !t.stopped && !t.fired
	t.d, t.stopped, t.fired = d, false, false
	return active
}

func (ft *fakeTimers) newTimer(d time.Duration, f func()) resetter {
	return ft.afterFunc(d, f).(*fakeTimer)
}

func (t *fakeTimer) Stop() bool {
	t.ft.mu.Lock()
	defer t.ft.mu.Unlock()
	if t.stopped || t.fired {
		return false
	}
	t.stopped = true
	return true
}

// pending returns the durations of the armed timers.
func (ft *fakeTimers) pending() []time.Duration {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	var out []time.Duration
	for _, t := range ft.timers {
		if !t.stopped && !t.fired {
			out = append(out, t.d)
		}
	}
	return out
}

// fireAll runs every armed timer's function in the calling goroutine.
func (ft *fakeTimers) fireAll() int {
	ft.mu.Lock()
	var run []func()
	for _, t := range ft.timers {
		if !t.stopped && !t.fired {
			t.fired = true
			run = append(run, t.f)
		}
	}
	ft.mu.Unlock()
	for _, f := range run {
		f()
	}
	return len(run)
}

// testHub returns a hub with a fake clock and fake timers, closed at cleanup.
func testHub(t *testing.T, cfg Config) (*Hub, *fakeClock, *fakeTimers) {
	t.Helper()
	h := New(cfg)
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	ft := &fakeTimers{flush: &fakeTimers{}}
	h.now = clk.now
	h.afterFunc = ft.afterFunc
	h.newTimer = ft.flush.newTimer
	t.Cleanup(h.Close)
	return h, clk, ft
}

func publish(t *testing.T, h *Hub, key string) *Publisher {
	t.Helper()
	p, err := h.Publish(key, PublisherInfo{Protocol: "test", RemoteAddr: "pub"})
	require.NoError(t, err)
	return p
}

func subscribe(t *testing.T, h *Hub, key string) *Reader {
	t.Helper()
	r, err := h.Subscribe(key, ReaderInfo{Protocol: "test", RemoteAddr: "reader"})
	require.NoError(t, err)
	t.Cleanup(r.Close)
	return r
}

func write(t *testing.T, p *Publisher, pkts ...*av.Packet) {
	t.Helper()
	for _, pkt := range pkts {
		require.NoError(t, p.WritePacket(pkt))
	}
}

// readN reads exactly n packets (Read with a capacity limit), failing after
// waitTimeout.
func readN(t *testing.T, r *Reader, n int) []*av.Packet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	out := make([]*av.Packet, 0, n)
	for len(out) < n {
		var err error
		out, err = r.Read(ctx, out)
		require.NoError(t, err, "after %d of %d packets", len(out), n)
	}
	return out
}

// readToEnd reads until Read fails and returns the packets and the error.
func readToEnd(t *testing.T, r *Reader) ([]*av.Packet, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var out []*av.Packet
	for {
		var err error
		out, err = r.Read(ctx, out)
		if err != nil {
			require.NotErrorIs(t, err, context.DeadlineExceeded, "reader never ended")
			return out, err
		}
	}
}

// queued returns what Read would return now without blocking.
func queued(t *testing.T, r *Reader) []*av.Packet {
	t.Helper()
	if r.Stats().Queued == 0 {
		return nil
	}
	out, err := r.Read(context.Background(), nil)
	require.NoError(t, err)
	return out
}
