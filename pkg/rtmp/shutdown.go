package rtmp

import (
	"context"
	"errors"
)

// errDrained is the close cause of a connection that was neither publishing
// nor playing when the server began draining.
var errDrained = errors.New("rtmp: server draining: connection idle")

// Drain begins a graceful end without waiting: listeners close at once,
// and connections that neither publish nor play (handshaking, connected,
// waiting for a stream) end as soon as their writer sees the request.
// Publishers and players end when the hub closes (hub.Hub.Close): a
// publisher gets onStatus NetStream.Unpublish.Success "server shutting
// down", a player StreamEOF and NetStream.Play.UnpublishNotify
// (docs/interop.md §4), both before their connection closes. Idempotent.
func (s *Server) Drain() {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return // the connections were asked already
	}
	s.draining = true
	s.stopAccepting()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdownIdle()
	}
}

// Shutdown stops accepting connections and lets the open ones end on their
// own, like http.Server.Shutdown: it drains (see Drain) and returns nil
// once every connection has ended, or, when ctx ends first, closes the
// rest (Close) and returns ctx's cause. Close may follow at any time.
func (s *Server) Shutdown(ctx context.Context) error {
	s.Drain()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return context.Cause(ctx)
	}
}

// shutdownIdle asks the writer to end the connection if it is idle. It never
// blocks: a full queue means the writer is busy with a publisher or player,
// which the hub's close ends anyway.
func (c *conn) shutdownIdle() {
	select {
	case c.w.q <- outItem{op: opShutdown}:
	default:
	}
}

// shutdownIdle runs on the writer goroutine, which alone knows whether the
// connection publishes or plays.
func (w *writer) shutdownIdle() error {
	if w.play != nil || w.pub != nil {
		return nil
	}
	if err := w.flush(); err != nil {
		return err
	}
	w.end(errDrained)
	return errGracefulEnd
}

// serverClosing tells a publisher that the server ended its stream (the hub
// closed) before the connection closes: ffmpeg and librtmp log the status,
// so the operator of the encoder sees why it was cut, not a bare reset.
func (w *writer) serverClosing() error {
	w.appendMessage(csidCommand, onStatusMessage(w.pubStreamID, levelStatus, codeUnpublishSuccess,
		"server shutting down"))
	w.pub, w.pubDone = nil, nil
	if err := w.flush(); err != nil {
		return err
	}
	w.end(ErrServerClosed)
	return errGracefulEnd
}
