package rtmp

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// TestShutdownDrains checks the drain order pkg/server relies on: Shutdown
// stops accepting and ends idle connections at once; closing the hub then
// tells the publisher (onStatus) and the player (StreamEOF +
// UnpublishNotify, seen as io.EOF) before their connections close, and
// Shutdown returns without waiting for its deadline.
func TestShutdownDrains(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{})

	// A raw publisher, to see the final onStatus on the wire.
	pub := dialRaw(t, env.addr)
	pub.handshake(t)
	pub.connect(t)
	msid := pub.createStream(t, 2)
	pub.command(t, msid, "publish", 0, nil, "cam1", "live")
	require.Equal(t, codePublishStart, pub.expectStatus(t).String("code"))
	env.waitLive(t, "live/cam1")

	play := env.player(t, "cam1")
	idle := dialRaw(t, env.addr)
	idle.handshake(t)
	idle.connect(t)

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	shut := make(chan error, 1)
	start := time.Now()
	go func() { shut <- env.srv.Shutdown(ctx) }()

	idle.requireClosed(t)
	idle.nc.Close() // a real client closes on EOF; the server lingers until then
	env.logs.waitClosed(t, errDrained.Error())
	// No new connections once draining.
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", env.addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	}, testTimeout, 5*time.Millisecond)

	env.hub.Close()
	st := pub.expectStatus(t)
	require.Equal(t, codeUnpublishSuccess, st.String("code"))
	require.Equal(t, "server shutting down", st.String("description"))
	pub.requireClosed(t)
	pub.nc.Close()

	for {
		_, err := play.ReadPacket()
		if err != nil {
			require.ErrorIs(t, err, io.EOF, "the player must see the end of stream, not a reset")
			break
		}
	}
	select {
	case err := <-shut:
		require.NoError(t, err)
		require.Less(t, time.Since(start), testTimeout)
	case <-time.After(testTimeout):
		t.Fatal("Shutdown did not return after every connection ended")
	}
	require.Equal(t, 0, env.srv.Conns())
}

// TestShutdownDeadlineCloses checks that connections still open when the
// context ends are cut, and the cause is returned.
func TestShutdownDeadlineCloses(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{})
	env.publisher(t, "cam1") // stays: the hub is not closed
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := env.srv.Shutdown(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 0, env.srv.Conns())
}
