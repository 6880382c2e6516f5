package hub

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// recorder collects events; Watch callbacks run on the caller's goroutine.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (rc *recorder) add(e Event) {
	rc.mu.Lock()
	rc.events = append(rc.events, e)
	rc.mu.Unlock()
}

func (rc *recorder) types() []EventType {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]EventType, len(rc.events))
	for i, e := range rc.events {
		out[i] = e.Type
	}
	return out
}

func TestEventsLifecycle(t *testing.T) {
	h, _, timers := testHub(t, Config{ReconnectGrace: 5e9})
	var rc recorder
	cancel := h.Watch(rc.add)

	p := publish(t, h, "live/cam")
	r := subscribe(t, h, "live/cam")
	p.Close()                       // grace starts
	p2 := publish(t, h, "live/cam") // resumes
	r.Close()
	r.Close() // idempotent: one leave event
	p2.Close()
	require.Equal(t, 1, timers.fireAll(), "grace expires")

	require.Equal(t, []EventType{
		EventPublish, EventReaderJoin, EventUnpublish, EventPublish,
		EventReaderLeave, EventUnpublish, EventStreamEnd,
	}, rc.types())
	rc.mu.Lock()
	require.False(t, rc.events[0].Resumed)
	require.True(t, rc.events[3].Resumed)
	require.Equal(t, 1, rc.events[1].Readers)
	require.Equal(t, 0, rc.events[4].Readers)
	require.Equal(t, "live/cam", rc.events[6].Key)
	rc.mu.Unlock()

	cancel()
	cancel() // idempotent
	publish(t, h, "live/other")
	require.Len(t, rc.types(), 7, "no events after cancel")
}

func TestEventsNoGraceAndHubClose(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	var rc recorder
	h.Watch(rc.add)
	p := publish(t, h, "live/a")
	p.Close()
	publish(t, h, "live/b")
	h.Close()
	require.Equal(t, []EventType{EventPublish, EventUnpublish, EventStreamEnd, EventPublish, EventStreamEnd}, rc.types())
}

func TestWatchCallbackMayCallHub(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	got := make(chan StreamInfo, 1)
	h.Watch(func(e Event) {
		if e.Type == EventPublish {
			info, ok := h.Stream(e.Key) // no hub lock is held during callbacks
			if ok {
				got <- info
			}
		}
	})
	publish(t, h, "live/cam")
	info := <-got
	require.Equal(t, "live/cam", info.Key)
	require.True(t, info.Publishing)
}

func TestReaderDone(t *testing.T) {
	t.Run("stream end", func(t *testing.T) {
		h, _, _ := testHub(t, Config{})
		p := publish(t, h, "live/cam")
		r := subscribe(t, h, "live/cam")
		select {
		case <-r.Done():
			t.Fatal("done before the end")
		default:
		}
		require.NoError(t, r.Err())
		p.Close()
		<-r.Done()
		require.ErrorIs(t, r.Err(), io.EOF)
	})
	t.Run("eviction", func(t *testing.T) {
		h, _, _ := testHub(t, Config{QueueSize: 8, MaxOverflows: 1})
		p := publish(t, h, "live/cam")
		r := subscribe(t, h, "live/cam")
		g := mediatest.New(mediatest.Config{GOP: 4})
		write(t, p, g.Headers()...)
		write(t, p, g.Packets(64)...)
		<-r.Done()
		require.ErrorIs(t, r.Err(), ErrSlowReader)
	})
	t.Run("close", func(t *testing.T) {
		h, _, _ := testHub(t, Config{})
		publish(t, h, "live/cam")
		r := subscribe(t, h, "live/cam")
		r.Close()
		<-r.Done()
		require.ErrorIs(t, r.Err(), ErrClosed)
	})
}

func TestDemand(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	require.ErrorIs(t, h.Demand("live/cam", ReaderInfo{}), ErrStreamNotFound, "no handler: fail at once")

	var asked []string
	down := errors.New("registry down")
	h.SetDemand(func(key string, info ReaderInfo) error {
		asked = append(asked, key+" "+info.Protocol)
		switch key {
		case "edge/cam":
			return nil
		case "remote/cam":
			return down
		}
		return ErrStreamNotFound
	})
	require.NoError(t, h.Demand("edge/cam", ReaderInfo{Protocol: "http-flv"}))
	require.ErrorIs(t, h.Demand("live/cam", ReaderInfo{Protocol: "rtmp"}), ErrStreamNotFound)
	require.ErrorIs(t, h.Demand("remote/cam", ReaderInfo{Protocol: "hls"}), down, "the handler's reason reaches the caller")
	require.ErrorIs(t, h.Demand("../x", ReaderInfo{}), ErrStreamNotFound, "invalid keys never reach the handler")
	require.Equal(t, []string{"edge/cam http-flv", "live/cam rtmp", "remote/cam hls"}, asked)

	h.SetDemand(nil)
	require.ErrorIs(t, h.Demand("edge/cam", ReaderInfo{}), ErrStreamNotFound)
}

// Closing an evicted reader must not rewrite why it ended: the protocol's
// close line reports eviction, not a plain close.
func TestCloseKeepsEvictionCause(t *testing.T) {
	h, _, _ := testHub(t, Config{QueueSize: 8, MaxOverflows: 1})
	p := publish(t, h, "live/cam")
	r := subscribe(t, h, "live/cam")
	g := mediatest.New(mediatest.Config{GOP: 4})
	write(t, p, g.Headers()...)
	write(t, p, g.Packets(64)...)
	<-r.Done()
	r.Close()
	require.ErrorIs(t, r.Err(), ErrSlowReader)
	_, err := r.Read(context.Background(), nil)
	require.ErrorIs(t, err, ErrSlowReader)
}

func TestAddDemandAskedFirst(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	var asked []string
	h.SetDemand(func(key string, _ ReaderInfo) error {
		asked = append(asked, "pull "+key)
		return nil
	})
	remove := h.AddDemand(func(key string, _ ReaderInfo) error {
		asked = append(asked, "rendition "+key)
		if key == "live/cam_720p" {
			return nil
		}
		return ErrStreamNotFound
	})
	require.NoError(t, h.Demand("live/cam_720p", ReaderInfo{}))
	require.NoError(t, h.Demand("live/other", ReaderInfo{}), "not the added handler's: the pull's")
	remove()
	require.NoError(t, h.Demand("live/cam_720p", ReaderInfo{}))
	require.Equal(t, []string{"rendition live/cam_720p", "rendition live/other", "pull live/other", "pull live/cam_720p"}, asked)
}
