package rtmp

import (
	"encoding/binary"
	"net"
)

// ChunkWriter holds the outgoing chunk size of one connection and frames
// messages into chunks. It is used only by that connection's writer
// goroutine, which also decides when a new chunk size takes effect.
//
// Every message starts with a type-0 chunk and continues with type-3 chunks:
// no header compression, so the framing of a message depends only on the
// chunk size, csid, type, stream id, timestamp and length, and is identical
// for every player (see AppendChunkHeaders). Type 0 also sidesteps the
// readers that disagree on deltas (docs/interop.md §2).
type ChunkWriter struct {
	chunkSize int
}

// NewChunkWriter returns a writer with the default chunk size of 128 bytes
// (RTMP 1.0 §5.4.1).
func NewChunkWriter() *ChunkWriter { return &ChunkWriter{chunkSize: DefaultChunkSize} }

// SetChunkSize switches the outgoing chunk size. The peer applies a Set Chunk
// Size from our next chunk on, so call it right after appending (or writing)
// that message and before any other message is framed. n is clamped to
// [1, MaxChunkSize].
func (w *ChunkWriter) SetChunkSize(n int) { w.chunkSize = clampChunkSize(n) }

// ChunkSize returns the outgoing chunk size.
func (w *ChunkWriter) ChunkSize() int { return w.chunkSize }

// AppendMessage appends m framed as chunks on chunk stream csid: the same
// bytes as AppendChunkHeaders interleaved with the payload by AppendChunked,
// copied into dst. Use it for control and command messages; media uses the
// shared-header path to avoid the copy.
func (w *ChunkWriter) AppendMessage(dst []byte, csid uint32, m *Message) []byte {
	p := m.Payload
	dst = appendFirstHeader(dst, csid, m.TypeID, m.StreamID, m.Timestamp, len(p))
	for {
		n := min(w.chunkSize, len(p))
		dst = append(dst, p[:n]...)
		p = p[n:]
		if len(p) == 0 {
			return dst
		}
		dst = appendContinuationHeader(dst, csid, m.Timestamp)
	}
}

func clampChunkSize(n int) int {
	return min(max(n, 1), MaxChunkSize)
}

// appendBasicHeader writes the basic header (§5.3.1.1) in its shortest form.
// csid must be in [2, 65599]; 0 and 1 are reserved as the form markers.
func appendBasicHeader(dst []byte, format uint8, csid uint32) []byte {
	switch {
	case csid < 64:
		return append(dst, format<<6|byte(csid))
	case csid < 320:
		return append(dst, format<<6, byte(csid-64))
	default:
		id := csid - 64
		return append(dst, format<<6|1, byte(id), byte(id>>8)) // little-endian
	}
}

// appendFirstHeader writes a type-0 chunk header (§5.3.1.2.1) with the
// extended timestamp (§5.3.1.3) when ts does not fit in 24 bits.
func appendFirstHeader(dst []byte, csid uint32, typeID uint8, streamID, ts uint32, length int) []byte {
	dst = appendBasicHeader(dst, 0, csid)
	t := min(ts, extendedTimestamp)
	dst = append(dst, byte(t>>16), byte(t>>8), byte(t),
		byte(length>>16), byte(length>>8), byte(length), typeID)
	dst = binary.LittleEndian.AppendUint32(dst, streamID)
	if ts >= extendedTimestamp {
		dst = binary.BigEndian.AppendUint32(dst, ts)
	}
	return dst
}

// appendContinuationHeader writes a type-3 header. The extended timestamp is
// repeated on every type-3 chunk of the message (§5.3.1.3, as ffmpeg, FMS and
// GStreamer expect; ffmpeg players otherwise die after 4 h 39 m).
func appendContinuationHeader(dst []byte, csid uint32, ts uint32) []byte {
	dst = appendBasicHeader(dst, 3, csid)
	if ts >= extendedTimestamp {
		dst = binary.BigEndian.AppendUint32(dst, ts)
	}
	return dst
}

// AppendChunkHeaders appends the chunk headers of one message, back to back:
// a type-0 header, then one type-3 header per further chunk of chunkSize
// payload bytes (at least one header, even for an empty payload). The bytes
// depend only on the arguments, so they are built once per packet and shared
// by every player with the same chunk size and stream id; AppendChunked
// interleaves them with the payload. csid must be in [2, 65599] and length
// below 2^24 (the length field is 24 bits).
func AppendChunkHeaders(dst []byte, chunkSize int, csid uint32, typeID uint8, streamID uint32, ts uint32, length int) []byte {
	chunkSize = clampChunkSize(chunkSize)
	dst = appendFirstHeader(dst, csid, typeID, streamID, ts, length)
	for rest := length - chunkSize; rest > 0; rest -= chunkSize {
		dst = appendContinuationHeader(dst, csid, ts)
	}
	return dst
}

// maxChunkHeaderLen is the longest chunk header: a 3-byte basic header, the
// 11-byte type-0 message header and an extended timestamp.
const maxChunkHeaderLen = 3 + 11 + 4

// AppendMessageChunks appends one message, chunked, as contiguous bytes: a
// type-0 header, the first chunkSize payload bytes, then a type-3 header
// before each further piece. These are the bytes AppendChunked lists as
// slices; contiguous, a message built once per packet for every player is
// one slice in each player's writev instead of two per chunk.
func AppendMessageChunks(dst []byte, chunkSize int, csid uint32, typeID uint8, streamID, ts uint32, payload []byte) []byte {
	chunkSize = clampChunkSize(chunkSize)
	dst = appendFirstHeader(dst, csid, typeID, streamID, ts, len(payload))
	for {
		n := min(chunkSize, len(payload))
		dst = append(dst, payload[:n]...)
		payload = payload[n:]
		if len(payload) == 0 {
			return dst
		}
		dst = appendContinuationHeader(dst, csid, ts)
	}
}

// AppendChunked appends to bufs the chunks of one message without copying:
// sub-slices of headers (as built by AppendChunkHeaders with the same
// chunkSize and len(payload)) alternating with sub-slices of payload. The
// sub-slices are capacity-limited, so headers and payload may be shared
// between connections; each connection needs its own bufs (net.Buffers.WriteTo
// consumes it).
func AppendChunked(bufs net.Buffers, headers []byte, payload []byte, chunkSize int) net.Buffers {
	chunkSize = clampChunkSize(chunkSize)
	if len(headers) == 0 {
		return bufs
	}
	// Recover the header sizes from the first header: the basic header form
	// from its csid bits, the extended timestamp from the 24-bit field.
	basic := 1
	switch headers[0] & 0x3F {
	case 0:
		basic = 2
	case 1:
		basic = 3
	}
	ext := 0
	if len(headers) >= basic+3 && headers[basic] == 0xFF && headers[basic+1] == 0xFF && headers[basic+2] == 0xFF {
		ext = 4
	}
	first := min(basic+11+ext, len(headers))
	bufs = append(bufs, headers[:first:first])
	h := headers[first:]
	p := payload
	for {
		n := min(chunkSize, len(p))
		if n > 0 {
			bufs = append(bufs, p[:n:n])
			p = p[n:]
		}
		if len(p) == 0 || len(h) == 0 {
			return bufs
		}
		k := min(basic+ext, len(h))
		bufs = append(bufs, h[:k:k])
		h = h[k:]
	}
}
