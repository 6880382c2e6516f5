package server

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
	"github.com/ripplemedia/ripple/pkg/relay"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

func TestRelayConfigMapping(t *testing.T) {
	cfg := testConfig(t)
	cfg.Apps = map[string]config.App{
		"plain": {},
		"live":  {Forward: []string{"rtmp://a/{app}"}},
		"cdn":   {Edge: config.Edge{Origins: []string{"rtmp://o/live"}, IdleTimeout: 7 * time.Second}},
	}
	cfg.Relay.PassQuery = false
	rc := relayConfig(cfg, slog.New(slog.DiscardHandler))
	require.Len(t, rc.Apps, 2, "apps without relays are left out")
	require.Equal(t, []string{"rtmp://a/{app}"}, rc.Apps["live"].Forward)
	require.Nil(t, rc.Apps["live"].Edge)
	e := rc.Apps["cdn"].Edge
	require.NotNil(t, e)
	require.Equal(t, relay.SelectFailover, e.Selection)
	require.Equal(t, 7*time.Second, e.IdleTimeout)
	require.Equal(t, cfg.Relay.NotFoundTimeout, e.NotFoundTimeout)
	require.False(t, e.PassQuery)
	require.Equal(t, int(cfg.RTMP.ChunkSize), rc.ChunkSize)

	for _, s := range []config.EdgeSelection{config.SelectFailover, config.SelectHash} {
		require.Equal(t, s.String(), string(edgeSelection(s)), "the relay selection of the same name")
	}
}

// TestRelayEdgeServer: an RTMP player on an edge server's app starts a pull
// from the origin server (the demand handler is installed), Relays shows it,
// and the edge shuts down cleanly with the pull running.
func TestRelayEdgeServer(t *testing.T) {
	origin := start(t, testConfig(t))
	cfg := testConfig(t)
	cfg.Apps = map[string]config.App{"live": {Edge: config.Edge{
		Origins: []string{"rtmp://" + origin.RTMPAddr().String() + "/{app}"},
	}}}
	edge := start(t, cfg)
	require.Empty(t, origin.Relays(), "no relays configured")

	pub, err := origin.hub.Publish("live/cam", hub.PublisherInfo{Protocol: "test"})
	require.NoError(t, err)
	defer pub.Close()
	g := mediatest.New(mediatest.Config{})
	for _, p := range append(g.Headers(), g.Packets(60)...) {
		require.NoError(t, pub.WritePacket(p))
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := rtmp.Dial(ctx, "rtmp://"+edge.RTMPAddr().String()+"/live", rtmp.ClientConfig{})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Play(ctx, "cam"))
	for media := 0; media < 10; {
		p, err := c.ReadPacket()
		require.NoError(t, err)
		if p.IsMedia() && !p.Header {
			media++
		}
	}
	rs := edge.Relays()
	require.Len(t, rs, 1)
	require.Equal(t, relay.KindPull, rs[0].Kind)
	require.Equal(t, relay.StateLive, rs[0].State)
	require.Equal(t, "live/cam", rs[0].Stream)
}
