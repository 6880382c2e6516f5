package rtmp

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

// aggSub builds one aggregate sub-message (RTMP 1.0 §7.1.6: an FLV tag with
// its back pointer) with an FLV-style timestamp (24 low bits, then the top 8).
func aggSub(typ uint8, ts uint32, streamID uint32, body []byte) []byte {
	n := len(body)
	b := []byte{typ, byte(n >> 16), byte(n >> 8), byte(n), byte(ts >> 16), byte(ts >> 8), byte(ts), byte(ts >> 24),
		byte(streamID >> 16), byte(streamID >> 8), byte(streamID)}
	b = append(b, body...)
	return binary.BigEndian.AppendUint32(b, uint32(11+n))
}

type aggregateCase struct {
	name    string
	ts      uint32
	payload []byte
	want    []*Message // StreamID 7 expected on all
	err     string
}

func aggregateCases() []aggregateCase {
	two := append(aggSub(TypeAudio, 1000, 0, []byte{0xAF, 1, 2}), aggSub(TypeVideo, 1033, 0, []byte{0x17, 1, 0, 0, 0, 9})...)
	return []aggregateCase{
		{name: "empty", ts: 5, payload: nil},
		{
			name: "audio and video rebased", ts: 5000, payload: two,
			want: []*Message{
				{TypeID: TypeAudio, StreamID: 7, Timestamp: 5000, Payload: []byte{0xAF, 1, 2}},
				{TypeID: TypeVideo, StreamID: 7, Timestamp: 5033, Payload: []byte{0x17, 1, 0, 0, 0, 9}},
			},
		},
		{
			name: "extended sub timestamps",
			ts:   100,
			payload: append(aggSub(TypeVideo, 0x01FFFFF0, 1, []byte{1}),
				aggSub(TypeVideo, 0x02000010, 1, nil)...),
			want: []*Message{
				{TypeID: TypeVideo, StreamID: 7, Timestamp: 100, Payload: []byte{1}},
				{TypeID: TypeVideo, StreamID: 7, Timestamp: 100 + 0x20, Payload: []byte{}},
			},
		},
		{
			name:    "wraps at 2^32",
			ts:      0xFFFFFFF0,
			payload: append(aggSub(TypeAudio, 0, 0, []byte{1}), aggSub(TypeAudio, 0x20, 0, []byte{2})...),
			want: []*Message{
				{TypeID: TypeAudio, StreamID: 7, Timestamp: 0xFFFFFFF0, Payload: []byte{1}},
				{TypeID: TypeAudio, StreamID: 7, Timestamp: 0x10, Payload: []byte{2}},
			},
		},
		{name: "truncated header", ts: 0, payload: two[:5], err: "rtmp: aggregate sub-message 0 header truncated at offset 0: 5 of 11 bytes"},
		{name: "truncated second header", ts: 0, payload: two[:len(two)-15], err: "sub-message 1 header truncated at offset 18: 6 of 11 bytes"},
		{name: "truncated body", ts: 0, payload: two[:13], err: "rtmp: aggregate sub-message 0 truncated at offset 0: body of 3 bytes plus 4-byte back pointer, 2 bytes left"},
		{name: "missing back pointer", ts: 0, payload: two[:len(two)-4], err: "sub-message 1 truncated at offset 18: body of 6 bytes plus 4-byte back pointer, 6 bytes left"},
		{name: "huge size", ts: 0, payload: []byte{8, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, err: "body of 16777215 bytes"},
		{name: "nested aggregate", ts: 0, payload: aggSub(TypeAggregate, 0, 0, nil), err: "sub-message 0 at offset 0 is itself an aggregate"},
	}
}

func TestSplitAggregate(t *testing.T) {
	for _, c := range aggregateCases() {
		t.Run(c.name, func(t *testing.T) {
			m := &Message{TypeID: TypeAggregate, StreamID: 7, Timestamp: c.ts, Payload: c.payload}
			subs, err := SplitAggregate(m)
			if c.err != "" {
				require.ErrorContains(t, err, c.err)
				require.Nil(t, subs)
				return
			}
			require.NoError(t, err)
			require.Len(t, subs, len(c.want))
			for i, w := range c.want {
				require.Equal(t, w.TypeID, subs[i].TypeID)
				require.Equal(t, w.StreamID, subs[i].StreamID)
				require.Equal(t, w.Timestamp, subs[i].Timestamp)
				require.Equal(t, w.Payload, subs[i].Payload)
				// Capacity-limited: appending to a sub-payload must not
				// overwrite the next sub-message's header.
				require.Equal(t, len(subs[i].Payload), cap(subs[i].Payload))
			}
		})
	}
	_, err := SplitAggregate(&Message{TypeID: TypeVideo})
	require.EqualError(t, err, "rtmp: split aggregate: message type 9 is not 22")
}

func FuzzSplitAggregate(f *testing.F) {
	for _, c := range aggregateCases() {
		f.Add(c.ts, c.payload)
	}
	f.Fuzz(func(t *testing.T, ts uint32, payload []byte) {
		subs, err := SplitAggregate(&Message{TypeID: TypeAggregate, Timestamp: ts, Payload: payload})
		if err != nil {
			require.Nil(t, subs)
			return
		}
		total := 0
		for _, s := range subs {
			total += aggregateHeaderSize + len(s.Payload) + 4
		}
		require.Equal(t, len(payload), total)
		if len(subs) > 0 {
			require.Equal(t, ts, subs[0].Timestamp)
		}
	})
}
