package rtmp

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// A player's connection keeps the small read buffer; a publisher's grows
// to readBufferSize without losing what the small one held.
func TestReadBufferGrowsForPublishers(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{})
	pub := env.publisher(t, "cam1")
	play := env.player(t, "cam1")
	gen := newGen()
	sent := append(gen.Headers(), gen.Packets(60)...)
	for _, p := range sent {
		require.NoError(t, pub.WritePacket(p))
	}
	for i, p := range sent {
		got, err := play.ReadPacket()
		require.NoError(t, err)
		samePacket(t, p, got, i)
	}
	var sizes []int
	env.srv.mu.Lock()
	for c := range env.srv.conns {
		sizes = append(sizes, c.br.Size())
	}
	env.srv.mu.Unlock()
	require.ElementsMatch(t, []int{connReadBufferSize, readBufferSize}, sizes)
}
