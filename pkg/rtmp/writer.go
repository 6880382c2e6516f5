package rtmp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/netx"
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
	// maxBatchBytes caps one writev (docs/performance.md §5).
	maxBatchBytes = 256 << 10
	// maxBatchBufs caps the slices of one writev: a packet that would
	// take a batch past it goes into the next one. It bounds the iovec
	// array the runtime keeps per socket (16 bytes per slice, sized by the
	// largest writev ever made on it) and our own bufs (24 bytes per
	// slice). A steady-state batch (a frame and its audio) needs about ten
	// slices, a 100 KB keyframe at the default 4 KiB chunk size 50; only a
	// join (the GOP cache at once) takes several writevs.
	maxBatchBufs = 64
	// readBatchLen is the most packets taken from a hub reader at once; the
	// writer takes batches until the reader is drained.
	readBatchLen = 64
	// keepBatchBufs: a larger bufs (a huge keyframe at a small chunk size)
	// is dropped after its flush, not kept per player. Below it bufs keeps
	// the size the batches need, so a small configured chunk size (128
	// bytes: 2 slices per 128 payload bytes) does not allocate per batch.
	keepBatchBufs = 1024
	// keepArenaBytes: a larger arena (a GOP replayed at join without the
	// shared header cache) is dropped after its flush, not kept per player.
	keepArenaBytes = 4 << 10
	// headerCachePrefix is the size of the (chunk size, stream id) tag in
	// front of the chunk headers cached in av.SlotRTMP.
	headerCachePrefix = 8
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

	bufs    net.Buffers // this connection's own iovec list, reused per batch
	wbufs   net.Buffers // the copy of bufs that WriteTo consumes
	arena   []byte      // control bytes and per-conn headers of the batch
	pending int         // bytes queued in bufs
	flushes uint64      // batches written (one writev each on TCP)

	// dl keeps the write deadline armed on nc (netx.WriteDeadline: at
	// least timeout per write, re-armed once per timeout/4).
	dl netx.WriteDeadline

	// sharedChunkSize is the chunk size the shared header cache is built
	// for; 0 disables the cache (see appendPacket).
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
		dl:              netx.WriteDeadline{Timeout: timeout},
		cw:              NewChunkWriter(),
		q:               make(chan outItem, queueLen),
		done:            make(chan struct{}),
		note:            note,
		fail:            fail,
		end:             end,
		sharedChunkSize: sharedChunkSize,
	}
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
		for err == nil && w.pending < maxBatchBytes {
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
		if err := w.makeRoom(it.pkt); err != nil {
			return err
		}
		w.appendPacket(it.pkt, it.streamID)
	case opPlay:
		w.startPlay(it.reader, it.streamID)
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

// flushIfFull writes the batch once it reaches maxBatchBytes or
// maxBatchBufs.
func (w *writer) flushIfFull() error {
	if w.pending >= maxBatchBytes || len(w.bufs) >= maxBatchBufs {
		return w.flush()
	}
	return nil
}

// makeRoom writes the batch first if p would take it past maxBatchBufs.
func (w *writer) makeRoom(p *av.Packet) error {
	if len(w.bufs) == 0 {
		return nil
	}
	// A message of n chunks takes 2n slices (header, payload), the last
	// header may be cut: 2n+1 is an upper bound.
	cs := w.cw.ChunkSize()
	if len(w.bufs)+2*(len(p.Data)/cs+1)+1 > maxBatchBufs {
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
	w.addBuf(w.arena[start:len(w.arena):len(w.arena)])
}

func (w *writer) addBuf(b []byte) {
	w.ensureBufs()
	w.bufs = append(w.bufs, b)
	w.pending += len(b)
}

// ensureBufs allocates bufs at its batch size on first use (and after a
// huge batch was dropped), rather than growing it slice by slice.
func (w *writer) ensureBufs() {
	if w.bufs == nil {
		w.bufs = make(net.Buffers, 0, maxBatchBufs)
	}
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

// appendPacket adds p as one RTMP message on stream msid: chunk headers
// interleaved with sub-slices of the shared p.Data (no copy).
//
// The headers only depend on the chunk size, stream id, csid, type,
// timestamp and length, and every Ripple player uses the server's chunk
// size, stream id 1 and the fixed csids, so they are built once per packet
// and cached in av.SlotRTMP for all players (docs/performance.md §2). The cached bytes
// start with the chunk size and stream id they were built for; a
// connection whose parameters differ (a client publishing on another
// stream id, a test server with another chunk size sharing the hub) builds
// its own headers instead of using a wrong cache entry.
func (w *writer) appendPacket(p *av.Packet, msid uint32) {
	cs := w.cw.ChunkSize()
	var hdrs []byte
	if cs == w.sharedChunkSize && msid == 1 {
		w.encStreamID = msid
		enc := p.Encoded(av.SlotRTMP, w.encFn)
		if int(binary.BigEndian.Uint32(enc)) == cs && binary.BigEndian.Uint32(enc[4:]) == msid {
			hdrs = enc[headerCachePrefix:]
		}
	}
	if hdrs == nil {
		csid, typ := mediaCSID(p.Kind)
		start := len(w.arena)
		w.arena = AppendChunkHeaders(w.arena, cs, csid, typ, msid, uint32(p.DTS), len(p.Data))
		hdrs = w.arena[start:len(w.arena):len(w.arena)]
	}
	w.ensureBufs()
	before := len(w.bufs)
	w.bufs = AppendChunked(w.bufs, hdrs, p.Data, cs)
	for _, b := range w.bufs[before:] {
		w.pending += len(b)
	}
}

// encodeShared builds the cached chunk headers of p (called at most once
// per packet, under the packet's sync.Once).
func (w *writer) encodeShared(p *av.Packet) []byte {
	csid, typ := mediaCSID(p.Kind)
	n := len(p.Data)/w.sharedChunkSize + 1
	b := make([]byte, headerCachePrefix, headerCachePrefix+12+n*5)
	binary.BigEndian.PutUint32(b, uint32(w.sharedChunkSize))
	binary.BigEndian.PutUint32(b[4:], w.encStreamID)
	return AppendChunkHeaders(b, w.sharedChunkSize, csid, typ, w.encStreamID, uint32(p.DTS), len(p.Data))
}

// flush writes the batch with one writev.
func (w *writer) flush() error {
	if len(w.bufs) == 0 {
		return nil
	}
	if err := w.dl.Arm(w.nc, time.Now()); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	// WriteTo consumes its receiver: write through a copy of the slice
	// header, kept in the writer so taking its address does not allocate.
	w.wbufs = w.bufs
	w.flushes++
	n, err := w.wbufs.WriteTo(w.nc)
	w.wbufs = nil
	if w.play != nil && n > 0 {
		w.play.r.AddBytes(uint64(n)) // one atomic add per batch, for the API
	}
	clear(w.bufs)
	w.bufs, w.pending = w.bufs[:0], 0
	if cap(w.arena) > keepArenaBytes {
		w.arena = nil
	} else {
		w.arena = w.arena[:0]
	}
	if cap(w.bufs) > keepBatchBufs {
		w.bufs = nil
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}
