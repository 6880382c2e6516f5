package rtmp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxMessageSize is the message length limit NewChunkReader uses when
// given 0 or less. The 24-bit length field allows up to 16 MiB - 1. It
// equals the config default of rtmp.max_message_size.
const DefaultMaxMessageSize = 8 << 20

// Limits for AMF-encoded messages, far below the media limit: they are
// decoded into Go values (tens of bytes per input byte at worst), and a
// command arrives before any authorisation. Real connect commands are a few
// hundred bytes; onMetaData with a keyframe index a few tens of KiB.
const (
	MaxCommandSize = 64 << 10  // types 17 and 20
	MaxDataSize    = 256 << 10 // types 15 and 18 (metadata)
)

// amfLimit returns the size limit of AMF messages of type typeID and what to
// call them in errors; limit 0 means the type has only the general limit.
func amfLimit(typeID uint8) (kind string, limit int) {
	switch typeID {
	case TypeCommandAMF0, TypeCommandAMF3:
		return "command", MaxCommandSize
	case TypeDataAMF0, TypeDataAMF3:
		return "data", MaxDataSize
	}
	return "", 0
}

const (
	// maxPartialStreams bounds how many chunk streams may hold a partially
	// received message at once. Real peers interleave three or four.
	maxPartialStreams = 64
	// maxChunkStreams bounds the per-csid header state a peer can make us
	// keep (the 3-byte basic header allows 65599 ids; peers use a handful).
	maxChunkStreams = 1024
	// extendedTimestamp in the 24-bit field announces a 4-byte extended
	// timestamp (RTMP 1.0 §5.3.1.3).
	extendedTimestamp = 0xFFFFFF
)

// chunkStream is the reassembly state of one chunk stream id: the last
// message header seen on it (type 1, 2 and 3 chunks reuse its fields) and the
// message being reassembled, if any.
type chunkStream struct {
	hasHeader bool
	typeID    uint8
	streamID  uint32
	length    uint32
	timestamp uint32 // absolute timestamp of the current/last message
	delta     uint32 // timestamp delta a type-3 new message adds
	extended  bool   // the last type 0/1/2 header used an extended timestamp
	extTS     uint32 // its 32-bit extended timestamp field
	inMessage bool
	counted   bool // the message spans chunks and counts in ChunkReader.partial
	// buf holds the payload received so far (len) in a buffer of at most
	// twice what had arrived when it was last grown (cap, counted in
	// ChunkReader.held); it is handed to the Message when complete.
	buf []byte
}

// ChunkReader reassembles RTMP messages from the chunk stream (RTMP 1.0 §5.3).
// It is not safe for concurrent use; after it returns an error other than
// from the underlying reader's deadline the stream is out of sync and the
// connection must be closed.
//
// Memory follows the bytes that really arrived, never a declared length: a
// message's buffer starts at, and grows to, at most twice the payload of
// that message received so far (counting the bytes of it already in br's
// buffer), capped at its declared length, so a peer must send at least half
// of what we allocate, and a message is copied about once on its way (a
// 250 KB keyframe arriving in a 64 KiB read buffer is allocated in two or
// three steps). The buffers of all messages in progress together are held
// within a budget (SetMaxPartialBytes).
type ChunkReader struct {
	br             *bufio.Reader
	maxMessageSize int
	chunkSize      int
	bytesRead      uint64
	low            [64]*chunkStream // csid 2..63, the one-byte basic header range
	high           map[uint32]*chunkStream
	streams        int // chunk streams known
	partial        int // chunk streams holding a partial message
	held           int // bytes allocated for messages in progress (sum of cap(buf))
	maxHeld        int // budget for held
	hdr            [11]byte
}

// NewChunkReader reads chunks from br, which must be the connection's only
// bufio.Reader (the one the handshake used: peers pipeline chunks right behind
// C2). Messages longer than maxMessageSize are rejected; 0 or less means
// DefaultMaxMessageSize. The incoming chunk size starts at 128 (§5.4.1).
// Messages in progress may hold 2 × maxMessageSize bytes until
// SetMaxPartialBytes says otherwise.
func NewChunkReader(br *bufio.Reader, maxMessageSize int) *ChunkReader {
	if maxMessageSize <= 0 {
		maxMessageSize = DefaultMaxMessageSize
	}
	return &ChunkReader{br: br, maxMessageSize: maxMessageSize, chunkSize: DefaultChunkSize,
		maxHeld: 2 * maxMessageSize}
}

// SetMaxPartialBytes sets the budget for the bytes held by messages not
// received completely yet, all chunk streams together; 0 or less restores
// 2 × maxMessageSize. Growing a buffer past it is an error. Lowering it
// below what is held already makes the next growth fail.
func (r *ChunkReader) SetMaxPartialBytes(n int) {
	if n <= 0 {
		n = 2 * r.maxMessageSize
	}
	r.maxHeld = n
}

// PartialBytes returns the bytes held now by messages in progress (their
// buffers' capacity), the figure SetMaxPartialBytes bounds.
func (r *ChunkReader) PartialBytes() int { return r.held }

// BytesRead returns the number of bytes consumed so far, headers included.
// Acknowledgement sequence numbers are this value modulo 2^32 (§5.4.3).
func (r *ChunkReader) BytesRead() uint64 { return r.bytesRead }

// ChunkSize returns the peer's current chunk size.
func (r *ChunkReader) ChunkSize() int { return r.chunkSize }

// ReadMessage returns the next complete message. It applies Set Chunk Size
// (an invalid size is an error) and Abort itself and still returns them, so
// the session can log them. Each message's Payload is a fresh slice owned by
// the message. io.EOF is returned only when the peer closes between chunks.
func (r *ChunkReader) ReadMessage() (*Message, error) {
	for {
		m, err := r.readChunk()
		if err != nil {
			return nil, err
		}
		if m == nil {
			continue
		}
		switch m.TypeID {
		case TypeSetChunkSize:
			n, err := ParseChunkSize(m.Payload)
			if err != nil {
				return nil, err
			}
			r.chunkSize = n
		case TypeAbort:
			csid, err := ParseUint32(m.Payload)
			if err != nil {
				return nil, fmt.Errorf("rtmp: abort: %w", err)
			}
			r.abort(csid)
		}
		return m, nil
	}
}

// abort drops the partial message of csid (§5.4.2); unknown ids are ignored.
func (r *ChunkReader) abort(csid uint32) {
	cs := r.lookup(csid)
	if cs == nil || !cs.inMessage {
		return
	}
	r.finish(cs)
}

// finish ends the message in progress on cs (complete or aborted).
func (r *ChunkReader) finish(cs *chunkStream) {
	if cs.counted {
		r.partial--
	}
	r.held -= cap(cs.buf)
	cs.counted = false
	cs.inMessage = false
	cs.buf = nil
}

func (r *ChunkReader) lookup(csid uint32) *chunkStream {
	if csid < uint32(len(r.low)) {
		return r.low[csid]
	}
	return r.high[csid]
}

// stream returns the state of csid, creating it within maxChunkStreams.
func (r *ChunkReader) stream(csid uint32) (*chunkStream, error) {
	if cs := r.lookup(csid); cs != nil {
		return cs, nil
	}
	if r.streams >= maxChunkStreams {
		return nil, fmt.Errorf("rtmp: chunk stream %d would exceed the limit of %d chunk streams", csid, maxChunkStreams)
	}
	r.streams++
	cs := &chunkStream{}
	if csid < uint32(len(r.low)) {
		r.low[csid] = cs
	} else {
		if r.high == nil {
			r.high = make(map[uint32]*chunkStream)
		}
		r.high[csid] = cs
	}
	return cs, nil
}

// readFull reads exactly len(b) bytes inside a chunk: a clean EOF there is
// unexpected.
func (r *ChunkReader) readFull(b []byte) error {
	n, err := io.ReadFull(r.br, b)
	r.bytesRead += uint64(n)
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readChunk reads one chunk and returns the message it completes, or nil.
func (r *ChunkReader) readChunk() (*Message, error) {
	// Basic header (§5.3.1.1): fmt in the top 2 bits, csid 2..63 in the low 6;
	// 0 means csid = 64 + next byte, 1 means 64 + next 2 bytes little-endian.
	b0, err := r.br.ReadByte()
	if err != nil {
		return nil, err
	}
	r.bytesRead++
	format := b0 >> 6
	csid := uint32(b0 & 0x3F)
	switch csid {
	case 0:
		if err := r.readFull(r.hdr[:1]); err != nil {
			return nil, err
		}
		csid = 64 + uint32(r.hdr[0])
	case 1:
		if err := r.readFull(r.hdr[:2]); err != nil {
			return nil, err
		}
		csid = 64 + uint32(r.hdr[0]) + uint32(r.hdr[1])<<8
	}
	cs, err := r.stream(csid)
	if err != nil {
		return nil, err
	}
	if format != 0 && !cs.hasHeader {
		return nil, fmt.Errorf("rtmp: chunk type %d on chunk stream %d with no previous message header", format, csid)
	}
	if format != 3 && cs.inMessage {
		return nil, fmt.Errorf("rtmp: chunk type %d on chunk stream %d interrupts a message at %d of %d bytes",
			format, csid, len(cs.buf), cs.length)
	}

	// Message header (§5.3.1.2).
	if format < 3 {
		size := [3]int{11, 7, 3}[format]
		h := r.hdr[:size]
		if err := r.readFull(h); err != nil {
			return nil, err
		}
		ts := uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2])
		if format <= 1 {
			cs.length = uint32(h[3])<<16 | uint32(h[4])<<8 | uint32(h[5])
			cs.typeID = h[6]
		}
		if format == 0 {
			cs.streamID = binary.LittleEndian.Uint32(h[7:11])
		}
		cs.extended = ts == extendedTimestamp
		if cs.extended {
			if err := r.readFull(r.hdr[:4]); err != nil {
				return nil, err
			}
			ts = binary.BigEndian.Uint32(r.hdr[:4])
			cs.extTS = ts
		}
		if format == 0 {
			// Absolute. A type-3 new message right after a type 0 uses the
			// type-0 timestamp as its delta (§5.3.1.2.4), as ffmpeg does.
			cs.timestamp = ts
		} else {
			cs.timestamp += ts
		}
		cs.delta = ts
		cs.hasHeader = true
	} else if cs.extended {
		// Type 3 after an extended header repeats the extended timestamp
		// (§5.3.1.3), but old librtmp omits it on continuation chunks: consume
		// the 4 bytes only if they equal the field (rust-media-libs#15).
		p, err := r.br.Peek(4)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if len(p) == 4 && binary.BigEndian.Uint32(p) == cs.extTS {
			_, _ = r.br.Discard(4) // cannot fail: the bytes are buffered
			r.bytesRead += 4
		}
	}

	if !cs.inMessage {
		if format == 3 {
			cs.timestamp += cs.delta // type-3 new message: same delta again
		}
		if int64(cs.length) > int64(r.maxMessageSize) {
			return nil, fmt.Errorf("rtmp: message length %d exceeds maximum %d (chunk stream %d, type %d)",
				cs.length, r.maxMessageSize, csid, cs.typeID)
		}
		if kind, limit := amfLimit(cs.typeID); limit > 0 && int64(cs.length) > int64(limit) {
			// Checked on the header, before anything is buffered.
			return nil, fmt.Errorf("rtmp: %s message length %d exceeds limit %d (chunk stream %d, type %d)",
				kind, cs.length, limit, csid, cs.typeID)
		}
		if int64(cs.length) > int64(r.chunkSize) {
			if r.partial >= maxPartialStreams {
				return nil, fmt.Errorf("rtmp: chunk stream %d would exceed the limit of %d partial messages", csid, maxPartialStreams)
			}
			r.partial++
			cs.counted = true
		}
		cs.inMessage = true
	}

	n := min(int(cs.length)-len(cs.buf), r.chunkSize)
	if err := r.readPayload(cs, csid, n); err != nil {
		return nil, err
	}
	if len(cs.buf) < int(cs.length) {
		return nil, nil
	}
	payload := cs.buf
	if payload == nil {
		payload = []byte{} // zero length: allocates nothing
	}
	m := &Message{TypeID: cs.typeID, StreamID: cs.streamID, Timestamp: cs.timestamp, Payload: payload}
	r.finish(cs)
	return m, nil
}

// readPayload appends the n payload bytes of the current chunk of csid to
// cs.buf, growing it as they arrive (grow).
func (r *ChunkReader) readPayload(cs *chunkStream, csid uint32, n int) error {
	for n > 0 {
		if len(cs.buf) == cap(cs.buf) {
			if err := r.grow(cs, csid, n); err != nil {
				return err
			}
		}
		k := min(n, cap(cs.buf)-len(cs.buf))
		l := len(cs.buf)
		got, err := io.ReadFull(r.br, cs.buf[l:l+k])
		r.bytesRead += uint64(got)
		cs.buf = cs.buf[:l+got] // what arrived stays accounted, even on error
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		n -= k
	}
	return nil
}

// grow reallocates the full cs.buf, n bytes of whose current chunk are
// still to be read, to twice the message's payload that has arrived (what
// cs.buf holds plus what br's buffer holds of it), at most the declared
// length. When br's buffer is empty it first waits for the peer's next
// bytes: we allocate for what was sent, never for what was announced.
func (r *ChunkReader) grow(cs *chunkStream, csid uint32, n int) error {
	if r.br.Buffered() == 0 {
		if _, err := r.br.Peek(1); err != nil {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	l := len(cs.buf)
	size := min(int(cs.length), 2*(l+r.arrived(cs, csid, n)))
	if held := r.held - cap(cs.buf) + size; held > r.maxHeld {
		return fmt.Errorf("rtmp: partial messages would hold %d bytes, exceeding the limit of %d (chunk stream %d, type %d, %d of %d bytes received)",
			held, r.maxHeld, csid, cs.typeID, l, cs.length)
	}
	r.held += size - cap(cs.buf)
	grown := make([]byte, l, size)
	copy(grown, cs.buf)
	cs.buf = grown
	return nil
}

// arrived returns how many payload bytes of cs's message br's buffer holds
// beyond cs.buf: up to the n left of the current chunk and, once that is
// all there, the type-3 chunks of csid that follow it back to back (an
// encoder sends a frame's chunks in a row unless it interleaves audio).
// Chunks after an extended timestamp are not looked at: whether they
// repeat it is not known until they are read.
func (r *ChunkReader) arrived(cs *chunkStream, csid uint32, n int) int {
	buffered := r.br.Buffered()
	if buffered < n {
		return buffered
	}
	got := n
	rest := int(cs.length) - len(cs.buf) - n
	if rest == 0 || cs.extended {
		return got
	}
	buf, _ := r.br.Peek(buffered) // cannot fail: the bytes are buffered
	var hb [3]byte
	h := appendBasicHeader(hb[:0], 3, csid)
	for off := n; rest > 0 && len(buf)-off > len(h) && bytes.Equal(buf[off:off+len(h)], h); {
		off += len(h)
		k := min(rest, r.chunkSize, len(buf)-off)
		got += k
		rest -= k
		off += k
	}
	return got
}
