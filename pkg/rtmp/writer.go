package rtmp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/batch"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
)

// Writer tuning.
const (
	// writeQueueLen bounds the outbound queue of a client connection: a
	// client publisher queues media here, so a full queue is backpressure,
	// not loss.
	writeQueueLen = 128
	// connWriteQueueLen bounds the queue of a server connection, which only
	// carries replies, status and control messages (a handful at a time;
	// media comes from the hub reader). The reading goroutine blocks while
	// it is full. 16 items keep ~1 KiB per player instead of ~8 KiB.
	connWriteQueueLen = 16
	// keepArenaBytes: a larger arena (a GOP replayed at join without the
	// shared chunk cache) is dropped after its write, not kept per player.
	// The batch limits (bytes, slices, packets per TryRead) are
	// pkg/internal/batch's, shared with HTTP-FLV and WS-FLV.
	keepArenaBytes = 4 << 10
	// chunkCachePrefix is the size of the (chunk size, stream id) tag in
	// front of the chunked message cached in av.SlotRTMP.
	chunkCachePrefix = 8
)

// Errors that end a connection through the writer.
var (
	errWriterClosed = errors.New("rtmp: connection writer stopped")
	// ErrStreamEnded is the cause logged when a player's stream ends because
	// its publisher left (StreamEOF + Play.UnpublishNotify were sent).
	ErrStreamEnded = errors.New("rtmp: stream ended: publisher left")
)

type outOp uint8

const (
	opMessage   outOp = iota // msg on csid, framed by the ChunkWriter
	opChunkSize              // SetChunkSize(n) on csid 2, then switch the ChunkWriter
	opPacket                 // media packet on streamID (client publishing)
	opPlay                   // start sending reader's packets on streamID
	opStopPlay               // stop the current play
	opWatch                  // end the conn when pub is ended from outside
	opUnwatch                // stop watching the publisher
	opClose                  // flush everything queued before, then end gracefully with err
	opShutdown               // server draining: end now if neither publishing nor playing
)

// outItem is one entry of the ordered outbound queue. Everything a
// connection sends goes through it, so replies, status messages and media
// leave in the order they were decided and never interleave on the socket.
type outItem struct {
	op       outOp
	csid     uint32
	n        uint32
	streamID uint32
	msg      *Message
	pkt      *av.Packet
	reader   *hub.Reader
	pub      *hub.Publisher
	err      error
	// opPlay on a client connection (Forward): where the reader's end is
	// reported, and a counter of the bytes written for it.
	ended chan<- error
	count *atomic.Uint64
}

// writer owns a connection's outbound side: the ChunkWriter state and every
// socket write. One goroutine runs it (docs/architecture.md §8.2): protocol replies, status
// messages and media cannot race, and SetChunkSize takes effect exactly
// between two messages. While playing, that goroutine also waits on the hub
// reader itself (see writer_play.go): no goroutine per player besides the
// connection's reader and this one.
type writer struct {
	nc   net.Conn
	cw   *ChunkWriter
	bw   *batch.Writer // the batch of the next write, and the socket
	q    chan outItem
	done chan struct{}

	// note records the cause of an end the writer is about to flush.
	note func(error)
	// fail ends the connection abruptly (cause recorded, socket closed).
	// Safe to call from any goroutine.
	fail func(error)
	// end ends the connection gracefully after everything was flushed
	// (cause recorded, reader woken so it can linger).
	end func(error)

	// panics recovers a panic of the writer goroutine, counted under
	// component ("rtmp" for server connections, "relay" for clients); the
	// panic then ends the connection through fail.
	panics    *guard.Recorder
	component string

	play        *playState
	pub         *hub.Publisher
	pubDone     <-chan struct{}
	pubStreamID uint32 // the message stream the publisher publishes on

	arena   []byte // control bytes and per-conn headers of the batch
	flushes uint64 // batches written (one writev each on TCP)

	// sharedChunkSize is the chunk size the shared chunk cache is built
	// for; 0 disables the cache (see addPacket).
	sharedChunkSize int
	encStreamID     uint32
	encFn           func(*av.Packet) []byte
}

// newWriter returns the writer of a client connection (writeQueueLen).
func newWriter(nc net.Conn, timeout time.Duration, sharedChunkSize int, note, fail, end func(error)) *writer {
	return newWriterQueue(nc, timeout, sharedChunkSize, writeQueueLen, note, fail, end)
}

// newConnWriter returns the writer of a server connection, whose queue
// carries no media (connWriteQueueLen).
func newConnWriter(nc net.Conn, timeout time.Duration, sharedChunkSize int, note, fail, end func(error)) *writer {
	return newWriterQueue(nc, timeout, sharedChunkSize, connWriteQueueLen, note, fail, end)
}

// newWriterQueue allocates no batch buffers: bufs and arena grow on first
// use to what the connection needs (a player's arena only ever holds a few
// control messages).
func newWriterQueue(nc net.Conn, timeout time.Duration, sharedChunkSize, queueLen int, note, fail, end func(error)) *writer {
	w := &writer{
		nc:              nc,
		cw:              NewChunkWriter(),
		q:               make(chan outItem, queueLen),
		done:            make(chan struct{}),
		note:            note,
		fail:            fail,
		end:             end,
		sharedChunkSize: sharedChunkSize,
	}
	// Each write is within about timeout (netx.WriteDeadline: at least
	// timeout per write, re-armed once per timeout/4); writev on TCP.
	w.bw = batch.NewWriter(batch.NewOut(nc, timeout, 16<<10), w, 0)
	// One method value per writer: p.Encoded must not allocate a closure
	// per packet.
	w.encFn = w.encodeShared
	return w
}

// send queues it, blocking while the queue is full. It fails once the
// writer has stopped or ctx ends.
func (w *writer) send(ctx context.Context, it outItem) error {
	select {
	case w.q <- it:
		return nil
	case <-w.done:
		return errWriterClosed
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// sendMsg queues one message on csid.
func (w *writer) sendMsg(ctx context.Context, csid uint32, m *Message) error {
	return w.send(ctx, outItem{op: opMessage, csid: csid, msg: m})
}

// run is the writer goroutine. It returns when ctx ends or a write fails;
// in both cases the connection is going away. It closes w.done.
func (w *writer) run(ctx context.Context) {
	defer close(w.done)
	defer w.stopPlay()
	if err := w.panics.Run(w.component, func() error { return w.loop(ctx) }); err != nil {
		w.fail(err)
	}
}

// errGracefulEnd marks an opClose: not a failure, already reported via end.
var errGracefulEnd = errors.New("rtmp: graceful end")

func (w *writer) loop(ctx context.Context) error {
	ctxDone := ctx.Done()
	for {
		var err error
		var ready <-chan struct{}
		if w.play != nil {
			ready = w.play.ready
		}
		select {
		case <-ctxDone:
			return nil
		case it := <-w.q:
			err = w.handle(it)
		case <-ready:
			err = w.drainPlay()
		case <-w.pubDone:
			err = w.publisherEnded()
		}
		// Take whatever else is queued into the same writev.
		for err == nil && !w.bw.Batch().Full() {
			select {
			case it := <-w.q:
				err = w.handle(it)
				continue
			default:
			}
			break
		}
		if errors.Is(err, ErrStreamEnded) {
			w.note(err) // before the flush: the player may close right after reading it
		}
		if err == nil || errors.Is(err, errGracefulEnd) || errors.Is(err, ErrStreamEnded) {
			if ferr := w.flush(); ferr != nil {
				return ferr
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, errGracefulEnd):
			return nil
		case errors.Is(err, ErrStreamEnded):
			w.end(err)
			return nil
		default:
			return err
		}
	}
}

// handle applies one queued item, appending bytes to the batch.
func (w *writer) handle(it outItem) error {
	switch it.op {
	case opMessage:
		w.appendMessage(it.csid, it.msg)
	case opChunkSize:
		// RTMP 1.0 §5.4.1: the new size applies to the sender's next chunk,
		// so switch right after the message is framed at the old size.
		w.appendMessage(csidControl, SetChunkSizeMessage(it.n))
		w.cw.SetChunkSize(int(it.n))
	case opPacket:
		if err := w.addPacket(it.pkt, it.streamID); err != nil {
			return err
		}
	case opPlay:
		w.startPlay(it.reader, it.streamID, it.ended, it.count)
	case opStopPlay:
		w.stopPlay()
	case opWatch:
		w.pub, w.pubDone, w.pubStreamID = it.pub, it.pub.Done(), it.streamID
	case opShutdown:
		return w.shutdownIdle()
	case opUnwatch:
		w.pub, w.pubDone = nil, nil
	case opClose:
		if err := w.flush(); err != nil {
			return err
		}
		w.end(it.err)
		return errGracefulEnd
	}
	return w.flushIfFull()
}

// flushIfFull writes the batch once it reaches the batch limits.
func (w *writer) flushIfFull() error {
	if w.bw.Batch().Full() {
		return w.flush()
	}
	return nil
}

// publisherEnded runs when the watched publisher's Done fires.
func (w *writer) publisherEnded() error {
	err := w.pub.Err()
	w.pub, w.pubDone = nil, nil
	if err == nil || errors.Is(err, hub.ErrPublisherClosed) {
		// Our own Close (unpublish): nothing to do.
		return nil
	}
	if errors.Is(err, hub.ErrClosed) {
		return w.serverClosing()
	}
	return fmt.Errorf("publisher ended: %w", err)
}

// appendMessage frames m with the ChunkWriter into the batch.
func (w *writer) appendMessage(csid uint32, m *Message) {
	start := len(w.arena)
	w.arena = w.cw.AppendMessage(w.arena, csid, m)
	w.bw.Batch().Add(w.arena[start:len(w.arena):len(w.arena)])
}

// mediaCSID maps a packet kind to Ripple's fixed chunk stream id and the
// RTMP message type.
func mediaCSID(k av.Kind) (csid uint32, typeID uint8) {
	switch k {
	case av.KindAudio:
		return csidAudio, TypeAudio
	case av.KindVideo:
		return csidVideo, TypeVideo
	}
	return csidData, TypeDataAMF0
}

// addPacket adds p as one RTMP message on stream msid.
//
// The chunks of a message only depend on the chunk size, stream id, csid,
// type, timestamp and payload, and every Ripple player uses the server's
// chunk size, stream id 1 and the fixed csids, so the chunked message is
// built once per packet, contiguous, and cached in av.SlotRTMP for all
// players: one slice per packet in each player's writev, like an HTTP-FLV
// tag (docs/performance.md §2). The cached bytes start with the chunk size
// and stream id they were built for; a connection whose parameters differ
// (a client publishing on another stream id, a test server with another
// chunk size sharing the hub) frames its own: chunk headers in its arena
// interleaved with sub-slices of the shared payload, never a copy of it.
//
// The cached message is one slice, for which a batch always has room (it
// is written as soon as it is full); a message of its own is 2n+1 slices
// for n chunks (header and payload each, the last header may be cut), and
// the batch is written first if they would not fit.
func (w *writer) addPacket(p *av.Packet, msid uint32) error {
	cs := w.cw.ChunkSize()
	b := w.bw.Batch()
	if cs == w.sharedChunkSize && msid == 1 {
		w.encStreamID = msid
		enc := p.Encoded(av.SlotRTMP, w.encFn)
		if int(binary.BigEndian.Uint32(enc)) == cs && binary.BigEndian.Uint32(enc[4:]) == msid {
			b.Add(enc[chunkCachePrefix:])
			return nil
		}
	}
	if !b.Room(2*(len(p.Data)/cs+1) + 1) {
		if err := w.flush(); err != nil {
			return err
		}
	}
	csid, typ := mediaCSID(p.Kind)
	start := len(w.arena)
	w.arena = AppendChunkHeaders(w.arena, cs, csid, typ, msid, uint32(p.DTS), len(p.Data))
	hdrs := w.arena[start:len(w.arena):len(w.arena)]
	from := b.Open()
	b.Bufs = AppendChunked(b.Bufs, hdrs, p.Data, cs)
	b.Counted(from)
	return nil
}

// encodeShared builds the cached chunked message of p (called at most once
// per packet, under the packet's sync.Once).
func (w *writer) encodeShared(p *av.Packet) []byte {
	csid, typ := mediaCSID(p.Kind)
	n := len(p.Data)/w.sharedChunkSize + 1
	b := make([]byte, chunkCachePrefix, chunkCachePrefix+len(p.Data)+maxChunkHeaderLen*n)
	binary.BigEndian.PutUint32(b, uint32(w.sharedChunkSize))
	binary.BigEndian.PutUint32(b[4:], w.encStreamID)
	return AppendMessageChunks(b, w.sharedChunkSize, csid, typ, w.encStreamID, uint32(p.DTS), p.Data)
}

// flush writes the batch with one writev.
func (w *writer) flush() error {
	if w.bw.Batch().Empty() {
		return nil
	}
	w.flushes++
	before := w.bw.Sent()
	err := w.bw.Flush()
	if w.play != nil && w.play.count != nil {
		w.play.count.Add(w.bw.Sent() - before)
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// Seal is the batch.Framing hook before a write: RTMP frames every message
// as it is added, so there is nothing left to do.
func (w *writer) Seal(*batch.Batch) {}

// Written runs after each write: the arena's bytes are no longer
// referenced.
func (w *writer) Written() {
	if cap(w.arena) > keepArenaBytes {
		w.arena = nil
	} else {
		w.arena = w.arena[:0]
	}
}
