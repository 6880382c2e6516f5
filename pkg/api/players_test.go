package api

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// TestPlayersCountViewers: the HLS muxer's, the recorder's and the
// thumbnailer's readers are no players; HLS players are the viewers
// Config.HLSViewers counts. Every view agrees: the stream, the summary, the
// stats event and the player events, which the service readers do not
// emit. /clients still lists those readers.
func TestPlayersCountViewers(t *testing.T) {
	var hlsViewers atomic.Int64
	hlsViewers.Store(3)
	e := newEnv(t, Config{StatsInterval: time.Hour, HLSViewers: func(key string) int {
		if key == "live/cam" {
			return int(hlsViewers.Load())
		}
		return 0
	}})
	events := e.events(t, "", "")
	hubEvents := e.watch(t)
	pub := e.publisher(t, "live", "cam")
	waitEvent(t, hubEvents, hub.EventPublish)
	var service []*hub.Reader
	for _, proto := range []string{access.ProtoHLS, access.ProtoRecord, access.ProtoThumbnail} {
		r, err := e.hub.Subscribe("live/cam", hub.ReaderInfo{Protocol: proto})
		require.NoError(t, err)
		service = append(service, r)
	}
	for range 3 {
		waitEvent(t, hubEvents, hub.EventReaderJoin)
	}
	e.api.Sampler().Tick() // player events take the HLS viewers of the last tick
	player := e.player(t, "live", "cam")
	waitEvent(t, hubEvents, hub.EventReaderJoin)
	e.api.Sampler().Tick() // a stats event with every count

	want := map[string]int{"rtmp": 1, "hls": 3}
	var s Stream
	e.getJSON(t, "/api/v1/streams/live/cam", &s)
	require.Equal(t, 4, s.Players)
	require.Equal(t, want, s.PlayersByProtocol)
	var sum Summary
	e.getJSON(t, "/api/v1/summary", &sum)
	require.Equal(t, 4, sum.Players)
	var clients []Client
	e.getJSON(t, "/api/v1/clients", &clients)
	protos := map[string]int{}
	for _, c := range clients {
		protos[c.Protocol]++
	}
	require.Equal(t, map[string]int{"rtmp": 1, "hls": 1, "record": 1, "thumbnail": 1}, protos,
		"every reader is a client")

	var life []sse // lifecycle events read while looking for the stats
	for {
		ev := events.next(t)
		if ev.name != EventStats {
			life = append(life, ev)
			continue
		}
		var st StatsEvent
		require.NoError(t, json.Unmarshal([]byte(ev.data), &st))
		if len(st.Streams) == 0 || st.Streams[0].Players != 4 {
			continue // a tick before the player joined
		}
		require.Equal(t, 4, st.Players)
		require.Equal(t, want, st.Streams[0].PlayersByProtocol)
		break
	}

	hlsViewers.Store(0)
	for _, r := range service {
		r.Close()
	}
	require.NoError(t, player.Close())
	for range 4 {
		waitEvent(t, hubEvents, hub.EventReaderLeave)
	}
	got := append(life, events.lifecycle(t, 3-len(life))...)
	require.Equal(t, []string{EventStreamPublished, EventPlayerJoined, EventPlayerLeft}, names(got),
		"no player events for the service readers")
	var joined PlayerEvent
	require.NoError(t, json.Unmarshal([]byte(got[1].data), &joined))
	require.Equal(t, "rtmp", joined.Protocol)
	require.Equal(t, 4, joined.Players, "the player and the HLS viewers of the last stats")
	var after Stream
	e.getJSON(t, "/api/v1/streams/live/cam", &after)
	require.Zero(t, after.Players)
	require.Empty(t, after.PlayersByProtocol)
	require.NoError(t, pub.Close())
}
