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
)

// sink is the framing of one player's connection. The player adds the FLV
// bytes of a batch (shared slices: never modified, not retained after
// flush) and flushes them as one unit: one HTTP chunk, one WebSocket
// message. Used only by the player's goroutine.
type sink interface {
	add(b []byte)
	// flush writes what was added since the last flush; with nothing added
	// it only pushes out the response head if that is still pending.
	flush() error
	// bytes returns how many payload bytes were written so far.
	bytes() uint64
}

// player is one HTTP-FLV or WS-FLV viewer: one hub reader, served by the
// request goroutine.
type player struct {
	proto  string // "http-flv", "ws-flv"
	key    string
	remote string
	start  time.Time

	reader *hub.Reader
	sink   sink

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

	ended atomic.Bool  // ctx ended (set before the reader is woken)
	pkts  []*av.Packet // Read buffer, reused
	added int          // bytes added since the last flush
	tags  int          // tags added since the last flush
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
	p.pkts = make([]*av.Packet, 0, readBatch)
	// Evicted (too slow) or kicked through the API while possibly blocked
	// on the socket: cut the connection now rather than at the write
	// deadline, which frees its kernel buffers (megabytes for a viewer that
	// stopped reading). The end of the stream (io.EOF) drains first.
	stopEnd := p.reader.AfterEnd(func() {
		if err := p.reader.Err(); errors.Is(err, hub.ErrSlowReader) || errors.Is(err, hub.ErrClosed) {
			p.kick(err)
		}
	})
	defer stopEnd()
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
		// and everything queued then goes out as one write.
		batch, err := p.next()
		if err != nil {
			return err
		}
		for {
			// More than one Read's worth may be queued (a merge window,
			// a player catching up): take it all, flushing every
			// maxWrite bytes and once at the end.
			more := len(batch) == cap(batch)
			err = p.writePackets(batch, !more)
			clear(batch) // do not pin packets until the next Read
			if err != nil || !more {
				break
			}
			if batch, err = p.reader.TryRead(p.pkts[:0]); err != nil {
				if p.added > 0 {
					_ = p.flush() // best effort: the reader ended anyway
				}
				break
			}
		}
		if err != nil {
			return err
		}
	}
}

// next waits for and takes what is queued: TryRead, and with nothing
// queued a plain receive on Ready, which the hub signals at flush points
// and run's context.AfterFunc when the context ends. Read's select on the
// context as well cost ~3 % of a player's CPU (selectgo, both channels'
// locks) at 30 wake-ups a second.
func (p *player) next() ([]*av.Packet, error) {
	for {
		batch, err := p.reader.TryRead(p.pkts[:0])
		if err != nil || len(batch) > 0 {
			return batch, err
		}
		if p.ended.Load() {
			return batch, p.ctx.Err()
		}
		<-p.reader.Ready()
	}
}

// hold reads until the track gate can decide the header flags, then writes
// the FLV header and everything held back. The hold timeout runs from the
// subscription, not from the request: a player that waited for an
// on-demand source (an edge pull dialing its origin) must not have spent
// the time its tracks get to show up before the stream even existed.
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
	p.sink.add(flv.Header(p.hasAudio, p.hasVideo))
	if err := p.flush(); err != nil {
		return err
	}
	if err := p.writePackets(pending, true); err != nil {
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
	return p.sink.flush()
}

// writePackets adds the packets that pass the filter to the sink,
// flushing whenever about maxWrite bytes are pending, and at the end if
// last is set.
func (p *player) writePackets(pkts []*av.Packet, last bool) error {
	for _, pk := range pkts {
		if !p.keep(pk) {
			p.skipped++
			continue
		}
		tag := flv.TagBytes(pk)
		p.sink.add(tag)
		p.added += len(tag)
		p.tags++
		if p.added >= maxWrite || p.tags >= maxWriteTags {
			if err := p.flush(); err != nil {
				return err
			}
		}
	}
	if !last || p.added == 0 {
		return nil
	}
	return p.flush()
}

func (p *player) flush() error {
	p.added, p.tags = 0, 0
	before := p.sink.bytes()
	err := p.sink.flush()
	if n := p.sink.bytes() - before; n > 0 {
		p.reader.AddBytes(n) // one atomic add per batch, for the API
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
