package rtmp

import "fmt"

// Message type ids (RTMP 1.0 §5.4 protocol control, §6.2 user control,
// §7.1 RTMP command messages).
const (
	TypeSetChunkSize     uint8 = 1
	TypeAbort            uint8 = 2
	TypeAck              uint8 = 3
	TypeUserControl      uint8 = 4
	TypeWindowAckSize    uint8 = 5
	TypeSetPeerBandwidth uint8 = 6
	TypeAudio            uint8 = 8
	TypeVideo            uint8 = 9
	TypeDataAMF3         uint8 = 15
	TypeSharedObjectAMF3 uint8 = 16
	TypeCommandAMF3      uint8 = 17
	TypeDataAMF0         uint8 = 18
	TypeSharedObjectAMF0 uint8 = 19
	TypeCommandAMF0      uint8 = 20
	TypeAggregate        uint8 = 22
)

// User control event types (RTMP 1.0 §7.1.7).
const (
	EventStreamBegin      uint16 = 0
	EventStreamEOF        uint16 = 1
	EventStreamDry        uint16 = 2
	EventSetBufferLength  uint16 = 3
	EventStreamIsRecorded uint16 = 4
	EventPingRequest      uint16 = 6
	EventPingResponse     uint16 = 7
)

// Message is one RTMP message (RTMP 1.0 §6.1). Payload is owned by the
// message: the chunk reader allocates a fresh slice for every message, so it
// may be retained (e.g. as av.Packet.Data) without copying.
type Message struct {
	TypeID    uint8
	StreamID  uint32
	Timestamp uint32
	Payload   []byte
}

// aggregateHeaderSize is the FLV-tag-like header of an aggregate sub-message:
// type 1, size 3, timestamp 3 + extended 1, stream id 3 (RTMP 1.0 §7.1.6).
const aggregateHeaderSize = 11

// SplitAggregate splits an aggregate message (type 22, RTMP 1.0 §7.1.6) into
// its sub-messages. Sub-message timestamps are rebased so that the first one
// gets m.Timestamp and the others keep their offset from it (uint32
// arithmetic, so the 2^32 wrap is harmless). The aggregate's stream id
// overrides the sub-messages' ones, as the spec says. Payloads are
// capacity-limited sub-slices of m.Payload (no copy); they stay valid as long
// as m.Payload is not modified. The back pointer after each body is required
// but its value is not checked.
func SplitAggregate(m *Message) ([]*Message, error) {
	if m.TypeID != TypeAggregate {
		return nil, fmt.Errorf("rtmp: split aggregate: message type %d is not %d", m.TypeID, TypeAggregate)
	}
	var out []*Message
	var first uint32
	b := m.Payload
	for off := 0; off < len(b); {
		if len(b)-off < aggregateHeaderSize {
			return nil, fmt.Errorf("rtmp: aggregate sub-message %d header truncated at offset %d: %d of %d bytes",
				len(out), off, len(b)-off, aggregateHeaderSize)
		}
		h := b[off : off+aggregateHeaderSize]
		typ := h[0]
		size := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
		// FLV-style timestamp: 24 low bits then the upper 8 bits.
		ts := uint32(h[7])<<24 | uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6])
		body := off + aggregateHeaderSize
		if size > len(b)-body-4 {
			return nil, fmt.Errorf("rtmp: aggregate sub-message %d truncated at offset %d: body of %d bytes plus 4-byte back pointer, %d bytes left",
				len(out), off, size, len(b)-body)
		}
		if typ == TypeAggregate {
			return nil, fmt.Errorf("rtmp: aggregate sub-message %d at offset %d is itself an aggregate", len(out), off)
		}
		if kind, limit := amfLimit(typ); limit > 0 && size > limit {
			return nil, fmt.Errorf("rtmp: aggregate sub-message %d: %s message length %d exceeds limit %d",
				len(out), kind, size, limit)
		}
		if len(out) == 0 {
			first = ts
		}
		out = append(out, &Message{
			TypeID:    typ,
			StreamID:  m.StreamID,
			Timestamp: m.Timestamp + (ts - first),
			Payload:   b[body : body+size : body+size],
		})
		off = body + size + 4
	}
	return out, nil
}
