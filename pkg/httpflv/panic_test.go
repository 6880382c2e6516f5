package httpflv

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/logtest"
)

// syncBuffer collects output written from several goroutines.
type syncBuffer = logtest.Buffer

// TestPlayerPanicIsolated: a panic in one player's session ends that player
// with one Error line carrying the stack and a count for its protocol; the
// handler and the other players go on.
func TestPlayerPanicIsolated(t *testing.T) {
	var logs syncBuffer
	var panics guard.Recorder
	e := newEnv(t, Config{Panics: &panics, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	e.h.testHookServe = func(p *player) {
		if strings.Contains(p.key, "boom") {
			var m map[string]int
			m["x"]++ //nolint:staticcheck // nil map write: the runtime panic this test wants
		}
	}
	pb := e.publish(t, "live/boom")
	write(t, pb, metaPacket(metaAV...), videoSeq(0), audioSeq(0))
	pg := e.publish(t, "live/good")
	write(t, pg, metaPacket(metaAV...), videoSeq(0), audioSeq(0))

	// HTTP-FLV: the connection closes (before the response head, which
	// is written with the first tags), the process is fine.
	resp, err := http.Get(e.url("/live/boom.flv"))
	if err == nil {
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}

	// WS-FLV: the connection closes.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(e.url("/live/boom.flv"), "http", "ws", 1), nil)
	require.NoError(t, err)
	for err == nil {
		_, _, err = c.Read(ctx)
	}
	c.CloseNow()
	require.NoError(t, ctx.Err(), "the WS connection was closed, not timed out")
	e.waitReaders(t, "live/boom", 0)

	require.Eventually(t, func() bool {
		return strings.Count(logs.String(), "level=ERROR") == 2
	}, waitFor, 5e6)
	out := logs.String()
	require.Contains(t, out, "assignment to entry in nil map")
	require.Contains(t, out, "stack=")
	require.Equal(t, []guard.Count{{Component: "http-flv", Panics: 1}, {Component: "ws-flv", Panics: 1}}, panics.Counts())

	// Another stream still plays.
	resp, err = http.Get(e.url("/live/good.flv"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	head := make([]byte, 9)
	_, err = io.ReadFull(resp.Body, head)
	require.NoError(t, err)
	require.Equal(t, "FLV", string(head[:3]))
}
