package rtmp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"hash/maphash"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/ingest"
	"github.com/ripplemedia/ripple/pkg/internal/batch"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
	"github.com/ripplemedia/ripple/pkg/internal/pipetest"
)

// The pipeline harness: a hub small enough that queues overflow and GOPs
// get dropped within one input (mediatest.MaxPipelineTags tags).
const (
	pipeKey        = "live/fuzz"
	pipeStreamID   = 1 // what createStream gives the first stream
	pipeQueue      = 64
	pipeGOPPackets = 128
	// pipeMaxOverflows: the first overflow resyncs a reader, the second
	// evicts it, both within one input.
	pipeMaxOverflows = 2
	// pipeMaxMessage plays rtmp.max_message_size: larger tags are not
	// published. It is above 65536 so that the largest chunk size still
	// splits a message. pipeQueueBytes plays hub.queue_max_bytes, which
	// config validation keeps at least that large.
	pipeMaxMessage = 128 << 10
	pipeQueueBytes = pipeMaxMessage + 16<<10
	// pipeDrainEvery: the midway player's writer wakes every this many
	// tags (batches of several packets).
	pipeDrainEvery = 8
	// pipeAckWindow is the window the players are told at connect.
	pipeAckWindow = DefaultAckWindow
	// pipeLongRun is where the stream's clock stands when an input starts
	// on a stream that has run for hours: a second before the 24-bit
	// timestamp field runs out (RTMP 1.0 §5.3.1.3, 4 h 39 min).
	pipeLongRun = extendedTimestamp - 1000
)

// pipeChunkSizes are the outgoing chunk sizes the input picks from: the
// protocol default, ours, and the largest we send.
var pipeChunkSizes = [...]int{DefaultChunkSize, DefaultOutChunkSize, maxOutChunkSize}

// FuzzPipeline feeds arbitrary FLV tag sequences (mediatest.PipelineTags)
// through RTMP ingest's path (mediatest.IngestPacket, a hub publisher with
// the ingest validator) to RTMP players and a relay push, and reads what
// their connection writers write back with the package's own ChunkReader
// and with the client's play path (ClientConn.ReadPacket, what an edge
// pull reads). It checks, besides no panic:
//
//   - framing: the bytes parse into whole messages (PartialBytes is 0 after
//     every message and at every flush, which ends at a message boundary),
//     each framed byte for byte as RTMP 1.0 §5.3.1 and Ripple's writers
//     say (pipeFrame: type 0 then type-3 chunks on Ripple's chunk stream
//     for its type, at the chunk size in force, an extended timestamp
//     repeated on every chunk):
//     a player's connect and play replies exactly as the server sends them
//     (window, bandwidth, SetChunkSize, results, StreamBegin, Play.Reset,
//     Play.Start, |RtmpSampleAccess), then only audio, video and data
//     messages (types 8, 9, 18) on the play stream, each an accepted
//     packet's (timestamp uint32(DTS), extended past 0xFFFFFF, and its
//     payload bytes), then, once the stream ended, StreamEOF and
//     Play.UnpublishNotify and nothing else;
//   - delivery: the hub takes exactly what the validator accepts; the push
//     reader gets accepted packets only, each once, in publish order; the
//     player subscribed from the start writes exactly the push's sequence;
//     every player writes each packet its reader delivered (all of them
//     unless evicted); DTS never go back per track;
//   - the client's play path reads every player's bytes back into packets
//     equal to the accepted ones (kind, codec, header and keyframe flags,
//     CTS, payload, uint32(DTS)), then io.EOF;
//   - memory: reader queues within QueueSize (raised for a primed GOP),
//     the media bytes a drain takes within QueueMaxBytes, primed queues
//     within the GOP cache bound, writer batches within batch.MaxBytes and
//     batch.MaxBufs and their buffers back within batch.KeepBufs and
//     keepArenaBytes after every flush, and every output within a small
//     multiple of the input.
//
// The outgoing chunk size of the server is picked by the input length
// (128, 4096 or 65536); the push uses the next one, so the per-packet
// chunk header cache (av.SlotRTMP) is built by whichever writer frames a
// packet first and the other builds its own headers (who goes first
// alternates per tag). An input whose length is 3 modulo 4 starts on a
// stream that has run for 4 h 39 min (longRun), so its timestamps cross
// into the extended timestamp field. The hub evicts a reader at its second
// overflow (pipeMaxOverflows).
//
// Four writers: an RTMP player subscribed before the first packet and a
// relay push (a client connection publishing the hub reader's packets),
// both drained after every tag; a player joining midway (GOP cache
// replay), whose writer drains at once and then every pipeDrainEvery tags;
// and a player joining later that drains only once the stream has ended,
// so its queue overflows on long inputs. Every writer runs its own steps
// (handle, drainPlay, flush) on the test goroutine: no socket, no sleep,
// deterministic.
//
// Tag.Event bits, applied before the tag is published, as in the HTTP-FLV
// target:
//
//	bit 0  the next late player (midway, then last) subscribes here;
//	       players not placed by an event join at 1/2 and 3/4 of the tags
//	bit 1  toggles a stall of the midway player: stalled, it does not
//	       drain (overflow, keyframe resync, eviction)
//	bit 2  the publisher reconnects (Close, then Publish within the
//	       reconnect grace: the hub resumes the stream, readers resync)
//
// Run for long with (see the HTTP-FLV target on -fuzzminimizetime):
//
//	go test -run '^$' -fuzz '^FuzzPipeline$' -fuzztime 10m -fuzzminimizetime 5s ./pkg/rtmp
//
// (or ./scripts/fuzz.sh 10m pkg/rtmp:FuzzPipeline).
func FuzzPipeline(f *testing.F) {
	for _, s := range mediatest.PipelineSeeds(f) {
		f.Add(s)
		// The same stream on a stream that has run for hours, in 128-byte
		// chunks (length 3 modulo 12): its larger messages take type-3
		// chunks with extended timestamps. Zero bytes pad the input: an
		// incomplete record, or empty video tags, which ingest ignores.
		f.Add(append(s[:len(s):len(s)], make([]byte, (15-len(s)%12)%12)...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		runPipeline(t, in)
	})
}

func runPipeline(t *testing.T, in []byte) {
	tags := mediatest.PipelineTags(in)
	serverCS := pipeChunkSizes[len(in)%3]
	pushCS := pipeChunkSizes[(len(in)+1)%3]
	h := hub.New(hub.Config{
		QueueSize:      pipeQueue,
		QueueMaxBytes:  pipeQueueBytes,
		MaxOverflows:   pipeMaxOverflows,
		GOPMaxPackets:  pipeGOPPackets,
		ReconnectGrace: time.Minute, // never runs out: Hub.Close ends the stream
		Validator:      func() hub.PacketValidator { return ingest.New() },
	})
	defer h.Close()
	src := pipetest.NewPublisher(t, h, pipeKey, pipeMaxMessage)
	defer src.Close()

	pc := &pipeCheck{seed: maphash.MakeSeed(), acceptedAt: map[*av.Packet]int{}, byContent: map[pipeTagID]*av.Packet{}}
	if len(in)%4 == 3 {
		longRun(t, src, pc)
	}
	push := subscribePush(t, h, pc, pushCS)
	defer push.close()
	early := subscribePlayer(t, h, pc, "early", serverCS)
	defer early.close()
	var late []*pipePlayer
	defer func() {
		for _, pp := range late {
			pp.close()
		}
	}()
	joinAt := [2]int{len(tags) / 2, len(tags) * 3 / 4}
	join := func() {
		switch len(late) {
		case 0:
			pp := subscribePlayer(t, h, pc, "midway", serverCS)
			pp.drain(t) // the join wakes the reader: its writer sends the replay
			late = append(late, pp)
		case 1:
			late = append(late, subscribePlayer(t, h, pc, "last", serverCS))
		}
	}
	stalled := false
	for i, tag := range tags {
		if len(late) < 2 && (tag.Event&1 != 0 || i >= joinAt[len(late)]) {
			join()
		}
		if tag.Event&2 != 0 {
			stalled = !stalled
		}
		// A reconnect (Event bit 4), then the packet as RTMP ingest
		// and the hub's validator take it.
		p, ok := src.Publish(t, tag)
		if p == nil {
			continue // RTMP ingest drops (and counts) it
		}
		if ok {
			pc.accept(p)
		}

		push.checkQueue(t)
		early.checkQueue(t)
		for _, pp := range late {
			pp.checkQueue(t)
		}
		// Who frames a packet first builds its cached chunk headers.
		if i%2 == 0 {
			push.drain(t)
			early.drain(t)
		} else {
			early.drain(t)
			push.drain(t)
		}
		if len(late) > 0 && !stalled && i%pipeDrainEvery == pipeDrainEvery-1 {
			late[0].drain(t)
		}
	}
	for len(late) < 2 {
		join()
	}
	si := push.r.Stream()
	require.Equal(t, src.Rejected, si.InvalidPackets, "the hub rejected what the validator rejects")
	require.Equal(t, uint64(len(pc.accepted)+pc.unrecorded), si.Packets, "the hub took every accepted packet")
	h.Close() // the stream ends: readers drain, then io.EOF

	push.drain(t)
	require.ErrorIs(t, push.err, io.EOF, "push: the reader ends with the stream")
	pipetest.CheckDelivered(t, "push", push.got, push.joinAt, pc.acceptedAt)
	require.Zero(t, push.r.Stats().Overflows, "push: a reader that keeps up never overflows")
	push.check(t, len(in), len(tags))

	for _, pp := range append([]*pipePlayer{early}, late...) {
		pp.drain(t)
		require.Error(t, pp.err, "%s: the reader ends with the stream", pp.name)
		pp.check(t, len(in), len(tags))
	}
	require.Zero(t, early.r.Stats().Overflows, "early: a reader that keeps up never overflows")
	if len(early.media) != len(push.got) {
		pipetest.Failf(t, "early player wrote %d packets, the push reader got %d", len(early.media), len(push.got))
	}
	for i, w := range push.got {
		if g := early.media[i]; g.Kind != w.Kind || g.DTS != w.DTS || !bytes.Equal(g.Data, w.Data) {
			pipetest.Failf(t, "early player packet %d is %s at %d, the push reader got %s at %d", i, g.Kind, g.DTS, w.Kind, w.DTS)
		}
	}
}

// longRun publishes what makes the stream's clock reach pipeLongRun: the
// hub starts a stream at 0 and takes at most maxForwardJump (3 s) per
// packet, so an input alone never gets near the extended timestamp. The
// packets are MP3 frames (the validator does not look into them), 3 s
// apart; the GOP cache keeps at most the last one (audio only: at most
// 1 s), so only the last few are recorded as accepted, the others counted.
func longRun(t *testing.T, src *pipetest.Publisher, pc *pipeCheck) {
	const step, recorded = 3000, 4
	mp3 := []byte{0x2F, 0xFF, 0xFB, 0x90, 0x64}
	n := pipeLongRun/step + 1
	for i := range n {
		p, err := flv.PacketFromTag(flv.TagAudio, uint32(i*step), mp3)
		pipetest.NoErr(t, err)
		if !src.WritePacket(t, p) {
			pipetest.Failf(t, "long run: the validator refused MP3 frame %d", i)
		}
		if i < n-recorded {
			pc.unrecorded++
		} else {
			pc.accept(p)
		}
	}
	require.Greater(t, pc.accepted[len(pc.accepted)-1].DTS, int64(pipeLongRun-step), "the stream's clock")
}

// pipeCheck is what the checks know of the published stream.
type pipeCheck struct {
	accepted   []*av.Packet // what the validator let into the stream, in order
	acceptedAt map[*av.Packet]int
	seed       maphash.Seed
	// byContent: accepted packets by their RTMP message (identical
	// messages map to the first: same kind, DTS and flags).
	byContent map[pipeTagID]*av.Packet
	indexed   int // accepted packets in byContent
	// unrecorded counts accepted packets left out of accepted: published
	// before any reader subscribed, and no longer in the GOP cache.
	unrecorded int
}

// accept records p, accepted by the validator.
func (pc *pipeCheck) accept(p *av.Packet) {
	pc.acceptedAt[p] = len(pc.accepted)
	pc.accepted = append(pc.accepted, p)
}

// lookup returns the accepted packet a media message carries, or nil. The
// index is keyed by what the hub made of each packet (its DTS is fixed at
// publish, before any writer frames it), so it is built as they come.
func (pc *pipeCheck) lookup(m *Message) *av.Packet {
	for _, p := range pc.accepted[pc.indexed:] {
		_, typ := mediaCSID(p.Kind)
		id := pc.id(typ, uint32(p.DTS), p.Data)
		if _, dup := pc.byContent[id]; !dup {
			pc.byContent[id] = p
		}
	}
	pc.indexed = len(pc.accepted)
	return pc.byContent[pc.id(m.TypeID, m.Timestamp, m.Payload)]
}

// pipeTagID identifies an RTMP media message by content.
type pipeTagID struct {
	typ  uint8
	ts   uint32
	size int
	hash uint64
}

func (pc *pipeCheck) id(typ uint8, ts uint32, body []byte) pipeTagID {
	return pipeTagID{typ: typ, ts: ts, size: len(body), hash: maphash.Bytes(pc.seed, body)}
}

// pipeWriter is one connection writer, the bytes it wrote and their parse.
type pipeWriter struct {
	name   string
	w      *writer
	conn   *pipetest.Conn
	r      *hub.Reader
	cs     int // outgoing chunk size
	joinAt int // accepted packets published before the subscription
	parsed *bufio.Reader
	cr     *ChunkReader
	msgs   int // messages parsed
	// refCS is the chunk size in force (the last SetChunkSize read), at
	// which pipeFrame frames each message read back into refBuf.
	refCS  int
	refBuf []byte
	// The reader's queue bounds, in packets and media bytes (the most
	// media bytes one drain took is checked against byteLimit).
	limit, byteLimit int
	err              error // the reader's (or the writer's) terminal error
	fails            *pipeFails
}

func newPipeWriter(name string, cs int, client bool) *pipeWriter {
	pw := &pipeWriter{name: name, conn: &pipetest.Conn{}, cs: cs, fails: &pipeFails{}, refCS: DefaultChunkSize}
	nop := func(error) {}
	if client {
		pw.w = newWriter(pw.conn, time.Minute, cs, nop, pw.fails.add, nop)
	} else {
		pw.w = newConnWriter(pw.conn, time.Minute, cs, nop, pw.fails.add, nop)
	}
	// The bytes are parsed as they are flushed: a ChunkReader over a
	// reader that returns io.EOF whenever it caught up with the writer
	// (bufio.Reader retries after an error it returned once).
	pw.parsed = bufio.NewReaderSize(&pipeTail{c: pw.conn}, 4096)
	pw.cr = NewChunkReader(pw.parsed, 0)
	return pw
}

// subscribe makes r the writer's reader and sets its queue bounds:
// hub.Config.QueueSize and QueueMaxBytes, raised to keep room for live
// packets after a long primed GOP cache (hub stream.addReaderLocked).
func (pw *pipeWriter) subscribe(t *testing.T, h *hub.Hub, pc *pipeCheck, proto string) {
	t.Helper()
	r, err := h.Subscribe(pipeKey, hub.ReaderInfo{Protocol: proto, RemoteAddr: pw.name})
	require.NoError(t, err)
	pw.r, pw.joinAt = r, len(pc.accepted)
	// Primed: metadata, two headers and the GOP cache.
	primed := r.Stats().Queued
	require.LessOrEqual(t, primed, pipeGOPPackets+3, "%s: primed queue beyond the GOP cache bound", pw.name)
	pw.limit, pw.byteLimit = pipeQueue, pipeQueueBytes
	if primed > pipeQueue/2 {
		pw.limit = pipetest.Pow2(primed + pipeQueue/2)
	}
	// The cache holds at most the media since the last keyframe.
	b := 0
	for i := len(pc.accepted) - 1; i >= 0; i-- {
		if q := pc.accepted[i]; q.IsMedia() && !q.Header {
			b += len(q.Data)
			if q.Kind == av.KindVideo && q.Keyframe {
				break
			}
		}
	}
	if b > pipeQueueBytes/2 {
		pw.byteLimit = b + pipeQueueBytes/2
	}
}

func (pw *pipeWriter) checkQueue(t *testing.T) {
	if q := pw.r.Stats().Queued; q > pw.limit {
		pipetest.Failf(t, "%s: %d packets queued, bound %d", pw.name, q, pw.limit)
	}
}

// handle applies a queued item as the writer loop does.
func (pw *pipeWriter) handle(t *testing.T, it outItem) {
	t.Helper()
	pipetest.NoErr(t, pw.w.handle(it))
}

// flush writes the batch as the loop does after a wake-up and checks
// what the writer keeps. ended: drainPlay added the end-of-stream messages
// (two slices) after its last check of the batch.
func (pw *pipeWriter) flush(t *testing.T, ended bool) {
	w := pw.w
	extra := 0
	if ended {
		extra = 2
	}
	b := w.bw.Batch()
	if b.Payload >= batch.MaxBytes+extra*256 || len(b.Bufs) >= batch.MaxBufs+extra {
		pipetest.Failf(t, "%s: a batch of %d bytes in %d slices was not written on the way", pw.name, b.Payload, len(b.Bufs))
	}
	pipetest.NoErr(t, w.flush())
	if cap(b.Bufs) > batch.KeepBufs || cap(w.arena) > keepArenaBytes {
		pipetest.Failf(t, "%s: the writer keeps %d slices and %d arena bytes after a flush", pw.name, cap(b.Bufs), cap(w.arena))
	}
}

// read parses the messages flushed since the last call. A flush ends at
// a message boundary, so nothing may be left half-read. Each message's
// bytes are exactly pipeFrame's.
func (pw *pipeWriter) read(t *testing.T, each func(*Message)) {
	for {
		start := pw.cr.BytesRead()
		m, err := pw.cr.ReadMessage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			pipetest.Failf(t, "%s: message %d: %v", pw.name, pw.msgs, err)
		}
		if n := pw.cr.PartialBytes(); n != 0 {
			pipetest.Failf(t, "%s: %d bytes held after message %d", pw.name, n, pw.msgs)
		}
		pw.refBuf = pipeFrame(pw.refBuf[:0], pw.refCS, pipeCSID(m.TypeID), m)
		if raw := pw.conn.Bytes()[start:pw.cr.BytesRead()]; !bytes.Equal(raw, pw.refBuf) {
			pipetest.Failf(t, "%s: message %d (type %d, %d bytes at %d) framed as % x..., want % x...", pw.name, pw.msgs,
				m.TypeID, len(m.Payload), m.Timestamp, raw[:min(len(raw), 24)], pw.refBuf[:min(len(pw.refBuf), 24)])
		}
		if m.TypeID == TypeSetChunkSize {
			n, err := ParseChunkSize(m.Payload)
			pipetest.NoErr(t, err)
			pw.refCS = n
		}
		each(m)
		pw.msgs++
	}
	if pw.parsed.Buffered() != 0 || pw.cr.PartialBytes() != 0 {
		pipetest.Failf(t, "%s: a flush ended inside a message (%d bytes unread, %d held)",
			pw.name, pw.parsed.Buffered(), pw.cr.PartialBytes())
	}
	if cap(pw.refBuf) > 1<<20 {
		pw.refBuf = nil
	}
}

// pipeFrame frames m as Ripple's writers promise to, written out from RTMP
// 1.0 §5.3.1 rather than with the package's helpers: a type-0 chunk (a
// one-byte basic header: csid < 64), then type-3 chunks of chunkSize
// payload bytes, and a timestamp that does not fit in 24 bits as 0xFFFFFF
// plus the 4-byte extended timestamp, repeated on every type-3 chunk
// (§5.3.1.3; ffmpeg needs it).
func pipeFrame(dst []byte, chunkSize int, csid uint32, m *Message) []byte {
	ts, ext := m.Timestamp, m.Timestamp >= 0xFFFFFF
	field := min(ts, 0xFFFFFF)
	n := len(m.Payload)
	dst = append(dst, byte(csid), byte(field>>16), byte(field>>8), byte(field), byte(n>>16), byte(n>>8), byte(n), m.TypeID,
		byte(m.StreamID), byte(m.StreamID>>8), byte(m.StreamID>>16), byte(m.StreamID>>24))
	for p := m.Payload; ; {
		if ext {
			dst = append(dst, byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts))
		}
		k := min(chunkSize, len(p))
		dst = append(dst, p[:k]...)
		if p = p[k:]; len(p) == 0 {
			return dst
		}
		dst = append(dst, 3<<6|byte(csid))
	}
}

// pipeCSID is the chunk stream Ripple sends a message type on.
func pipeCSID(typ uint8) uint32 {
	switch typ {
	case TypeSetChunkSize, TypeAbort, TypeAck, TypeUserControl, TypeWindowAckSize, TypeSetPeerBandwidth:
		return csidControl
	case TypeAudio:
		return csidAudio
	case TypeVideo:
		return csidVideo
	case TypeDataAMF0:
		return csidData
	}
	return csidCommand
}

// close detaches the reader as the writer goroutine's exit does.
func (pw *pipeWriter) close() {
	if pw.w.play != nil {
		pw.w.stopPlay()
	} else if pw.r != nil {
		pw.r.Close()
	}
}

// checkSize: per message at most a type-0 header of 16 bytes and a 5-byte
// type-3 header per further chunk, over payloads that add up to at most
// the input's bodies (a body flv rewrites grows by a few bytes); plus the
// connect and play replies.
func (pw *pipeWriter) checkSize(t *testing.T, inLen, nTags int) {
	t.Helper()
	in := inLen + 8*nTags
	bound := 2048 + in + 5*(in/pw.cs+nTags) + 16*nTags
	require.LessOrEqual(t, len(pw.conn.Bytes()), bound, "%s: output out of proportion to the input", pw.name)
}

// pipePush is a relay push: a client connection's writer forwarding its
// hub reader (relay pusher, ClientConn.Forward): the reader drained by the
// writer as a player's is, its end reported instead of StreamEOF.
type pipePush struct {
	pipeWriter
	pc    *pipeCheck
	ended chan error
	count atomic.Uint64
	base  int          // bytes written before the forwarding started
	got   []*av.Packet // every packet the hub delivered, in order
	media int          // media messages read
}

func subscribePush(t *testing.T, h *hub.Hub, pc *pipeCheck, cs int) *pipePush {
	t.Helper()
	pp := &pipePush{pipeWriter: *newPipeWriter("push", cs, true), pc: pc, ended: make(chan error, 1)}
	pp.subscribe(t, h, pc, "relay")
	// Dial: our chunk size first (the connect exchange is not media).
	pp.handle(t, outItem{op: opChunkSize, n: uint32(cs)})
	pp.flush(t, false)
	pp.read(t, func(m *Message) {
		if m.TypeID != TypeSetChunkSize {
			pipetest.Failf(t, "push: message type %d before the media", m.TypeID)
		}
	})
	pp.base = len(pp.conn.Bytes())
	pp.handle(t, outItem{op: opPlay, reader: pp.r, streamID: pipeStreamID, ended: pp.ended, count: &pp.count})
	return pp
}

// drain is the writer loop's wake-up, as for a player: drainPlay takes
// everything queued, the batch is written; the end of the reader is
// reported on ended, not to the peer.
func (pp *pipePush) drain(t *testing.T) {
	if pp.err != nil {
		return
	}
	delivered, written := pp.r.Stats().Delivered, pp.media
	// drainPlay, recording the packets the writer is handed.
	if err := pp.w.play.src.Drain(pp); err != nil {
		if err := pp.w.playEnded(err); err != nil {
			pipetest.Failf(t, "push: drainPlay: %v", err)
		}
	}
	select {
	case pp.err = <-pp.ended:
		if pp.w.play != nil {
			pipetest.Failf(t, "push: the writer still forwards an ended reader")
		}
	default:
	}
	pp.flush(t, false)
	queued := 0
	pp.read(t, func(m *Message) {
		if m.TypeID != TypeAudio && m.TypeID != TypeVideo && m.TypeID != TypeDataAMF0 {
			pipetest.Failf(t, "push: message %d of type %d among the media", pp.msgs, m.TypeID)
		}
		p := pp.pc.lookup(m)
		if p == nil {
			pipetest.Failf(t, "push: message %d (type %d at %d, %d bytes) is no accepted packet", pp.msgs, m.TypeID, m.Timestamp, len(m.Payload))
		}
		checkMedia(t, "push", p, m)
		queued += pipetest.MediaBytes(p)
		pp.media++
	})
	if queued > pp.byteLimit {
		pipetest.Failf(t, "push: %d media bytes were queued, bound %d", queued, pp.byteLimit)
	}
	if n, w := pp.r.Stats().Delivered-delivered, pp.media-written; n != uint64(w) {
		pipetest.Failf(t, "push: the reader delivered %d packets in this wake-up, the writer wrote %d", n, w)
	}
	if got, want := pp.count.Load(), len(pp.conn.Bytes())-pp.base; got != uint64(want) {
		pipetest.Failf(t, "push: %d bytes counted, %d written", got, want)
	}
}

// Frame records p and frames it as the writer does (batch.Framer).
func (pp *pipePush) Frame(p *av.Packet) error {
	pp.got = append(pp.got, p)
	return pp.w.Frame(p)
}

func (pp *pipePush) check(t *testing.T, inLen, nTags int) {
	t.Helper()
	pp.checkSize(t, inLen, nTags)
	require.Empty(t, pp.fails.get(), "push: the writer failed")
}

// checkMedia checks that m is the RTMP message of p: RTMP 1.0 §7.1.5 types
// by kind, the play stream, uint32(DTS) (the 24-bit field or the extended
// timestamp), the payload as is.
func checkMedia(t *testing.T, name string, p *av.Packet, m *Message) {
	_, typ := mediaCSID(p.Kind)
	if m.TypeID != typ || m.StreamID != pipeStreamID || m.Timestamp != uint32(p.DTS) || !bytes.Equal(m.Payload, p.Data) {
		pipetest.Failf(t, "%s: message type %d on stream %d at %d (%d bytes), want type %d on stream %d at %d (%d bytes)",
			name, m.TypeID, m.StreamID, m.Timestamp, len(m.Payload), typ, pipeStreamID, uint32(p.DTS), len(p.Data))
	}
}

// pipePlayer is one RTMP player: a server connection's writer playing a
// hub reader (conn.onPlay, writer_play.go).
type pipePlayer struct {
	pipeWriter
	pc      *pipeCheck
	replies []outItem    // what the connection sent before the media
	media   []*av.Packet // the accepted packets its media messages carry
	ended   int          // end-of-stream messages read (StreamEOF, UnpublishNotify)
}

// subscribePlayer connects and plays a player as the server does: connect
// replies, our chunk size, createStream's result, then onPlay's replies and
// the reader (its primed queue is written at the writer's next wake-up).
func subscribePlayer(t *testing.T, h *hub.Hub, pc *pipeCheck, name string, cs int) *pipePlayer {
	t.Helper()
	pp := &pipePlayer{pipeWriter: *newPipeWriter(name, cs, false), pc: pc}
	pp.subscribe(t, h, pc, "rtmp")
	msid := uint32(pipeStreamID)
	pp.replies = []outItem{
		{op: opMessage, csid: csidControl, msg: WindowAckSizeMessage(pipeAckWindow)},
		{op: opMessage, csid: csidControl, msg: SetPeerBandwidthMessage(pipeAckWindow, 2)},
		{op: opChunkSize, n: uint32(cs)},
		{op: opMessage, csid: csidCommand, msg: connectResult(1, 0, true)},
		{op: opMessage, csid: csidCommand, msg: resultMessage(2, float64(msid))},
		{op: opMessage, csid: csidControl, msg: UserControlMessage(EventStreamBegin, msid)},
		{op: opMessage, csid: csidCommand, msg: onStatusMessage(msid, levelStatus, codePlayReset, "playing and resetting "+pipeKey)},
		{op: opMessage, csid: csidCommand, msg: onStatusMessage(msid, levelStatus, codePlayStart, "started playing "+pipeKey)},
		{op: opMessage, csid: csidData, msg: sampleAccessMessage(msid)},
	}
	for _, it := range pp.replies {
		pp.handle(t, it)
	}
	pp.handle(t, outItem{op: opPlay, reader: pp.r, streamID: msid})
	pp.flush(t, false) // the loop writes what handle queued
	pp.read(t, func(m *Message) { pp.message(t, m) })
	return pp
}

// drain is the writer loop's wake-up: drainPlay takes everything queued,
// then the batch is written (and, once the stream ended, the end-of-stream
// messages). An eviction ends the connection without writing the batch.
func (pp *pipePlayer) drain(t *testing.T) {
	if pp.err != nil {
		return
	}
	delivered, written := pp.r.Stats().Delivered, len(pp.media)
	err := pp.w.drainPlay()
	switch {
	case err == nil:
	case errors.Is(err, ErrStreamEnded):
		pp.err = io.EOF
	case errors.Is(err, hub.ErrSlowReader):
		pp.err = err
		return // the loop fails the connection: the batch is not written
	default:
		pipetest.Failf(t, "%s: drainPlay: %v", pp.name, err)
	}
	pp.flush(t, pp.err != nil)
	queued := 0
	pp.read(t, func(m *Message) { queued += pp.message(t, m) })
	if queued > pp.byteLimit {
		pipetest.Failf(t, "%s: %d media bytes were queued, bound %d", pp.name, queued, pp.byteLimit)
	}
	if n, w := pp.r.Stats().Delivered-delivered, len(pp.media)-written; n != uint64(w) {
		pipetest.Failf(t, "%s: the reader delivered %d packets in this wake-up, the writer wrote %d", pp.name, n, w)
	}
}

// message checks one message of the player's output and returns the media
// bytes of the packet it carries (0 for others).
func (pp *pipePlayer) message(t *testing.T, m *Message) int {
	i := pp.msgs
	switch {
	case i < len(pp.replies):
		it := pp.replies[i]
		want := it.msg
		if it.op == opChunkSize {
			want = SetChunkSizeMessage(it.n)
		}
		if m.TypeID != want.TypeID || m.StreamID != want.StreamID || m.Timestamp != want.Timestamp || !bytes.Equal(m.Payload, want.Payload) {
			pipetest.Failf(t, "%s: reply %d is type %d on stream %d, want type %d on stream %d", pp.name, i, m.TypeID, m.StreamID, want.TypeID, want.StreamID)
		}
		return 0
	case pp.ended > 0 || m.TypeID == TypeUserControl:
		// RTMP 1.0 §7.1.7 StreamEOF, then NetStream.Play.UnpublishNotify.
		want := UserControlMessage(EventStreamEOF, pipeStreamID)
		if pp.ended == 1 {
			want = onStatusMessage(pipeStreamID, levelStatus, codePlayUnpublish, "stream is now unpublished")
		}
		if pp.ended > 1 || m.TypeID != want.TypeID || m.StreamID != want.StreamID || !bytes.Equal(m.Payload, want.Payload) {
			pipetest.Failf(t, "%s: message %d (type %d) at the end of the stream", pp.name, i, m.TypeID)
		}
		pp.ended++
		return 0
	case m.TypeID != TypeAudio && m.TypeID != TypeVideo && m.TypeID != TypeDataAMF0:
		pipetest.Failf(t, "%s: message %d of type %d among the media", pp.name, i, m.TypeID)
	}
	p := pp.pc.lookup(m)
	if p == nil {
		pipetest.Failf(t, "%s: message %d (type %d at %d, %d bytes) is no accepted packet", pp.name, i, m.TypeID, m.Timestamp, len(m.Payload))
	}
	checkMedia(t, pp.name, p, m)
	pp.media = append(pp.media, p)
	return pipetest.MediaBytes(p)
}

// check checks the player's whole output: the end-of-stream messages iff
// the stream ended for it, every delivered packet written (unless
// evicted), DTS per track, the size, and the client's play path.
func (pp *pipePlayer) check(t *testing.T, inLen, nTags int) {
	t.Helper()
	name := pp.name
	evicted := errors.Is(pp.err, hub.ErrSlowReader)
	if evicted {
		require.Zero(t, pp.ended, "%s: end of stream sent to an evicted player", name)
		require.LessOrEqual(t, uint64(len(pp.media)), pp.r.Stats().Delivered, name)
	} else {
		require.ErrorIs(t, pp.err, io.EOF, name)
		require.Equal(t, 2, pp.ended, "%s: StreamEOF and Play.UnpublishNotify end the stream", name)
		require.EqualValues(t, pp.r.Stats().Delivered, len(pp.media), "%s: every delivered packet is written", name)
	}
	require.GreaterOrEqual(t, pp.msgs, len(pp.replies), "%s: the play replies", name)
	require.NoError(t, mediatest.CheckTrackDTS(pp.media), name)
	pp.checkSize(t, inLen, nTags)
	pp.checkClient(t)
}

// checkClient reads the player's bytes with the client's play path
// (ClientConn.ReadPacket: control messages, statuses, keepMedia): the
// packets an edge pull would publish are the accepted ones, then io.EOF
// (the end-of-stream messages, or the bytes ending between messages).
func (pp *pipePlayer) checkClient(t *testing.T) {
	t.Helper()
	nc := &pipetest.Conn{}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	c := &ClientConn{
		cfg:       ClientConfig{Timeout: time.Minute},
		nc:        nc,
		raw:       nc,
		cr:        NewChunkReader(bufio.NewReaderSize(bytes.NewReader(pp.conn.Bytes()), 4096), 0),
		ctx:       ctx,
		cancel:    cancel,
		ackWindow: DefaultAckWindow,
		mode:      modePlaying,
		streamID:  pipeStreamID,
	}
	// Acknowledgements are queued for a writer that never runs (a few at
	// most: one per window of bytes read).
	c.w = newWriter(nc, time.Minute, DefaultOutChunkSize, func(error) {}, func(error) {}, func(error) {})
	for i := 0; ; i++ {
		got, err := c.ReadPacket()
		if errors.Is(err, io.EOF) {
			require.Equal(t, len(pp.media), i, "%s: packets the client read", pp.name)
			return
		}
		if err != nil {
			pipetest.Failf(t, "%s: client packet %d: %v", pp.name, i, err)
		}
		if i >= len(pp.media) {
			pipetest.Failf(t, "%s: client packet %d (%s) beyond the %d written", pp.name, i, got.Kind, len(pp.media))
		}
		want := pp.media[i]
		if got.Kind != want.Kind || got.Codec != want.Codec || got.Header != want.Header || got.Keyframe != want.Keyframe ||
			got.CTS != want.CTS || got.DTS != int64(uint32(want.DTS)) || !bytes.Equal(got.Data, want.Data) {
			pipetest.Failf(t, "%s: client packet %d is %s %s header %t key %t cts %d at %d (%d bytes), want %s %s header %t key %t cts %d at %d (%d bytes)",
				pp.name, i, got.Kind, got.Codec, got.Header, got.Keyframe, got.CTS, got.DTS, len(got.Data),
				want.Kind, want.Codec, want.Header, want.Keyframe, want.CTS, uint32(want.DTS), len(want.Data))
		}
	}
}

// pipeFails records what a writer's fail callback gets; AfterEnd calls it
// from its own goroutine.
type pipeFails struct {
	mu   sync.Mutex
	errs []error
}

func (f *pipeFails) add(err error) {
	f.mu.Lock()
	f.errs = append(f.errs, err)
	f.mu.Unlock()
}

func (f *pipeFails) get() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.errs...)
}

// pipeTail reads what was written to c so far, then io.EOF until more is.
type pipeTail struct {
	c   *pipetest.Conn
	off int
}

func (r *pipeTail) Read(p []byte) (int, error) {
	b := r.c.Bytes()
	if r.off >= len(b) {
		return 0, io.EOF
	}
	n := copy(p, b[r.off:])
	r.off += n
	return n, nil
}
