package relay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/logtest"
	"github.com/ripplemedia/ripple/pkg/internal/tlsx/tlstest"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// Stream keys used as secrets: none may appear in logs or Status.
const (
	secretKey   = "sk-live-7f3a9c2e"
	secretToken = "tok-1b2c3d4e5f"
)

func TestAddRemoveTarget(t *testing.T) {
	origin := newNode(t, hub.Config{})
	dest := newNode(t, hub.Config{})
	m := newManager(t, origin.hub, Config{})

	_, err := m.AddTarget("live/cam", dest.rtmpURL("restream")+"/"+secretKey, SourceAPI)
	require.ErrorIs(t, err, ErrNotLive)

	feed(t, origin.hub, "live/cam")
	arrived := waitEvent(t, dest.hub, func(e hub.Event) bool { return e.Type == hub.EventPublish })
	ended := waitEvent(t, dest.hub, func(e hub.Event) bool { return e.Type == hub.EventStreamEnd })
	st, err := m.AddTarget("live/cam", dest.rtmpURL("restream")+"/"+secretKey+"?token="+secretToken, SourceAPI)
	require.NoError(t, err)
	require.Equal(t, SourceAPI, st.Source)
	require.Equal(t, KindForward, st.Kind)
	require.Equal(t, "rtmp://"+dest.addr+"/restream/****", st.Target)

	e := arrived("publish on the destination")
	require.Equal(t, "restream/"+secretKey, e.Key)
	require.Contains(t, e.Publisher.Query, "token="+secretToken)
	r := subscribe(t, dest.hub, e.Key, hub.ReaderInfo{Protocol: "test"})
	readN(t, r, 50)

	ts := m.Targets("live/cam")
	require.Len(t, ts, 1)
	require.Equal(t, st.ID, ts[0].ID)
	eventually(t, "a bit rate once live for a second", func() bool {
		ts := m.Targets("live/cam")
		return len(ts) == 1 && ts[0].State == StateLive && ts[0].Bitrate > 0
	})

	require.NoError(t, m.RemoveTarget("live/cam", st.ID))
	require.Equal(t, e.Key, ended("stream end on the destination").Key)
	require.NoError(t, drainEOF(r))
	require.Empty(t, m.Targets("live/cam"))
	require.ErrorIs(t, m.RemoveTarget("live/cam", st.ID), ErrNoTarget)
	require.ErrorIs(t, m.RemoveTarget("live/none", 1), ErrNoTarget)
	eventually(t, "removed relay gone", func() bool { return len(m.Relays()) == 0 })
}

func TestAddTargetInvalid(t *testing.T) {
	origin := newNode(t, hub.Config{})
	m := newManager(t, origin.hub, Config{})
	feed(t, origin.hub, "live/cam")
	for _, raw := range []string{
		"ftp://h/live/" + secretKey,
		"http://h/live/" + secretKey,
		"rtmp://h",
		"rtmp://h/",
		"rtmp:///live/" + secretKey,
		"h/live/" + secretKey,
		"rtmp://h/live/" + secretKey + "\r\nX: y",
		"rtmp://h/live/" + secretKey + "\x00",
		"rtmp://h/live/" + strings.Repeat("k", MaxTargetURL),
		"rtmp://h/{name}/" + secretKey,
		"",
	} {
		_, err := m.AddTarget("live/cam", raw, SourceAPI)
		require.ErrorIs(t, err, ErrInvalidTarget, "%q", raw)
		require.NotContains(t, err.Error(), secretKey, "the error shows the URL redacted")
	}
	require.Empty(t, m.Relays())
}

// A stream that already crossed MaxHops relays gets no API target either:
// a loop through the API (A → B → A) stops like one through forwards.
func TestAddTargetHops(t *testing.T) {
	origin := newNode(t, hub.Config{})
	m := newManager(t, origin.hub, Config{})
	pub, err := origin.hub.Publish("live/loop", hub.PublisherInfo{Protocol: "test", Query: fmt.Sprintf("%s=%d", hopsParam, MaxHops)})
	require.NoError(t, err)
	defer pub.Close()
	_, err = m.AddTarget("live/loop", "rtmp://h/live/x", SourceAPI)
	require.ErrorIs(t, err, ErrInvalidTarget)
	require.ErrorContains(t, err, "crossed")
}

func TestMaxTargets(t *testing.T) {
	origin := newNode(t, hub.Config{})
	dest := newNode(t, hub.Config{})
	m := newManager(t, origin.hub, Config{MaxTargets: 2, Apps: map[string]AppConfig{
		"live": {Forward: []string{dest.rtmpURL("cfg") + "/{stream}"}},
	}})
	feed(t, origin.hub, "live/cam")
	eventually(t, "configured forward running", func() bool { return len(m.Targets("live/cam")) == 1 })
	st, err := m.AddTarget("live/cam", dest.rtmpURL("api")+"/one", SourceAPI)
	require.NoError(t, err)
	_, err = m.AddTarget("live/cam", dest.rtmpURL("api")+"/two", SourceAPI)
	require.ErrorIs(t, err, ErrTooManyTargets)
	ts := m.Targets("live/cam")
	require.Len(t, ts, 2)
	require.Equal(t, SourceConfig, ts[0].Source)
	require.Equal(t, SourceAPI, ts[1].Source)
	// Removing one makes room.
	require.NoError(t, m.RemoveTarget("live/cam", st.ID))
	_, err = m.AddTarget("live/cam", dest.rtmpURL("api")+"/two", SourceAPI)
	require.NoError(t, err)
}

// TestStreamTargetsOnPublish: the hook's targets start with the stream
// instance, invalid ones are skipped with a redacted log line, and no log
// line of the run carries a stream key or token.
func TestStreamTargetsOnPublish(t *testing.T) {
	origin := newNode(t, hub.Config{})
	dest := newNode(t, hub.Config{})
	down := deadAddr(t)
	var logs syncBuffer
	var calls []string
	var mu sync.Mutex
	m, err := New(Config{
		Logger:     slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Timeout:    2 * time.Second,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		StreamTargets: func(key string, pub hub.PublisherInfo) []string {
			mu.Lock()
			calls = append(calls, key+" "+pub.Protocol)
			mu.Unlock()
			return []string{
				dest.rtmpURL("yt") + "/" + secretKey + "?token=" + secretToken,
				"rtmp://" + down + "/dead/" + secretKey + "?token=" + secretToken,
				"ftp://bad/app/" + secretKey,
			}
		},
	}, origin.hub)
	require.NoError(t, err)
	m.Start()
	t.Cleanup(func() { _ = m.Close() })

	arrived := waitEvent(t, dest.hub, func(e hub.Event) bool { return e.Type == hub.EventPublish })
	f := feed(t, origin.hub, "live/cam")
	e := arrived("hook target publishing")
	require.Equal(t, "yt/"+secretKey, e.Key)
	r := subscribe(t, dest.hub, e.Key, hub.ReaderInfo{Protocol: "test"})
	readN(t, r, 30)

	ts := m.Targets("live/cam")
	require.Len(t, ts, 2, "the invalid one was skipped")
	for _, s := range ts {
		require.Equal(t, SourceHook, s.Source)
	}
	eventually(t, "dead hook target in backoff", func() bool {
		for _, s := range m.Targets("live/cam") {
			if strings.Contains(s.Target, down) {
				return s.State == StateBackoff && s.LastError != ""
			}
		}
		return false
	})
	// The stream instance ends: its targets end with it.
	require.NoError(t, f.stop())
	require.NoError(t, drainEOF(r))
	require.NoError(t, m.Close())
	mu.Lock()
	require.Equal(t, []string{"live/cam test"}, calls, "called once per instance")
	mu.Unlock()

	out := logs.String()
	require.Contains(t, out, "stream target skipped")
	require.Contains(t, out, "rtmp://"+dest.addr+"/yt/****")
	require.Contains(t, out, "state=backoff")
	require.NotContains(t, out, secretKey)
	require.NotContains(t, out, secretToken)
}

// TestTargetDownSparesOthers: a target on a closed port backs off while
// another target and a local reader get every packet: no reader of the
// stream drops one.
func TestTargetDownSparesOthers(t *testing.T) {
	origin := newNode(t, hub.Config{})
	dest := newNode(t, hub.Config{})
	m := newManager(t, origin.hub, Config{})
	feed(t, origin.hub, "live/cam")
	local := subscribe(t, origin.hub, "live/cam", hub.ReaderInfo{Protocol: "test"})

	arrived := waitEvent(t, dest.hub, func(e hub.Event) bool { return e.Type == hub.EventPublish })
	dead, err := m.AddTarget("live/cam", "rtmp://"+deadAddr(t)+"/live/"+secretKey, SourceAPI)
	require.NoError(t, err)
	_, err = m.AddTarget("live/cam", dest.rtmpURL("live")+"/copy", SourceAPI)
	require.NoError(t, err)
	r := subscribe(t, dest.hub, arrived("live target").Key, hub.ReaderInfo{Protocol: "test"})

	got := readN(t, r, 300)
	readN(t, local, 300)
	eventually(t, "dead target in backoff", func() bool {
		for _, s := range m.Targets("live/cam") {
			if s.ID == dead.ID {
				return s.State == StateBackoff && s.Reconnects > 0
			}
		}
		return false
	})
	// Every frame in order: the destination saw consecutive video DTS
	// steps of one frame (25 fps, 40 ms) after the first keyframe.
	var last int64 = -1
	frames := 0
	for _, p := range got {
		if !p.IsMedia() || p.Header || p.Kind != av.KindVideo {
			continue
		}
		if last >= 0 {
			require.Equal(t, int64(40), p.DTS-last, "video frame missing at %d", p.DTS)
		}
		last = p.DTS
		frames++
	}
	require.Greater(t, frames, 100)
	si, ok := origin.hub.Stream("live/cam")
	require.True(t, ok)
	require.Zero(t, si.Dropped, "no reader of the stream dropped a packet")
	require.Zero(t, si.Evicted)
}

func TestTargetRTMPS(t *testing.T) {
	origin := newNode(t, hub.Config{})
	dest, pool := newTLSNode(t)
	feed(t, origin.hub, "live/cam")
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"insecure", Config{InsecureSkipVerify: true}},
		{"CA pool", Config{TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t, origin.hub, tc.cfg)
			key := "tls/" + strings.ReplaceAll(tc.name, " ", "")
			arrived := waitEvent(t, dest.hub, func(e hub.Event) bool { return e.Type == hub.EventPublish && e.Key == key })
			st, err := m.AddTarget("live/cam", "rtmps://"+dest.addr+"/"+key, SourceAPI)
			require.NoError(t, err)
			require.Equal(t, "rtmps://"+dest.addr+"/tls/****", st.Target)
			arrived("publish over rtmps")
			readN(t, subscribe(t, dest.hub, key, hub.ReaderInfo{Protocol: "test"}), 50)
			require.NoError(t, m.Close())
		})
	}
	t.Run("untrusted certificate refused", func(t *testing.T) {
		m := newManager(t, origin.hub, Config{})
		st, err := m.AddTarget("live/cam", "rtmps://"+dest.addr+"/tls/untrusted", SourceAPI)
		require.NoError(t, err)
		eventually(t, "backoff with a certificate error", func() bool {
			for _, s := range m.Targets("live/cam") {
				if s.ID == st.ID {
					return s.State == StateBackoff && strings.Contains(s.LastError, "certificate")
				}
			}
			return false
		})
		_, ok := dest.hub.Stream("tls/untrusted")
		require.False(t, ok)
	})
}

// newTLSNode is a node whose RTMP server listens behind TLS with a
// certificate for 127.0.0.1 from a CA made here; it returns the CA pool.
func newTLSNode(t *testing.T) (*node, *x509.CertPool) {
	t.Helper()
	ca := tlstest.NewCA(t)
	cert, pool := ca.Leaf(t, "127.0.0.1").TLS(t), ca.Pool()
	n := &node{hub: hub.New(hub.Config{Logger: testLogger()}), done: make(chan error, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	n.addr = ln.Addr().String()
	n.rtmp = rtmp.NewServer(rtmp.ServerConfig{Logger: testLogger()}, n.hub)
	tl := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	go func() { n.done <- n.rtmp.Serve(tl) }()
	t.Cleanup(func() {
		n.rtmp.Close()
		<-n.done //nolint:errcheck // Serve's end after Close
		n.hub.Close()
	})
	return n, pool
}

// syncBuffer collects output written from several goroutines.
type syncBuffer = logtest.Buffer

// panicOnLive is a log handler that panics, once, on the first "relay
// state" line saying a relay went live: a panic inside a pusher, which its
// guard recovers.
type panicOnLive struct {
	slog.Handler
	done *atomic.Bool
}

func (panicOnLive) Enabled(context.Context, slog.Level) bool { return true }

func (h panicOnLive) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "relay state" {
		live := false
		r.Attrs(func(a slog.Attr) bool {
			live = live || a.Key == "state" && a.Value.String() == string(StateLive)
			return true
		})
		if live && h.done.CompareAndSwap(false, true) {
			panic("relay test: a panic inside a pusher")
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h panicOnLive) WithAttrs(as []slog.Attr) slog.Handler {
	return panicOnLive{Handler: h.Handler.WithAttrs(as), done: h.done}
}

func (h panicOnLive) WithGroup(name string) slog.Handler {
	return panicOnLive{Handler: h.Handler.WithGroup(name), done: h.done}
}

// A pusher ended by a recovered panic is neither listed nor counted
// against MaxTargets: its cleanup is deferred.
func TestTargetPanicCleansUp(t *testing.T) {
	origin := newNode(t, hub.Config{})
	dest := newNode(t, hub.Config{})
	var panicked atomic.Bool
	panics := &guard.Recorder{}
	m, err := New(Config{Logger: slog.New(panicOnLive{Handler: slog.DiscardHandler, done: &panicked}),
		Timeout: 2 * time.Second, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		MaxTargets: 1, Panics: panics}, origin.hub)
	require.NoError(t, err)
	m.Start()
	t.Cleanup(func() { _ = m.Close() })
	feed(t, origin.hub, "live/cam")
	_, err = m.AddTarget("live/cam", dest.rtmpURL("restream")+"/a", SourceAPI)
	require.NoError(t, err)
	eventually(t, "the panic recovered and the pusher gone", func() bool {
		return panicked.Load() && len(m.Targets("live/cam")) == 0 && len(m.Relays()) == 0
	})
	require.NotEmpty(t, panics.Counts(), "the guard counted it")
	_, err = m.AddTarget("live/cam", dest.rtmpURL("restream")+"/b", SourceAPI)
	require.NoError(t, err, "its slot is free again")
}
