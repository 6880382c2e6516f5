package rtmp

import (
	"encoding/binary"
	"fmt"
)

// Chunk size bounds (RTMP 1.0 §5.4.1): 31 bits, the top bit must be zero.
const (
	DefaultChunkSize = 128
	MaxChunkSize     = 0x7FFFFFFF
)

// Set Peer Bandwidth limit types (RTMP 1.0 §5.4.5).
const (
	LimitHard    uint8 = 0
	LimitSoft    uint8 = 1
	LimitDynamic uint8 = 2
)

// Protocol control messages travel on message stream 0 (RTMP 1.0 §5.4) and, by
// convention, chunk stream 2; the timestamp is ignored by receivers.

func uint32Message(typ uint8, v uint32) *Message {
	return &Message{TypeID: typ, Payload: binary.BigEndian.AppendUint32(make([]byte, 0, 4), v)}
}

// SetChunkSizeMessage returns a Set Chunk Size message (§5.4.1). The top bit
// is cleared; callers should pass 1..MaxChunkSize.
func SetChunkSizeMessage(n uint32) *Message {
	return uint32Message(TypeSetChunkSize, n&MaxChunkSize)
}

// AbortMessage returns an Abort message for chunk stream csid (§5.4.2).
func AbortMessage(csid uint32) *Message { return uint32Message(TypeAbort, csid) }

// AckMessage returns an Acknowledgement carrying the number of bytes received
// so far, modulo 2^32 (§5.4.3).
func AckMessage(seq uint32) *Message { return uint32Message(TypeAck, seq) }

// WindowAckSizeMessage returns a Window Acknowledgement Size message (§5.4.4).
func WindowAckSizeMessage(n uint32) *Message { return uint32Message(TypeWindowAckSize, n) }

// SetPeerBandwidthMessage returns a Set Peer Bandwidth message (§5.4.5);
// limit is LimitHard, LimitSoft or LimitDynamic.
func SetPeerBandwidthMessage(n uint32, limit uint8) *Message {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 5), n)
	return &Message{TypeID: TypeSetPeerBandwidth, Payload: append(b, limit)}
}

// UserControlMessage returns a User Control message (§6.2, §7.1.7): the
// 16-bit event type followed by each value as 32 bits. StreamBegin, StreamEOF,
// StreamDry and StreamIsRecorded take the stream id; SetBufferLength takes
// the stream id and the buffer length in ms; PingRequest and PingResponse take
// a timestamp.
func UserControlMessage(event uint16, values ...uint32) *Message {
	b := binary.BigEndian.AppendUint16(make([]byte, 0, 2+4*len(values)), event)
	for _, v := range values {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return &Message{TypeID: TypeUserControl, Payload: b}
}

// ParseUserControl splits a User Control payload into its event type and
// event data (a sub-slice of payload). Known events must carry at least their
// documented data (4 bytes, 8 for SetBufferLength); extra bytes are left in
// data, and unknown events are returned as they are, since peers vary.
func ParseUserControl(payload []byte) (event uint16, data []byte, err error) {
	if len(payload) < 2 {
		return 0, nil, fmt.Errorf("rtmp: user control message of %d bytes, need at least 2", len(payload))
	}
	event = binary.BigEndian.Uint16(payload)
	data = payload[2:]
	need := 0
	switch event {
	case EventStreamBegin, EventStreamEOF, EventStreamDry, EventStreamIsRecorded, EventPingRequest, EventPingResponse:
		need = 4
	case EventSetBufferLength:
		need = 8
	}
	if len(data) < need {
		return event, nil, fmt.Errorf("rtmp: user control event %d with %d data bytes, need %d", event, len(data), need)
	}
	return event, data, nil
}

// ParseUint32 reads the 32-bit big-endian body of Set Chunk Size, Abort,
// Acknowledgement and Window Acknowledgement Size messages. Trailing bytes
// are ignored.
func ParseUint32(payload []byte) (uint32, error) {
	if len(payload) < 4 {
		return 0, fmt.Errorf("rtmp: control message of %d bytes, need 4", len(payload))
	}
	return binary.BigEndian.Uint32(payload), nil
}

// ParseSetPeerBandwidth reads a Set Peer Bandwidth body (§5.4.5): the window
// size and the limit type.
func ParseSetPeerBandwidth(payload []byte) (n uint32, limit uint8, err error) {
	if len(payload) < 5 {
		return 0, 0, fmt.Errorf("rtmp: set peer bandwidth message of %d bytes, need 5", len(payload))
	}
	return binary.BigEndian.Uint32(payload), payload[4], nil
}

// ParseChunkSize reads and validates a Set Chunk Size body: the value must be
// in [1, MaxChunkSize] (§5.4.1: the top bit must be zero).
func ParseChunkSize(payload []byte) (int, error) {
	v, err := ParseUint32(payload)
	if err != nil {
		return 0, err
	}
	if v == 0 || v > MaxChunkSize {
		return 0, fmt.Errorf("rtmp: chunk size %d out of range [1, %d]", v, MaxChunkSize)
	}
	return int(v), nil
}
