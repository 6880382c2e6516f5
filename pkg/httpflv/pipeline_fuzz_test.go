package httpflv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"io"
	"net/http"
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
	pipeQueue      = 64
	pipeGOPPackets = 128
	// pipeMaxMessage plays rtmp.max_message_size: larger tags are not
	// published. pipeQueueBytes plays hub.queue_max_bytes, which config
	// validation keeps at least that large.
	pipeMaxMessage = 32 << 10
	pipeQueueBytes = pipeMaxMessage + 16<<10
	// pipeDrainEvery: the WS-FLV player takes what is queued every this
	// many tags (batches of several packets, as at a flush point).
	pipeDrainEvery = 8
)

// FuzzPipeline feeds arbitrary FLV tag sequences (mediatest.PipelineTags)
// through RTMP ingest's path (mediatest.IngestPacket, a hub publisher with
// the ingest validator) to HTTP-FLV and WS-FLV players, and checks what
// they write: no panic; the HTTP/1.1 chunked body de-chunks and the
// WebSocket frames parse (RFC 6455 §5.2, server frames) into an FLV stream
// that flv.Reader reads back into exactly the tags the player's filter
// keeps of what the hub delivered (type, timestamp, body, in order), under
// header flags that match them; delivered DTS never go back per track; the
// hub delivers only packets the validator accepted, each once per reader,
// and never queues more packets or media bytes than its bounds; the output
// is at most a small multiple of the input.
//
// Three players: an HTTP-FLV one subscribed before the first packet and
// drained after every tag; a WS-FLV one joining midway (GOP cache replay),
// which reads what it is primed with at once and then every
// pipeDrainEvery tags; and a real player (player.run, HTTP
// or WS by input length parity) joining later, which drains only once the
// stream has ended, so its queue overflows on long inputs. The first two
// run the player's own steps (track gate, FLV header, writePackets and
// the sinks' framing) without its blocking waits, so every run is
// deterministic.
//
// Tag.Event bits, applied before the tag is published:
//
//	bit 0  the next late player (WS-FLV, then the real one) subscribes here;
//	       players not placed by an event join at 1/2 and 3/4 of the tags
//	bit 1  toggles a stall of the WS-FLV player: stalled, it does not
//	       drain (overflow, keyframe resync, eviction)
//	bit 2  the publisher reconnects (Close, then Publish within the
//	       reconnect grace: the hub resumes the stream, readers resync)
//
// Run for long with (the default -fuzzminimizetime of 60s would spend most
// of the run minimizing each new input: an execution takes up to a
// millisecond and inputs are kilobytes):
//
//	go test -run '^$' -fuzz '^FuzzPipeline$' -fuzztime 10m -fuzzminimizetime 5s ./pkg/httpflv
//
// (or ./scripts/fuzz.sh 10m pkg/httpflv:FuzzPipeline).
func FuzzPipeline(f *testing.F) {
	for _, s := range mediatest.PipelineSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		runPipeline(t, in)
	})
}

func runPipeline(t *testing.T, in []byte) {
	tags := mediatest.PipelineTags(in)
	h := hub.New(hub.Config{
		QueueSize:      pipeQueue,
		QueueMaxBytes:  pipeQueueBytes,
		GOPMaxPackets:  pipeGOPPackets,
		ReconnectGrace: time.Minute, // never runs out: Hub.Close ends the stream
		Validator:      func() hub.PacketValidator { return ingest.New() },
	})
	defer h.Close()
	src := pipetest.NewPublisher(t, h, pipeKey, pipeMaxMessage)
	defer src.Close()

	var (
		accepted   []*av.Packet // what the validator let into the stream, in order
		acceptedAt = map[*av.Packet]int{}
	)
	early := subscribePlayer(t, h, "http early", false, nil)
	defer early.p.reader.Close()
	var late []*pipePlayer
	defer func() {
		for _, pp := range late {
			pp.p.reader.Close()
		}
	}()
	joinAt := [2]int{len(tags) / 2, len(tags) * 3 / 4}
	join := func() {
		switch len(late) {
		case 0:
			// A player reads at once what it is primed with (hold).
			pp := subscribePlayer(t, h, "ws midway", true, accepted)
			pp.drain(t)
			late = append(late, pp)
		case 1:
			late = append(late, subscribePlayer(t, h, "real late", len(in)%2 == 1, accepted))
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
			acceptedAt[p] = len(accepted)
			accepted = append(accepted, p)
		}

		early.checkQueue(t)
		for _, pp := range late {
			pp.checkQueue(t)
		}
		early.drain(t)
		if len(late) > 0 && !stalled && i%pipeDrainEvery == pipeDrainEvery-1 {
			late[0].drain(t)
		}
	}
	for len(late) < 2 {
		join()
	}
	si := early.p.reader.Stream()
	require.Equal(t, src.Rejected, si.InvalidPackets, "the hub rejected what the validator rejects")
	require.Equal(t, uint64(len(accepted)), si.Packets, "the hub took every accepted packet")
	h.Close() // the stream ends: readers drain, then io.EOF

	for _, pp := range []*pipePlayer{early, late[0]} {
		pp.finish(t)
		pp.check(t, acceptedAt, len(in), len(tags))
	}
	last := late[1]
	runErr := last.p.run(last.info)
	require.Error(t, runErr, "run ends with the stream")
	last.err = runErr
	last.end(runErr)
	last.checkReal(t, accepted, len(in), len(tags))
}

// pipePlayer is one player of the pipeline and what it was given.
type pipePlayer struct {
	name string
	ws   bool
	p    *player
	conn *pipetest.Conn
	info hub.StreamInfo
	end  func(error) // the output's end, as serve calls it

	gate    *trackGate
	opened  bool         // the FLV header is written
	pending []*av.Packet // held until the gate decides
	got     []*av.Packet // every packet the hub delivered, in order
	joinAt  int          // accepted packets published before the subscription
	// The reader's queue bounds, in packets and media bytes, and the most
	// media bytes found queued at a drain.
	limit, byteLimit, maxBytes int
	err                        error // the reader's terminal error
}

// subscribePlayer subscribes a player after the accepted packets were
// published.
func subscribePlayer(t *testing.T, h *hub.Hub, name string, ws bool, accepted []*av.Packet) *pipePlayer {
	t.Helper()
	proto := "http-flv"
	if ws {
		proto = "ws-flv"
	}
	rd, err := h.Subscribe(pipeKey, hub.ReaderInfo{Protocol: proto, RemoteAddr: name})
	require.NoError(t, err)
	ctx, cancel := context.WithCancelCause(context.Background())
	t.Cleanup(func() { cancel(nil) })
	pp := &pipePlayer{
		name: name, ws: ws, conn: &pipetest.Conn{}, info: rd.Stream(), joinAt: len(accepted),
		p: &player{proto: proto, key: pipeKey, remote: name, start: time.Now(), reader: rd, ctx: ctx, cancel: cancel},
	}
	pp.p.setConn(pp.conn)
	// The writers as newWSWriter and startHTTP make them, except that the
	// output writes slice by slice (pipetest.Conn has no writev) with no
	// bufio.Writer (64 KiB per player and run).
	out := batch.NewOut(pp.conn, time.Minute, 0)
	if ws {
		w := &wsWriter{conn: pp.conn, out: out, src: pp.conn, readDone: make(chan struct{})}
		pp.p.w = batch.NewWriter(out, w, wsReserved)
		pp.end = func(cause error) {
			close(w.readDone) // no client: nothing to wait for
			w.end(cause)
		}
	} else {
		hdr := http.Header{}
		setFLVHeaders(hdr)
		f := &chunkedFraming{head: responseHead(hdr, true), chunked: true}
		pp.p.w = batch.NewWriter(out, f, chunkedReserved)
		pp.end = func(cause error) { endChunked(pp.p.w, f, pp.conn, cause) }
	}
	pp.p.pkts = make([]*av.Packet, 0, batch.ReadPackets)
	// hub.Config.QueueSize and QueueMaxBytes, raised to keep room for
	// live packets after a long primed GOP cache (hub stream.addReaderLocked),
	// which holds at most the media since the last keyframe, and metadata
	// and two headers are primed with it.
	n, b := 3, 0
	for i := len(accepted) - 1; i >= 0; i-- {
		if q := accepted[i]; q.IsMedia() && !q.Header {
			n++
			b += len(q.Data)
			if q.Kind == av.KindVideo && q.Keyframe {
				break
			}
		}
	}
	pp.limit, pp.byteLimit = pipeQueue, pipeQueueBytes
	if n > pipeQueue/2 {
		pp.limit = pipetest.Pow2(n + pipeQueue/2)
	}
	if b > pipeQueueBytes/2 {
		pp.byteLimit = b + pipeQueueBytes/2
	}
	// The gate as at subscription (player.hold); its clock never runs:
	// the stream is younger than holdTimeout for the whole input.
	pp.gate = newTrackGate(pp.info, pp.info.Since)
	return pp
}

func (pp *pipePlayer) checkQueue(t *testing.T) {
	if q := pp.p.reader.Stats().Queued; q > pp.limit {
		pipetest.Failf(t, "%s: %d packets queued, bound %d", pp.name, q, pp.limit)
	}
}

// drain takes what is queued without blocking and writes it as the player
// does: held until the track gate decides (player.hold), then the FLV
// header alone and every packet through Frame (player.run).
func (pp *pipePlayer) drain(t *testing.T) {
	p := pp.p
	queued := 0 // media bytes taken in this call: all that was queued
	defer func() { pp.maxBytes = max(pp.maxBytes, queued) }()
	for pp.err == nil {
		pkts, err := p.reader.TryRead(p.pkts[:0])
		if err != nil {
			pp.err = err // only once nothing is queued
			pipetest.NoErr(t, p.flush())
			return
		}
		if len(pkts) == 0 {
			pipetest.NoErr(t, p.flush()) // what a full batch left
			return
		}
		pp.got = append(pp.got, pkts...)
		for _, pk := range pkts {
			queued += pipetest.MediaBytes(pk)
		}
		if !pp.opened {
			for _, pk := range pkts {
				pp.gate.observe(pk)
			}
			pp.pending = append(pp.pending, pkts...)
			clear(pkts)
			if pp.gate.ready(false) {
				pp.open(t)
			}
			continue
		}
		for _, pk := range pkts {
			pipetest.NoErr(t, p.Frame(pk))
		}
		clear(pkts)
	}
}

// open writes the FLV header and what the gate held (player.hold's end).
func (pp *pipePlayer) open(t *testing.T) {
	t.Helper()
	p := pp.p
	p.hasAudio, p.hasVideo = pp.gate.flags()
	p.started = !p.hasVideo
	pipetest.NoErr(t, p.add(flv.Header(p.hasAudio, p.hasVideo)))
	pipetest.NoErr(t, p.flush())
	pipetest.NoErr(t, p.writeBatch(pp.pending))
	pp.pending, pp.opened = nil, true
}

// finish drains the ended stream and ends the output as serve does: a stream
// that ended (io.EOF) is written out even if the gate was still holding.
func (pp *pipePlayer) finish(t *testing.T) {
	t.Helper()
	pp.drain(t)
	require.Error(t, pp.err, "%s: the reader ends with the stream", pp.name)
	if !pp.opened && errors.Is(pp.err, io.EOF) && pp.gate.ready(true) {
		pp.open(t)
	}
	pp.end(pp.err)
}

func (pp *pipePlayer) check(t *testing.T, acceptedAt map[*av.Packet]int, inLen, nTags int) {
	t.Helper()
	pipetest.CheckDelivered(t, pp.name, pp.got, pp.joinAt, acceptedAt)
	require.LessOrEqual(t, pp.maxBytes, pp.byteLimit, "%s: media bytes queued", pp.name)
	stream := pp.output(t, inLen, nTags)
	if !pp.opened {
		require.Empty(t, stream, "%s: FLV bytes before the header", pp.name)
		return
	}
	fh, tags := parseFLV(t, pp.name, stream)
	require.Equal(t, pp.p.hasAudio, fh.HasAudio, "%s: audio flag", pp.name)
	require.Equal(t, pp.p.hasVideo, fh.HasVideo, "%s: video flag", pp.name)
	want := keptTags(pp.got, pp.p.hasAudio, pp.p.hasVideo)
	if len(tags) != len(want) {
		pipetest.Failf(t, "%s: %d tags written, want %d", pp.name, len(tags), len(want))
	}
	for i, w := range want {
		if g := tags[i]; w.Type != g.Type || w.Timestamp != g.Timestamp || !bytes.Equal(w.Body, g.Body) {
			pipetest.Failf(t, "%s: tag %d is type %d at %d (%d bytes), want type %d at %d (%d bytes)",
				pp.name, i, g.Type, g.Timestamp, len(g.Body), w.Type, w.Timestamp, len(w.Body))
		}
	}
	require.Equal(t, uint64(len(pp.got)-len(want)), pp.p.skipped, "%s: skipped count", pp.name)
}

// checkReal checks the player that ran player.run: its output parses, every
// tag is one of an accepted packet, timestamps per track never go back,
// and every packet it was delivered was written or counted as skipped.
func (pp *pipePlayer) checkReal(t *testing.T, accepted []*av.Packet, inLen, nTags int) {
	t.Helper()
	stream := pp.output(t, inLen, nTags)
	if len(stream) == 0 {
		return // evicted, or nothing to decide the header on
	}
	fh, tags := parseFLV(t, pp.name, stream)
	require.Equal(t, pp.p.hasAudio, fh.HasAudio)
	require.Equal(t, pp.p.hasVideo, fh.HasVideo)
	seed := maphash.MakeSeed()
	byContent := make(map[tagID]*av.Packet, len(accepted))
	for _, pk := range accepted {
		byContent[tagIDOf(seed, flv.TagTypeOf(pk.Kind), uint32(pk.DTS), pk.Data)] = pk
	}
	pkts := make([]*av.Packet, 0, len(tags))
	for i, tg := range tags {
		pk, ok := byContent[tagIDOf(seed, tg.Type, tg.Timestamp, tg.Body)]
		switch {
		case !ok:
			pipetest.Failf(t, "%s: tag %d is no accepted packet", pp.name, i)
		case !pp.p.hasVideo && pk.Kind == av.KindVideo, !pp.p.hasAudio && pk.Kind == av.KindAudio:
			pipetest.Failf(t, "%s: tag %d (%s) of a track the FLV header does not flag", pp.name, i, pk.Kind)
		}
		pkts = append(pkts, pk)
	}
	require.NoError(t, mediatest.CheckTrackDTS(pkts), pp.name)
	require.Equal(t, pp.p.reader.Stats().Delivered, uint64(len(tags))+pp.p.skipped,
		"%s: delivered packets neither written nor skipped", pp.name)
}

// tagID identifies a tag by content.
type tagID struct {
	typ  uint8
	ts   uint32
	size int
	hash uint64
}

func tagIDOf(seed maphash.Seed, typ uint8, ts uint32, body []byte) tagID {
	return tagID{typ: typ, ts: ts, size: len(body), hash: maphash.Bytes(seed, body)}
}

// output unframes what the player wrote into its FLV byte stream. A
// stream that ended (io.EOF) must be complete: the last chunk, or a close
// frame 1000; an evicted player's output just stops after a batch.
func (pp *pipePlayer) output(t *testing.T, inLen, nTags int) []byte {
	t.Helper()
	out := pp.conn.Bytes()
	// Per tag at most its 15 bytes of FLV framing, 3 of the legacy HEVC
	// rewrite and a chunk or frame header; plus the response head.
	require.LessOrEqual(t, len(out), 1024+inLen+48*nTags, "%s: output out of proportion to the input", pp.name)
	complete := errors.Is(pp.err, io.EOF)
	if pp.ws {
		return unframeWS(t, pp.name, out, complete)
	}
	if len(out) == 0 {
		require.False(t, complete, "%s: an ended stream still answers", pp.name)
		return nil
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(bytes.NewReader(out), 512), nil)
	require.NoError(t, err, pp.name)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, []string{"chunked"}, resp.TransferEncoding)
	require.Equal(t, "video/x-flv", resp.Header.Get("Content-Type"))
	body, err := io.ReadAll(resp.Body)
	if complete {
		require.NoError(t, err, "%s: chunked body", pp.name)
	} else if err != nil {
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "%s: chunked body", pp.name)
	}
	return body
}

// unframeWS parses server frames (RFC 6455 §5.2: FIN set, no RSV bits, not
// masked, minimal length) and returns the binary payloads joined. The
// first message is the FLV header alone; a stream that ended is closed
// with 1000.
func unframeWS(t *testing.T, name string, b []byte, complete bool) []byte {
	t.Helper()
	var stream []byte
	closed := false
	for n := 0; len(b) > 0; n++ {
		if closed {
			pipetest.Failf(t, "%s: frame %d after the close frame", name, n)
		}
		if len(b) < 2 || b[0]&0xF0 != 0x80 || b[1]&0x80 != 0 {
			pipetest.Failf(t, "%s: frame %d header % x: want FIN, no RSV bits, unmasked", name, n, b[:min(len(b), 2)])
		}
		op, l := b[0]&0x0F, uint64(b[1]&0x7F)
		b = b[2:]
		switch l {
		case 126:
			if len(b) < 2 {
				pipetest.Failf(t, "%s: frame %d length cut", name, n)
			}
			if l = uint64(binary.BigEndian.Uint16(b)); l < 126 {
				pipetest.Failf(t, "%s: frame %d: non-minimal length %d", name, n, l)
			}
			b = b[2:]
		case 127:
			if len(b) < 8 {
				pipetest.Failf(t, "%s: frame %d length cut", name, n)
			}
			if l = binary.BigEndian.Uint64(b); l <= 0xFFFF {
				pipetest.Failf(t, "%s: frame %d: non-minimal length %d", name, n, l)
			}
			b = b[8:]
		}
		if l > uint64(len(b)) {
			pipetest.Failf(t, "%s: frame %d payload cut (%d of %d bytes)", name, n, len(b), l)
		}
		payload := b[:l]
		b = b[l:]
		switch {
		case op == wsOpBinary && len(payload) == 0:
			pipetest.Failf(t, "%s: frame %d: empty message", name, n)
		case op == wsOpBinary && n == 0 && len(payload) != flv.FileHeaderSize+flv.TrailerSize:
			pipetest.Failf(t, "%s: the first message is %d bytes, not the FLV header alone", name, len(payload))
		case op == wsOpBinary:
			stream = append(stream, payload...)
		case op == wsOpClose:
			require.GreaterOrEqual(t, len(payload), 2, name)
			require.Equal(t, wsCloseNormal, int(binary.BigEndian.Uint16(payload)), name)
			closed = true
		default:
			pipetest.Failf(t, "%s: frame %d opcode %#x", name, n, op)
		}
	}
	require.Equal(t, complete, closed, "%s: close frame iff the stream ended", name)
	return stream
}

// parseFLV reads an FLV stream back (flv.Reader): the header, then whole
// tags to the end, each PreviousTagSize right.
func parseFLV(t *testing.T, name string, b []byte) (flv.FileHeader, []flv.Tag) {
	t.Helper()
	fr := flv.NewReader(bufio.NewReaderSize(bytes.NewReader(b), 512)) // not 64 KiB per run
	fh, err := fr.ReadHeader()
	require.NoError(t, err, name)
	var tags []flv.Tag
	for {
		tag, err := fr.ReadTag()
		if errors.Is(err, io.EOF) {
			require.Zero(t, fr.SizeMismatches(), "%s: PreviousTagSize = 11 + DataSize after every tag", name)
			return fh, tags
		}
		if err != nil {
			pipetest.Failf(t, "%s: tag %d: %v", name, len(tags), err)
		}
		tags = append(tags, tag)
	}
}

// keptTags is what a player writes of the packets it was delivered, in
// order (the contract of player.keep): script data always; no track the
// FLV header does not flag, and no E-RTMP video Metadata; with video
// flagged, nothing but sequence headers (and script data) until the first
// video keyframe.
func keptTags(got []*av.Packet, hasAudio, hasVideo bool) []mediatest.Tag {
	out := make([]mediatest.Tag, 0, len(got))
	started := !hasVideo
	for _, pk := range got {
		switch pk.Kind {
		case av.KindVideo:
			if !hasVideo || flv.IsVideoMetadata(pk) || !started && !pk.Header && !pk.Keyframe {
				continue
			}
			if !pk.Header && pk.Keyframe {
				started = true
			}
		case av.KindAudio:
			if !hasAudio || !started && !pk.Header {
				continue
			}
		}
		out = append(out, mediatest.TagOf(pk))
	}
	return out
}
