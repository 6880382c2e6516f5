package httpflv

import (
	"context"
	"fmt"
)

// errDraining ends players on Shutdown. It wraps errHandlerClosed, so the
// close line and the WebSocket close code (1001 going away) are those of a
// handler close; unlike a kick, the connection stays open for the ending.
var errDraining = fmt.Errorf("%w: draining", errHandlerClosed)

// Drain starts a graceful end without waiting: requests arriving from now
// on get 503, and each player stops after the write in progress, an
// HTTP-FLV response ending with its last chunk (the client sees a complete
// body, not a reset) and a WebSocket closing with 1001 going away. A server
// calls it before closing the hub, so that players see the server going
// away rather than their stream ending.
func (h *Handler) Drain() {
	h.mu.Lock()
	h.closed = true
	players := make([]*player, 0, len(h.players))
	for p := range h.players {
		players = append(players, p)
	}
	h.mu.Unlock()
	for _, p := range players {
		p.cancel(errDraining)
	}
}

// Shutdown drains (see Drain) and waits: it returns nil once every player
// has ended, or, if ctx ends first (a player stuck in a write), kicks the
// rest like Close and returns ctx's cause.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.Drain()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		h.Close()
		<-done
		return context.Cause(ctx)
	}
}
