package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// errOriginNotFound: the origin answered but does not have the stream
// (RTMP NetStream.Play.StreamNotFound, HTTP 404).
var errOriginNotFound = errors.New("relay: origin does not have the stream")

// errUpstreamEnded: the origin ended the stream or closed the connection.
var errUpstreamEnded = errors.New("relay: origin ended the stream")

// source is an upstream stream being pulled.
type source interface {
	// ReadPacket returns the next packet; the caller owns it. Each call
	// waits at most the manager's Timeout.
	ReadPacket() (*av.Packet, error)
	Close() error
}

// openSource connects to origin t for the local stream app/name and starts
// playing it; ctx bounds the connection steps.
func (m *Manager) openSource(ctx context.Context, t target, app, name, query string) (source, error) {
	if t.http {
		return m.openHTTP(ctx, t.httpURL(app, name, query))
	}
	connect, stream := t.rtmpURL(app, name, query)
	c, err := rtmp.Dial(ctx, connect, m.clientConfig())
	if err != nil {
		return nil, err
	}
	if err := c.Play(ctx, stream); err != nil {
		c.Close()
		var se *rtmp.StatusError
		if errors.As(err, &se) && se.Code == "NetStream.Play.StreamNotFound" {
			return nil, fmt.Errorf("%w: %w", errOriginNotFound, err)
		}
		return nil, err
	}
	return rtmpSource{c}, nil
}

type rtmpSource struct{ c *rtmp.ClientConn }

func (s rtmpSource) ReadPacket() (*av.Packet, error) {
	p, err := s.c.ReadPacket()
	if errors.Is(err, io.EOF) {
		return nil, errUpstreamEnded
	}
	return p, err
}

func (s rtmpSource) Close() error { return s.c.Close() }

// httpSource reads an HTTP-FLV stream. A watchdog, re-armed before each
// read, cancels the request when the origin goes silent for Timeout:
// http.Client.Timeout would cut the whole (endless) response instead.
type httpSource struct {
	ctx     context.Context // the request's: its cause says why a read failed
	body    io.ReadCloser
	fr      *flv.Reader
	cancel  context.CancelCauseFunc
	watch   *time.Timer
	timeout time.Duration
}

var errSilent = errors.New("relay: origin sent nothing")

func (m *Manager) openHTTP(ctx context.Context, u string) (source, error) {
	// The request outlives ctx (which only bounds the connection steps).
	rctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		stop()
		cancel(nil)
		return nil, fmt.Errorf("relay: request %s: %w", Redact(u), err)
	}
	resp, err := m.http.Do(req)
	if err != nil {
		stop()
		cancel(nil)
		// *url.Error repeats the whole URL, query included.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("relay: get %s: %w", Redact(u), err)
	}
	fail := func(err error) (source, error) {
		stop()
		resp.Body.Close()
		cancel(nil)
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fail(fmt.Errorf("%w: get %s: %s", errOriginNotFound, Redact(u), resp.Status))
	case resp.StatusCode != http.StatusOK:
		return fail(fmt.Errorf("relay: get %s: %s", Redact(u), resp.Status))
	}
	s := &httpSource{ctx: rctx, body: resp.Body, fr: flv.NewReader(resp.Body), cancel: cancel, timeout: m.cfg.Timeout}
	s.watch = time.AfterFunc(s.timeout, func() { cancel(fmt.Errorf("%w for %s", errSilent, s.timeout)) })
	if _, err := s.fr.ReadHeader(); err != nil {
		s.Close()
		stop()
		return nil, fmt.Errorf("relay: get %s: flv header: %w", Redact(u), err)
	}
	if !stop() && ctx.Err() != nil {
		s.Close()
		return nil, context.Cause(ctx)
	}
	return s, nil
}

func (s *httpSource) ReadPacket() (*av.Packet, error) {
	for {
		s.watch.Reset(s.timeout)
		tag, err := s.fr.ReadTag()
		if err != nil {
			if cause := context.Cause(s.ctx); cause != nil {
				return nil, cause // the watchdog, or Close
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, errUpstreamEnded
			}
			return nil, err
		}
		p, err := flv.PacketFromTag(tag.Type, tag.Timestamp, tag.Body)
		if err != nil {
			return nil, fmt.Errorf("relay: flv tag at %d ms: %w", tag.Timestamp, err)
		}
		if p == nil || (p.Kind == av.KindData && !flv.IsMetaData(p)) {
			continue
		}
		return p, nil
	}
}

func (s *httpSource) Close() error {
	s.watch.Stop()
	s.cancel(nil)
	return s.body.Close()
}
