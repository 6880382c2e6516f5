package rtmp

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestControlMessages(t *testing.T) {
	cases := []struct {
		name    string
		m       *Message
		typeID  uint8
		payload []byte
	}{
		{"set chunk size", SetChunkSizeMessage(4096), TypeSetChunkSize, []byte{0, 0, 0x10, 0}},
		{"set chunk size top bit cleared", SetChunkSizeMessage(0xFFFFFFFF), TypeSetChunkSize, []byte{0x7F, 0xFF, 0xFF, 0xFF}},
		{"abort", AbortMessage(320), TypeAbort, []byte{0, 0, 0x01, 0x40}},
		{"ack", AckMessage(0xDEADBEEF), TypeAck, []byte{0xDE, 0xAD, 0xBE, 0xEF}},
		{"window ack size", WindowAckSizeMessage(2_500_000), TypeWindowAckSize, []byte{0x00, 0x26, 0x25, 0xA0}},
		{"set peer bandwidth", SetPeerBandwidthMessage(2_500_000, LimitDynamic), TypeSetPeerBandwidth, []byte{0x00, 0x26, 0x25, 0xA0, 2}},
		{"stream begin", UserControlMessage(EventStreamBegin, 1), TypeUserControl, []byte{0, 0, 0, 0, 0, 1}},
		{"set buffer length", UserControlMessage(EventSetBufferLength, 1, 3000), TypeUserControl, []byte{0, 3, 0, 0, 0, 1, 0, 0, 0x0B, 0xB8}},
		{"ping response", UserControlMessage(EventPingResponse, 0x01020304), TypeUserControl, []byte{0, 7, 1, 2, 3, 4}},
		{"no values", UserControlMessage(42), TypeUserControl, []byte{0, 42}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.typeID, c.m.TypeID)
			require.Zero(t, c.m.StreamID)
			require.Zero(t, c.m.Timestamp)
			require.Equal(t, c.payload, c.m.Payload)
		})
	}
}

func TestParseUserControl(t *testing.T) {
	cases := []struct {
		name    string
		payload []byte
		event   uint16
		data    []byte
		err     string
	}{
		{name: "stream begin", payload: []byte{0, 0, 0, 0, 0, 1}, event: EventStreamBegin, data: []byte{0, 0, 0, 1}},
		{name: "set buffer length", payload: []byte{0, 3, 0, 0, 0, 1, 0, 0, 0x0B, 0xB8}, event: EventSetBufferLength,
			data: []byte{0, 0, 0, 1, 0, 0, 0x0B, 0xB8}},
		{name: "ping request with extra", payload: []byte{0, 6, 1, 2, 3, 4, 5}, event: EventPingRequest, data: []byte{1, 2, 3, 4, 5}},
		{name: "unknown event no data", payload: []byte{0, 31}, event: 31, data: []byte{}},
		{name: "empty", payload: nil, err: "rtmp: user control message of 0 bytes, need at least 2"},
		{name: "one byte", payload: []byte{0}, err: "rtmp: user control message of 1 bytes, need at least 2"},
		{name: "short set buffer length", payload: []byte{0, 3, 0, 0, 0, 1}, event: EventSetBufferLength,
			err: "rtmp: user control event 3 with 4 data bytes, need 8"},
		{name: "short ping", payload: []byte{0, 6, 1}, event: EventPingRequest, err: "rtmp: user control event 6 with 1 data bytes, need 4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			event, data, err := ParseUserControl(c.payload)
			if c.err != "" {
				require.EqualError(t, err, c.err)
				require.Nil(t, data)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.event, event)
			require.Equal(t, c.data, data)
		})
	}
}

func TestParseUint32(t *testing.T) {
	v, err := ParseUint32([]byte{0, 0, 0x10, 0, 0xFF})
	require.NoError(t, err)
	require.Equal(t, uint32(4096), v)
	_, err = ParseUint32([]byte{1, 2, 3})
	require.EqualError(t, err, "rtmp: control message of 3 bytes, need 4")

	n, limit, err := ParseSetPeerBandwidth(SetPeerBandwidthMessage(5000, LimitSoft).Payload)
	require.NoError(t, err)
	require.Equal(t, uint32(5000), n)
	require.Equal(t, LimitSoft, limit)
	_, _, err = ParseSetPeerBandwidth([]byte{0, 0, 0, 1})
	require.EqualError(t, err, "rtmp: set peer bandwidth message of 4 bytes, need 5")
}

func TestParseChunkSize(t *testing.T) {
	cases := []struct {
		payload []byte
		want    int
		err     string
	}{
		{[]byte{0, 0, 0, 1}, 1, ""},
		{[]byte{0, 0, 0x10, 0}, 4096, ""},
		{[]byte{0x7F, 0xFF, 0xFF, 0xFF}, MaxChunkSize, ""},
		{[]byte{0, 0, 0, 0}, 0, "rtmp: chunk size 0 out of range [1, 2147483647]"},
		{[]byte{0x80, 0, 0, 0}, 0, "rtmp: chunk size 2147483648 out of range [1, 2147483647]"},
		{[]byte{0xFF, 0xFF, 0xFF, 0xFF}, 0, "rtmp: chunk size 4294967295 out of range"},
		{[]byte{0, 1}, 0, "rtmp: control message of 2 bytes, need 4"},
	}
	for _, c := range cases {
		n, err := ParseChunkSize(c.payload)
		if c.err != "" {
			require.ErrorContains(t, err, c.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, c.want, n)
	}
}
