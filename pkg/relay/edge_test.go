package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

func edgeConfig(origins ...string) Config {
	return Config{Apps: map[string]AppConfig{"live": {Edge: &EdgeConfig{
		Origins:         origins,
		PassQuery:       true,
		IdleTimeout:     300 * time.Millisecond,
		NotFoundTimeout: 2 * time.Second,
	}}}}
}

// TestEdgePullSharedAndIdle: many players (any protocol) make exactly one
// upstream pull; the player's query reaches the origin; the pull stops
// IdleTimeout after the last player left.
func TestEdgePullSharedAndIdle(t *testing.T) {
	for _, proto := range []string{"rtmp", "http"} {
		t.Run(proto, func(t *testing.T) {
			origin := newNode(t, hub.Config{})
			edge := newNode(t, hub.Config{})
			url := origin.rtmpURL("{app}")
			if proto == "http" {
				url = origin.http.URL + "/{app}"
			}
			m := newManager(t, edge.hub, edgeConfig(url))
			feed(t, origin.hub, "live/cam")
			joined := waitEvent(t, origin.hub, func(e hub.Event) bool { return e.Type == hub.EventReaderJoin })
			left := waitEvent(t, origin.hub, func(e hub.Event) bool { return e.Type == hub.EventReaderLeave })

			const players = 20
			readers := make([]*hub.Reader, players)
			var wg sync.WaitGroup
			errs := make(chan error, players)
			for i := range players {
				wg.Add(1)
				go func() {
					defer wg.Done()
					info := hub.ReaderInfo{Protocol: "test", Query: fmt.Sprintf("token=t%d", i)}
					r, err := edge.hub.Subscribe("live/cam", info)
					if errors.Is(err, hub.ErrStreamNotFound) {
						if edge.hub.Demand("live/cam", info) != nil {
							errs <- errors.New("demand refused")
							return
						}
						ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
						err = edge.hub.WaitStream(ctx, "live/cam")
						cancel()
						if err == nil {
							r, err = edge.hub.Subscribe("live/cam", info)
						}
					}
					readers[i] = r
					errs <- err
				}()
			}
			wg.Wait()
			for range players {
				require.NoError(t, <-errs)
			}
			e := joined("origin reader")
			require.Regexp(t, `^token=t\d+$`, e.Reader.Query, "first player's token passed upstream")
			for _, r := range readers {
				readN(t, r, 30)
			}
			si, ok := origin.hub.Stream("live/cam")
			require.True(t, ok)
			require.Equal(t, 1, si.Readers, "one upstream connection for %d players", players)
			s, ok := relayOf(m, KindPull, "live/cam")
			require.True(t, ok)
			require.Equal(t, StateLive, s.State)
			require.Positive(t, s.Bytes)

			for _, r := range readers {
				r.Close()
			}
			left("upstream reader leaving after idle_timeout")
			eventually(t, "pull gone", func() bool { _, ok := relayOf(m, KindPull, "live/cam"); return !ok })
		})
	}
}

// TestEdgeFailover: the origin dies mid-stream; the edge moves to the second
// origin and the local reader keeps going: no EOF, monotonic timestamps, a
// fresh keyframe after the switch.
func TestEdgeFailover(t *testing.T) {
	o1 := newNode(t, hub.Config{})
	o2 := newNode(t, hub.Config{})
	edge := newNode(t, hub.Config{})
	m := newManager(t, edge.hub, edgeConfig(o1.rtmpURL("{app}"), o2.http.URL+"/{app}"))
	feed(t, o1.hub, "live/cam")
	feed(t, o2.hub, "live/cam")
	r := subscribe(t, edge.hub, "live/cam", hub.ReaderInfo{Protocol: "test"})
	before := readN(t, r, 100)
	s, _ := relayOf(m, KindPull, "live/cam")
	require.Equal(t, "rtmp://"+o1.addr+"/live/****", s.Target)

	o1.close()
	after := readN(t, r, 300)
	s, _ = relayOf(m, KindPull, "live/cam")
	require.Equal(t, o2.http.URL+"/live/****", s.Target)
	require.Equal(t, StateLive, s.State)
	require.NotEmpty(t, s.LastError)

	last := map[av.Kind]int64{}
	for _, p := range append(before, after...) {
		if !p.IsMedia() {
			continue
		}
		if q, ok := last[p.Kind]; ok {
			require.GreaterOrEqual(t, p.DTS, q, "%v went back", p.Kind)
			require.Less(t, p.DTS-q, int64(1000), "%v jumped", p.Kind)
		}
		last[p.Kind] = p.DTS
	}
	si, _ := edge.hub.Stream("live/cam")
	require.True(t, si.Publishing)
	require.Zero(t, si.TimestampFixes, "the splice should hand the hub continuous timestamps")
}

// TestEdgeNotFound: no origin has the stream: the pull gives up after
// NotFoundTimeout and players waiting on it get nothing.
func TestEdgeNotFound(t *testing.T) {
	origin := newNode(t, hub.Config{})
	edge := newNode(t, hub.Config{})
	down := deadAddr(t)
	m := newManager(t, edge.hub, edgeConfig("rtmp://"+down+"/live", origin.rtmpURL("live"), origin.http.URL))
	start := time.Now()
	require.NoError(t, edge.hub.Demand("live/nope", hub.ReaderInfo{Protocol: "test"}))
	require.NoError(t, edge.hub.Demand("live/nope", hub.ReaderInfo{Protocol: "test"}))
	require.Len(t, m.Relays(), 1, "one pull per key")
	eventually(t, "pull given up", func() bool { return len(m.Relays()) == 0 })
	took := time.Since(start)
	require.GreaterOrEqual(t, took, 2*time.Second)
	require.Less(t, took, 6*time.Second)
	_, live := edge.hub.Stream("live/nope")
	require.False(t, live)
}

// TestEdgePublishPushesToOrigin: a publisher on the edge app is pushed to the
// origin (hash selection over one live and one dead origin still reaches the
// live one), and the edge serves it locally too.
func TestEdgePublishPushesToOrigin(t *testing.T) {
	origin := newNode(t, hub.Config{})
	edge := newNode(t, hub.Config{})
	cfg := edgeConfig("rtmp://"+deadAddr(t)+"/{app}", origin.rtmpURL("{app}"))
	cfg.Apps["live"].Edge.Selection = SelectHash
	m := newManager(t, edge.hub, cfg)
	arrived := waitEvent(t, origin.hub, func(e hub.Event) bool { return e.Type == hub.EventPublish })
	pub, err := edge.hub.Publish("live/enc", hub.PublisherInfo{Protocol: "rtmp", Query: "key=secret"})
	require.NoError(t, err)
	local := subscribe(t, edge.hub, "live/enc", hub.ReaderInfo{Protocol: "test"})
	done := make(chan struct{})
	go func() {
		defer close(done)
		g := newGen()
		for _, p := range g {
			if pub.WritePacket(p) != nil {
				return
			}
		}
	}()
	e := arrived("publish on the origin")
	require.Equal(t, "live/enc", e.Key)
	require.Contains(t, e.Publisher.Query, "key=secret")
	require.Contains(t, e.Publisher.Query, "ripple_hops=1")
	s, ok := relayOf(m, KindPush, "live/enc")
	require.True(t, ok)
	require.Contains(t, []State{StateConnecting, StateLive}, s.State)
	readN(t, local, 100)
	<-done
	pub.Close()
	eventually(t, "push stopped", func() bool { return len(m.Relays()) == 0 })
}

// TestEdgeLaterTokenWins: while a pull has not gone live, a later player's
// query replaces the first one's: a player with a valid token is not stuck
// behind one without.
func TestEdgeLaterTokenWins(t *testing.T) {
	origin := newNodeWith(t, hub.Config{}, rtmp.ServerConfig{
		Authorize: func(_ context.Context, req access.Request) error {
			if req.Action == access.Play && !strings.Contains(req.Query, "token=good") {
				return errors.New("bad token")
			}
			return nil
		},
	})
	edge := newNode(t, hub.Config{})
	newManager(t, edge.hub, edgeConfig(origin.rtmpURL("{app}")))
	feed(t, origin.hub, "live/cam")
	joined := waitEvent(t, origin.hub, func(e hub.Event) bool { return e.Type == hub.EventReaderJoin })

	require.NoError(t, edge.hub.Demand("live/cam", hub.ReaderInfo{Protocol: "test", Query: "token=bad"}))
	require.NoError(t, edge.hub.Demand("live/cam", hub.ReaderInfo{Protocol: "test", Query: "token=good"}))
	r := subscribe(t, edge.hub, "live/cam", hub.ReaderInfo{Protocol: "test"})
	readN(t, r, 10)
	require.Equal(t, "token=good", joined("origin reader").Reader.Query)
	si, _ := edge.hub.Stream("live/cam")
	require.Equal(t, "token=good", si.Publisher.Query, "the pull publishes with the query it carried")
}
