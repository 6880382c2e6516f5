package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func recvBody(t *testing.T, ch <-chan hookBody) hookBody {
	t.Helper()
	select {
	case b := <-ch:
		return b
	case <-time.After(5 * time.Second):
		t.Fatal("no hook call within 5s")
		return hookBody{}
	}
}

// TestAsyncHookRetried: the hook fails twice (500, then no answer in time),
// then succeeds; the notification is delivered on the third attempt.
func TestAsyncHookRetried(t *testing.T) {
	var attempts atomic.Int32
	got := make(chan hookBody, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b hookBody
		_ = json.NewDecoder(r.Body).Decode(&b) // a bad body shows up as a zero hookBody below
		got <- b
		switch attempts.Add(1) {
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
		case 2:
			<-r.Context().Done() // past the timeout
		}
	}))
	defer srv.Close()
	c := newChecker(t, Rules{
		OnUnpublish:  AsyncHook{URL: srv.URL, Timeout: 100 * time.Millisecond},
		Retries:      3,
		RetryBackoff: 10 * time.Millisecond,
	}, time.Now())

	// The session's client id and query come from the admitted publish.
	pub := Request{App: "live", Stream: "cam", Query: "token=abc", ClientID: "7", RemoteIP: "192.0.2.9:1000", Protocol: "rtmp"}
	require.NoError(t, c.CheckPublish(context.Background(), pub))
	c.NotifyUnpublish(Request{App: "live", Stream: "cam", RemoteIP: "192.0.2.9:1000", Protocol: "rtmp"})

	want := hookBody{Action: ActionUnpublish, App: "live", Stream: "cam", ClientID: "7", IP: "192.0.2.9",
		Query: "token=abc", Protocol: "rtmp"}
	for range 3 {
		require.Equal(t, want, recvBody(t, got))
	}
	require.Eventually(t, func() bool { return c.Stats().Delivered == 1 }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, int32(3), attempts.Load())
	require.Zero(t, c.Stats().Failed)
}

func TestAsyncHookGivesUp(t *testing.T) {
	var attempts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		attempts.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	c := newChecker(t, Rules{OnStop: AsyncHook{URL: srv.URL}, Retries: 2, RetryBackoff: time.Millisecond}, time.Now())
	c.NotifyStop(Request{App: "live", Stream: "cam", RemoteIP: "192.0.2.9:1000", Protocol: "http-flv"})
	require.Eventually(t, func() bool { return c.Stats().Failed == 1 }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, int32(3), attempts.Load(), "one attempt plus two retries")
}

// TestAsyncHookNeverBlocks: with the hook stuck and the queue full, Notify
// returns at once and counts the drop; Shutdown then abandons the backlog when
// its context ends.
func TestAsyncHookNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, err := New(Config{QueueSize: 2, Rules: Rules{OnStop: AsyncHook{URL: srv.URL, Timeout: time.Minute}}})
	require.NoError(t, err)
	req := Request{App: "live", Stream: "cam", RemoteIP: "192.0.2.9:1000", Protocol: "rtmp"}
	c.NotifyStop(req)
	<-entered // the worker is stuck in the first delivery
	start := time.Now()
	for range 10 {
		c.NotifyStop(req)
	}
	require.Less(t, time.Since(start), time.Second)
	st := c.Stats()
	require.Equal(t, 2, st.Queued)
	require.Equal(t, uint64(8), st.Dropped)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, c.Shutdown(ctx), context.DeadlineExceeded)
	require.Equal(t, uint64(10), c.Stats().Dropped)
	c.NotifyStop(req) // after Shutdown: dropped, no panic
	require.Equal(t, uint64(11), c.Stats().Dropped)
}

// TestAsyncHookFlushOnShutdown: Shutdown delivers what is queued.
func TestAsyncHookFlushOnShutdown(t *testing.T) {
	got := make(chan hookBody, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var b hookBody
		_ = json.NewDecoder(r.Body).Decode(&b)
		got <- b
	}))
	defer srv.Close()
	c, err := New(Config{Rules: Rules{OnUnpublish: AsyncHook{URL: srv.URL}, OnStop: AsyncHook{URL: srv.URL}}})
	require.NoError(t, err)
	c.NotifyUnpublish(Request{App: "live", Stream: "a"})
	c.NotifyStop(Request{App: "live", Stream: "b"})
	require.NoError(t, c.Shutdown(context.Background()))
	require.Equal(t, uint64(2), c.Stats().Delivered)
	require.Equal(t, "a", recvBody(t, got).Stream)
	require.Equal(t, ActionStop, recvBody(t, got).Action)
}

func TestNoAsyncHookNoTracking(t *testing.T) {
	c := newChecker(t, Rules{}, time.Now())
	require.NoError(t, c.CheckPlay(context.Background(), Request{App: "live", Stream: "x", RemoteIP: "1.2.3.4:5"}))
	c.sess.mu.Lock()
	n := len(c.sess.m)
	c.sess.mu.Unlock()
	require.Zero(t, n)
	c.NotifyStop(Request{App: "live", Stream: "x"}) // no hook: nothing queued
	require.Zero(t, c.Stats().Queued)
}

// TestRecordDoneHook: a finished recording is posted with its file, retried
// like the other notifications.
func TestRecordDoneHook(t *testing.T) {
	var attempts atomic.Int32
	got := make(chan recordDoneBody, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b recordDoneBody
		_ = json.NewDecoder(r.Body).Decode(&b) // a bad body shows up as a zero value below
		got <- b
		if attempts.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	c := newChecker(t, Rules{ServerID: "rec-1", OnRecordDone: AsyncHook{URL: srv.URL}, Retries: 2,
		RetryBackoff: time.Millisecond}, time.Now())
	start := time.Date(2026, 12, 7, 15, 30, 0, 0, time.UTC)
	c.NotifyRecordDone(RecordDone{App: "live", Stream: "cam", File: "/srv/rec/live/cam/20261207T153000Z.mp4",
		URL: "/recordings/live/cam/20261207T153000Z.mp4", Format: "fmp4", Start: start,
		Duration: 20500 * time.Millisecond, Size: 4096})
	want := recordDoneBody{Action: ActionRecordDone, App: "live", Stream: "cam", ServerID: "rec-1",
		File: "/srv/rec/live/cam/20261207T153000Z.mp4", URL: "/recordings/live/cam/20261207T153000Z.mp4",
		Format: "fmp4", Start: start, DurationSeconds: 20.5, SizeBytes: 4096}
	for range 2 {
		select {
		case b := <-got:
			require.Equal(t, want, b)
		case <-time.After(5 * time.Second):
			t.Fatal("no on_record_done call")
		}
	}
	require.Eventually(t, func() bool { return c.Stats().Delivered == 1 }, 5*time.Second, 5*time.Millisecond)

	// Without a URL nothing is queued.
	c2 := newChecker(t, Rules{}, time.Now())
	c2.NotifyRecordDone(RecordDone{App: "live", Stream: "cam"})
	require.Zero(t, c2.Stats().Queued)
}
