package rtmp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// Writer tuning.
const (
	// writeQueueLen bounds the outbound queue of a connection. Control
	// traffic is a handful of messages; a client publisher queues media here,
	// so a full queue is backpressure, not loss.
	writeQueueLen = 128
	// maxBatchBytes caps one writev (style §3.7: ~256 KiB).
	maxBatchBytes = 256 << 10
	// readBatchLen is the most packets taken from a hub reader at once.
	readBatchLen = 128
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

// mediaBatch is what the play pump hands to the writer.
type mediaBatch struct {
	pkts []*av.Packet
	err  error
}

// playState is a running play: a pump goroutine reading the hub reader.
type playState struct {
	fail     func(error)
	r        *hub.Reader
	streamID uint32
	cancel   context.CancelFunc
	done     chan struct{}
	media    chan mediaBatch
	free     chan []*av.Packet
}

// writer owns a connection's outbound side: the ChunkWriter state and every
// socket write. One goroutine runs it (style §9.4): protocol replies, status
// messages and media cannot race, and SetChunkSize takes effect exactly
// between two messages.
type writer struct {
	nc      net.Conn
	timeout time.Duration
	cw      *ChunkWriter
	q       chan outItem
	done    chan struct{}

	// note records the cause of an end the writer is about to flush.
	note func(error)
	// fail ends the connection abruptly (cause recorded, socket closed).
	fail func(error)
	// end ends the connection gracefully after everything was flushed
	// (cause recorded, reader woken so it can linger).
	end func(error)

	play        *playState
	pub         *hub.Publisher
	pubDone     <-chan struct{}
	pubStreamID uint32 // the message stream the publisher publishes on

	bufs    net.Buffers // this connection's own iovec list, reused per batch
	wbufs   net.Buffers // the copy of bufs that WriteTo consumes
	arena   []byte      // control bytes and per-conn headers of the batch
	pending int         // bytes queued in bufs

	// sharedChunkSize is the chunk size the shared header cache is built
	// for; 0 disables the cache (see appendPacket).
	sharedChunkSize int
	encStreamID     uint32
	encFn           func(*av.Packet) []byte
}

func newWriter(nc net.Conn, timeout time.Duration, sharedChunkSize int, note, fail, end func(error)) *writer {
	w := &writer{
		nc:              nc,
		timeout:         timeout,
		cw:              NewChunkWriter(),
		q:               make(chan outItem, writeQueueLen),
		done:            make(chan struct{}),
		note:            note,
		fail:            fail,
		end:             end,
		bufs:            make(net.Buffers, 0, 64),
		arena:           make([]byte, 0, 4096),
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
	if err := guard(func() error { return w.loop(ctx) }); err != nil {
		w.fail(err)
	}
}

// errGracefulEnd marks an opClose: not a failure, already reported via end.
var errGracefulEnd = errors.New("rtmp: graceful end")

func (w *writer) loop(ctx context.Context) error {
	for {
		var err error
		var media <-chan mediaBatch
		if w.play != nil {
			media = w.play.media
		}
		select {
		case <-ctx.Done():
			return nil
		case it := <-w.q:
			err = w.handle(it)
		case b := <-media:
			err = w.handleMedia(b)
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
	if w.pending >= maxBatchBytes {
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

// handleMedia writes a batch from the hub reader and gives the slice back to
// the pump.
func (w *writer) handleMedia(b mediaBatch) error {
	ps := w.play
	for _, p := range b.pkts {
		w.appendPacket(p, ps.streamID)
		if w.pending >= maxBatchBytes {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	if b.pkts != nil {
		clear(b.pkts) // do not pin packets until the slice is reused
		ps.free <- b.pkts[:0]
	}
	switch {
	case b.err == nil:
		return nil
	case errors.Is(b.err, io.EOF):
		// RTMP 1.0 §7.1.7 StreamEOF, then the status librtmp and ffmpeg
		// treat as end of stream (interop notes §4).
		w.appendMessage(csidControl, UserControlMessage(EventStreamEOF, ps.streamID))
		w.appendMessage(csidCommand, onStatusMessage(ps.streamID, levelStatus, codePlayUnpublish,
			"stream is now unpublished"))
		return ErrStreamEnded
	case errors.Is(b.err, context.Canceled):
		return nil
	default:
		return fmt.Errorf("play %q: %w", ps.r.Key(), b.err)
	}
}

// appendMessage frames m with the ChunkWriter into the batch.
func (w *writer) appendMessage(csid uint32, m *Message) {
	start := len(w.arena)
	w.arena = w.cw.AppendMessage(w.arena, csid, m)
	w.addBuf(w.arena[start:len(w.arena):len(w.arena)])
}

func (w *writer) addBuf(b []byte) {
	w.bufs = append(w.bufs, b)
	w.pending += len(b)
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
// and cached in av.SlotRTMP for all players (style §3.2). The cached bytes
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

// flush writes the batch with one writev under a fresh write deadline
// (style §3.8: a deadline per write, so a slow-but-alive peer is not cut).
func (w *writer) flush() error {
	if len(w.bufs) == 0 {
		return nil
	}
	if err := w.nc.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	// WriteTo consumes its receiver: write through a copy of the slice
	// header, kept in the writer so taking its address does not allocate.
	w.wbufs = w.bufs
	n, err := w.wbufs.WriteTo(w.nc)
	w.wbufs = nil
	if w.play != nil && n > 0 {
		w.play.r.AddBytes(uint64(n)) // one atomic add per batch, for the API
	}
	clear(w.bufs)
	w.bufs, w.arena, w.pending = w.bufs[:0], w.arena[:0], 0
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// startPlay launches the pump that reads r and feeds the writer. Two
// batch slices alternate between them so the next Read overlaps the write.
func (w *writer) startPlay(r *hub.Reader, msid uint32) {
	w.stopPlay()
	ctx, cancel := context.WithCancel(context.Background())
	ps := &playState{
		fail:     w.fail,
		r:        r,
		streamID: msid,
		cancel:   cancel,
		done:     make(chan struct{}),
		media:    make(chan mediaBatch),
		free:     make(chan []*av.Packet, 2),
	}
	ps.free <- make([]*av.Packet, 0, readBatchLen)
	ps.free <- make([]*av.Packet, 0, readBatchLen)
	w.play = ps
	go ps.pump(ctx)
}

// stopPlay ends the pump and detaches the reader.
func (w *writer) stopPlay() {
	ps := w.play
	if ps == nil {
		return
	}
	w.play = nil
	ps.cancel()
	<-ps.done
	ps.r.Close()
}

// pump moves batches from the hub reader to the writer until the reader
// ends or the play is stopped. The hub's Read blocks, so it cannot sit in
// the writer's select; the pump turns it into a channel.
func (ps *playState) pump(ctx context.Context) {
	defer close(ps.done)
	if err := guard(func() error { return ps.pumpLoop(ctx) }); err != nil {
		select {
		case ps.media <- mediaBatch{err: err}:
		case <-ctx.Done():
		}
	}
}

func (ps *playState) pumpLoop(ctx context.Context) error {
	for {
		var buf []*av.Packet
		select {
		case buf = <-ps.free:
		case <-ctx.Done():
			return nil
		}
		pkts, err := ps.r.Read(ctx, buf)
		if err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
			// Evicted (hub.ErrSlowReader) or detached: end the connection
			// now. The writer is likely blocked on this very player's
			// socket and would only notice at its write deadline.
			ps.fail(fmt.Errorf("play %q: %w", ps.r.Key(), err))
			return nil
		}
		select {
		case ps.media <- mediaBatch{pkts: pkts, err: err}:
		case <-ctx.Done():
			return nil
		}
		if err != nil {
			return nil
		}
	}
}
