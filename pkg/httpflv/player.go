package httpflv

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/batch"
)

// player is one HTTP-FLV or WS-FLV viewer: one hub reader, served by the
// request goroutine.
type player struct {
	proto  string // "http-flv", "ws-flv"
	key    string
	remote string
	start  time.Time

	reader *hub.Reader
	src    *batch.Source // reader, drained by run
	// w writes the FLV bytes: one HTTP chunk, one WebSocket message or
	// one ResponseWriter flush per batch (set by startHTTP/startWS).
	w *batch.Writer

	ctx    context.Context
	cancel context.CancelCauseFunc

	mu     sync.Mutex
	conn   io.Closer // the taken-over connection, closed by kick
	kicked bool

	// Filter state, decided by the track gate.
	hasAudio, hasVideo bool
	// started: a video keyframe has been written (or the stream has no
	// video). Until then video waits for a keyframe and audio is held back
	// so both tracks start together.
	started bool
	skipped uint64

	ended  atomic.Bool  // ctx ended (set before the reader is woken)
	pkts   []*av.Packet // hold's Read buffer
	failed bool         // a write failed: nothing more is written
}

// setConn registers the connection kick must close. If the player was kicked
// before, c is closed at once.
func (p *player) setConn(c io.Closer) {
	p.mu.Lock()
	p.conn = c
	kicked := p.kicked
	p.mu.Unlock()
	if kicked {
		_ = c.Close()
	}
}

// ownsConn reports whether the player writes to a connection it took over
// from net/http (hijacked), rather than through a ResponseWriter.
func (p *player) ownsConn() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.conn.(net.Conn)
	return ok
}

// kick ends the player from outside: its context is cancelled with cause and
// the connection is closed so that a blocked write returns at once.
func (p *player) kick(cause error) {
	p.cancel(cause)
	p.mu.Lock()
	p.kicked = true
	c := p.conn
	p.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// run streams until the stream ends (io.EOF), the reader is evicted, the
// context ends or a write fails, and returns why.
func (p *player) run(info hub.StreamInfo) error {
	p.pkts = make([]*av.Packet, 0, batch.ReadPackets)
	// Evicted (too slow) or kicked through the API while possibly blocked
	// on the socket: the source cuts the connection now rather than at the
	// write deadline, which frees its kernel buffers (megabytes for a
	// viewer that stopped reading). The end of the stream (io.EOF) drains
	// first.
	p.src = batch.NewSource(p.reader, p.kick)
	defer p.src.Close()
	p.w.SetSource(p.src)
	if err := p.hold(info); err != nil {
		return err
	}
	stop := context.AfterFunc(p.ctx, func() {
		p.ended.Store(true)
		p.reader.Wake()
	})
	defer stop()
	for {
		// The hub wakes the reader at flush points (hub/flush.go: per
		// video frame, audio riding with it; or once per merge window),
		// and everything queued then goes out as one write (several
		// when it passes the batch limits: a player catching up).
		if err := p.src.Drain(p); err != nil {
			if !p.failed {
				_ = p.flush() // best effort: the reader ended anyway
			}
			return err
		}
		if err := p.flush(); err != nil {
			return err
		}
		// A plain receive on Ready, which the hub signals at flush
		// points and the AfterFunc above when the context ends: a
		// select on the context as well cost ~3 % of a player's CPU
		// (selectgo, both channels' locks) at 30 wake-ups a second.
		if p.ended.Load() {
			return p.ctx.Err()
		}
		<-p.src.Ready()
	}
}

// hold reads until the track gate can decide the header flags, then writes
// the FLV header and everything held back. The hold timeout runs from the
// subscription, not from the request: a player that waited for an
// on-demand source (an edge pull dialing its origin) must not have spent
// the time its tracks get to show up before the stream even existed.
//
//nolint:contextcheck // p.ctx derives from the request's context (Handler.play)
func (p *player) hold(info hub.StreamInfo) error {
	subscribed := time.Now()
	g := newTrackGate(info, subscribed)
	holdCtx, cancel := context.WithDeadline(p.ctx, subscribed.Add(holdTimeout))
	defer cancel()
	ctx := holdCtx
	var pending []*av.Packet
	var end error // the stream ended while holding
	expired, headSent := false, false
	for !g.ready(expired) {
		batch, err := p.reader.Read(ctx, p.pkts[:0])
		if err != nil {
			if ctx == holdCtx && p.ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				// From now on the first media packet decides.
				expired, ctx = true, p.ctx
				if err := p.sendHead(&headSent); err != nil {
					return err
				}
				continue
			}
			if errors.Is(err, io.EOF) && g.ready(true) {
				end = err // write what the stream had, then report its end
				break
			}
			return err
		}
		for _, pk := range batch {
			g.observe(pk)
		}
		pending = append(pending, batch...)
		clear(batch)
		if !g.ready(expired) {
			if err := p.sendHead(&headSent); err != nil {
				return err
			}
		}
	}
	p.hasAudio, p.hasVideo = g.flags()
	p.started = !p.hasVideo
	// The FLV header alone first: over WebSocket it is the first message.
	if err := p.add(flv.Header(p.hasAudio, p.hasVideo)); err != nil {
		return err
	}
	if err := p.flush(); err != nil {
		return err
	}
	for i, pk := range pending {
		if err := p.Frame(pk); err != nil {
			clear(pending[i:])
			return err
		}
		pending[i] = nil
	}
	if err := p.flush(); err != nil {
		return err
	}
	return end
}

// sendHead lets the client see the response head while the body waits for
// the tracks to be known (once).
func (p *player) sendHead(sent *bool) error {
	if *sent {
		return nil
	}
	*sent = true
	return p.wrote(p.w.Push())
}

// Frame adds pk's FLV tag (the shared encoding) to the batch if the player
// keeps it; the writer writes the batch whenever it is full.
func (p *player) Frame(pk *av.Packet) error {
	if !p.keep(pk) {
		p.skipped++
		return nil
	}
	return p.add(flv.TagBytes(pk))
}

func (p *player) add(b []byte) error { return p.wrote(p.w.Add(b)) }

// flush writes what was added since the last write.
func (p *player) flush() error { return p.wrote(p.w.Flush()) }

// wrote records a failed write: nothing more is written after it.
func (p *player) wrote(err error) error {
	if err == nil {
		return nil
	}
	p.failed = true
	if errors.Is(err, batch.ErrStopped) {
		// WS-FLV: the reader goroutine answered the client's close
		// frame, after which no frame may be sent.
		return errClientGone
	}
	return err
}

// keep is the per-player drop policy. The timestamps and bytes are the
// hub's (shared); the player only chooses which tags to send.
func (p *player) keep(pk *av.Packet) bool {
	switch pk.Kind {
	case av.KindVideo:
		// A track the header does not flag would make MSE players
		// add a source buffer mid-stream; E-RTMP Metadata (PacketType
		// 4) makes mpegts.js error out.
		if !p.hasVideo || isVideoMetadata(pk) {
			return false
		}
		if !p.started {
			if pk.Header {
				return true
			}
			if !pk.Keyframe {
				return false
			}
			p.started = true
		}
		return true
	case av.KindAudio:
		if !p.hasAudio {
			return false
		}
		return p.started || pk.Header
	}
	return true
}

// isVideoMetadata reports an E-RTMP v2 video Metadata packet. The first
// byte rules out legacy tags (IsExHeader, bit 7, clear) without parsing, so
// the common case costs one comparison per packet and player.
func isVideoMetadata(pk *av.Packet) bool {
	return len(pk.Data) > 0 && pk.Data[0]&0x80 != 0 && flv.IsVideoMetadata(pk)
}
