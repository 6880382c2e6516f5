package relay

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestForwardOneDestinationDown: a stream published on the origin reaches the
// live destination (headers first), while the other destination is down and
// backs off; local players are unaffected.
func TestForwardOneDestinationDown(t *testing.T) {
	origin := newNode(t, hub.Config{})
	dest := newNode(t, hub.Config{})
	down := deadAddr(t)
	m := newManager(t, origin.hub, Config{Apps: map[string]AppConfig{
		"live": {Forward: []string{
			"rtmp://" + down + "/{app}",
			dest.rtmpURL("backup") + "/{stream}_copy",
		}},
	}})

	arrived := waitEvent(t, dest.hub, func(e hub.Event) bool { return e.Type == hub.EventPublish })
	backoff := make(chan struct{})
	feed(t, origin.hub, "live/cam")
	local := subscribe(t, origin.hub, "live/cam", hub.ReaderInfo{Protocol: "test"})

	e := arrived("publish on the destination")
	require.Equal(t, "backup/cam_copy", e.Key)
	require.Contains(t, e.Publisher.Query, "ripple_hops=1", "the hop count travels with the push")
	r := subscribe(t, dest.hub, "backup/cam_copy", hub.ReaderInfo{Protocol: "test"})
	got := readN(t, r, 50)
	require.Equal(t, av.KindData, got[0].Kind, "metadata first")
	var media []*av.Packet
	for _, p := range got {
		if p.Kind != av.KindData {
			media = append(media, p)
		}
	}
	require.True(t, media[0].Header && media[1].Header, "then the sequence headers")
	readN(t, local, 200)

	eventually(t, "dead destination in backoff with an error", func() bool {
		s, ok := relayOf(m, KindForward, "live/cam")
		for _, s2 := range m.Relays() {
			if s2.Target == "rtmp://"+down+"/live/****" {
				s, ok = s2, true
			}
		}
		if ok && s.State == StateBackoff && s.LastError != "" && s.Reconnects > 0 {
			close(backoff)
			return true
		}
		return false
	})
	<-backoff
	var live Status
	for _, s := range m.Relays() {
		if s.Target == "rtmp://"+dest.addr+"/backup/****" {
			live = s
		}
	}
	require.Equal(t, StateLive, live.State)
	require.Positive(t, live.Bytes)
	require.Zero(t, origin.hub.Streams()[0].Evicted, "the down destination must not cost the stream")
	// The forward's bytes reach the hub's accounting (API clients and
	// per-protocol BytesOut), not only the relay status.
	eventually(t, "relay reader bytes reported to the hub", func() bool {
		for _, rs := range origin.hub.Readers() {
			if rs.Key == "live/cam" && rs.Info.Protocol == "relay" && rs.Bytes > 0 {
				return true
			}
		}
		return false
	})
	si, ok := origin.hub.Stream("live/cam")
	require.True(t, ok)
	var relayOut uint64
	for _, ps := range si.Protocols {
		if ps.Protocol == "relay" {
			relayOut = ps.BytesOut
		}
	}
	require.Positive(t, relayOut, "per-protocol BytesOut of forwards")
}

// TestForwardStopsWithStream: when the publisher leaves (no grace), every
// forward stops and the destination's stream ends.
func TestForwardStopsWithStream(t *testing.T) {
	origin := newNode(t, hub.Config{})
	dest := newNode(t, hub.Config{})
	m := newManager(t, origin.hub, Config{Apps: map[string]AppConfig{
		"live": {Forward: []string{dest.rtmpURL("live")}},
	}})
	arrived := waitEvent(t, dest.hub, func(e hub.Event) bool { return e.Type == hub.EventPublish })
	f := feed(t, origin.hub, "live/a")
	arrived("forward publish")
	r := subscribe(t, dest.hub, "live/a", hub.ReaderInfo{Protocol: "test"})
	readN(t, r, 20)
	require.NoError(t, f.stop())
	require.NoError(t, drainEOF(r), "destination stream should end")
	eventually(t, "forward stopped", func() bool { return len(m.Relays()) == 0 })
}

// TestForwardStoppedKeepsDestinationGrace: a forward stopped by its own
// server (shutdown, reload) drops its connection without deleteStream, so
// the destination keeps the stream in its reconnect grace for a restarted
// origin to resume, while a stream that ended ends there too
// (TestForwardStopsWithStream).
func TestForwardStoppedKeepsDestinationGrace(t *testing.T) {
	origin := newNode(t, hub.Config{})
	dest := newNode(t, hub.Config{ReconnectGrace: 10 * time.Minute})
	m := newManager(t, origin.hub, Config{Apps: map[string]AppConfig{
		"live": {Forward: []string{dest.rtmpURL("live")}},
	}})
	arrived := waitEvent(t, dest.hub, func(e hub.Event) bool { return e.Type == hub.EventPublish })
	left := waitEvent(t, dest.hub, func(e hub.Event) bool { return e.Type == hub.EventUnpublish })
	feed(t, origin.hub, "live/a")
	arrived("forward publish")
	r := subscribe(t, dest.hub, "live/a", hub.ReaderInfo{Protocol: "test"})
	readN(t, r, 20)
	require.NoError(t, m.Close())
	left("forward gone")
	info, ok := dest.hub.Stream("live/a")
	require.True(t, ok, "the destination waits for the stream to come back")
	require.False(t, info.Publishing)
}

// TestForwardSkipsPulledAndLooping: edge-pulled streams (publisher "relay")
// and streams at MaxHops are not forwarded.
func TestForwardSkipsPulledAndLooping(t *testing.T) {
	origin := newNode(t, hub.Config{})
	dest := newNode(t, hub.Config{})
	m := newManager(t, origin.hub, Config{Apps: map[string]AppConfig{
		"live": {Forward: []string{dest.rtmpURL("live")}},
	}})
	p1, err := origin.hub.Publish("live/pulled", hub.PublisherInfo{Protocol: "relay"})
	require.NoError(t, err)
	defer p1.Close()
	p2, err := origin.hub.Publish("live/loop", hub.PublisherInfo{Protocol: "rtmp", Query: "ripple_hops=8"})
	require.NoError(t, err)
	defer p2.Close()
	require.Empty(t, m.Relays())
}

// A stream's forwards follow who feeds it: a pull resuming it (this
// cluster node stopped being its origin, which forwards now) stops them,
// a publisher resuming it again starts them.
func TestForwardsFollowThePublisher(t *testing.T) {
	origin := newNode(t, hub.Config{ReconnectGrace: time.Minute})
	m := newManager(t, origin.hub, Config{Apps: map[string]AppConfig{
		"live": {Forward: []string{"rtmp://" + deadAddr(t) + "/{app}"}},
	}})
	forwarding := func() bool { _, ok := relayOf(m, KindForward, "live/cam"); return ok }

	pub, err := origin.hub.Publish("live/cam", hub.PublisherInfo{Protocol: "rtmp"})
	require.NoError(t, err)
	eventually(t, "forward started", forwarding)
	pub.Close() // inside the grace: the forward stays
	require.True(t, forwarding())

	pull, err := origin.hub.Publish("live/cam", hub.PublisherInfo{Protocol: access.ProtoRelay})
	require.NoError(t, err)
	eventually(t, "forward stopped under a pull", func() bool { return !forwarding() })
	pull.Close()

	pub, err = origin.hub.Publish("live/cam", hub.PublisherInfo{Protocol: "rtmp"})
	require.NoError(t, err)
	defer pub.Close()
	eventually(t, "forward started again with a publisher", forwarding)
}
