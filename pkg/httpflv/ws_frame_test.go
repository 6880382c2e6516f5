package httpflv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppendFrameHeader(t *testing.T) {
	cases := []struct {
		n    int
		want []byte
	}{
		{0, []byte{0x82, 0}},
		{125, []byte{0x82, 125}},
		{126, []byte{0x82, 126, 0, 126}},
		{65535, []byte{0x82, 126, 0xFF, 0xFF}},
		{65536, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
		{300 << 10, []byte{0x82, 127, 0, 0, 0, 0, 0, 0x04, 0xB0, 0}},
	}
	for _, c := range cases {
		require.Equal(t, c.want, appendFrameHeader(nil, wsOpBinary, c.n), "n=%d", c.n)
	}
	require.Equal(t, []byte{0x88, 14, 0x03, 0xE8, 's', 't', 'r', 'e', 'a', 'm', ' ', 'e', 'n', 'd', 'e', 'd'},
		appendCloseFrame(nil, wsCloseNormal, "stream ended"))
	long := appendCloseFrame(nil, wsCloseNormal, string(bytes.Repeat([]byte("x"), 200)))
	require.Len(t, long, 2+wsMaxControl, "a close frame is a control frame: payload ≤ 125")
}

// clientFrame builds a frame as a client sends it: masked (RFC 6455 §5.3),
// with the extended length forced to ext (0, 2 or 8 bytes) when not -1.
func clientFrame(b0 byte, payload []byte, ext int) []byte {
	n := len(payload)
	if ext < 0 {
		switch {
		case n <= 125:
			ext = 0
		case n <= 0xFFFF:
			ext = 2
		default:
			ext = 8
		}
	}
	out := []byte{b0}
	switch ext {
	case 0:
		out = append(out, 0x80|byte(n))
	case 2:
		out = binary.BigEndian.AppendUint16(append(out, 0x80|126), uint16(n))
	case 8:
		out = binary.BigEndian.AppendUint64(append(out, 0x80|127), uint64(n))
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i&3])
	}
	return out
}

func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// frameCases feeds TestWSFrameRead and the seeds of FuzzWSFrameRead.
var frameCases = []struct {
	name    string
	in      []byte
	op      byte
	length  uint64
	payload []byte // control frames
	code    uint16 // a protocol error with this close code; 0: none
	err     error  // another error
}{
	{name: "ping", in: clientFrame(0x89, []byte("hello"), -1), op: wsOpPing, length: 5, payload: []byte("hello")},
	{name: "empty ping", in: clientFrame(0x89, nil, -1), op: wsOpPing, payload: []byte{}},
	{name: "ping 125", in: clientFrame(0x89, bytes.Repeat([]byte{7}, 125), -1), op: wsOpPing, length: 125, payload: bytes.Repeat([]byte{7}, 125)},
	{name: "pong", in: clientFrame(0x8A, []byte("x"), -1), op: wsOpPong, length: 1, payload: []byte("x")},
	{name: "close", in: clientFrame(0x88, closePayload(1000, "bye"), -1), op: wsOpClose, length: 5, payload: closePayload(1000, "bye")},
	{name: "binary 2-byte length", in: clientFrame(0x82, []byte("abc"), -1)[:6], op: wsOpBinary, length: 3},
	{name: "text 4-byte length", in: clientFrame(0x81, make([]byte, 300), -1)[:8], op: wsOpText, length: 300},
	{name: "binary 10-byte length", in: clientFrame(0x82, make([]byte, 70000), -1)[:14], op: wsOpBinary, length: 70000},
	{name: "continuation", in: clientFrame(0x00, []byte("a"), -1)[:6], op: wsOpContinuation, length: 1},
	{name: "unmasked", in: []byte{0x89, 0x00}, code: wsCloseProtocolError},
	{name: "reserved bit", in: clientFrame(0xC9, nil, -1), code: wsCloseProtocolError},
	{name: "unknown opcode", in: clientFrame(0x83, nil, -1), code: wsCloseProtocolError},
	{name: "unknown control opcode", in: clientFrame(0x8B, nil, -1), code: wsCloseProtocolError},
	{name: "fragmented ping", in: clientFrame(0x09, []byte("a"), -1), code: wsCloseProtocolError},
	{name: "ping 126", in: clientFrame(0x89, make([]byte, 126), -1), code: wsCloseProtocolError},
	{name: "non-minimal 16-bit length", in: clientFrame(0x82, []byte("a"), 2), code: wsCloseProtocolError},
	{name: "non-minimal 64-bit length", in: clientFrame(0x82, make([]byte, 200), 8), code: wsCloseProtocolError},
	{name: "64-bit length top bit", in: []byte{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, code: wsCloseProtocolError},
	{name: "empty", in: nil, err: io.EOF},
	{name: "cut header", in: []byte{0x89}, err: io.ErrUnexpectedEOF},
	{name: "cut mask", in: clientFrame(0x89, []byte("abc"), -1)[:4], err: io.ErrUnexpectedEOF},
	{name: "cut payload", in: clientFrame(0x89, []byte("abc"), -1)[:7], err: io.ErrUnexpectedEOF},
}

func TestWSFrameRead(t *testing.T) {
	for _, c := range frameCases {
		t.Run(c.name, func(t *testing.T) {
			var f wsFrame
			err := f.read(bytes.NewReader(c.in))
			var pe *wsProtocolError
			switch {
			case c.code != 0:
				require.ErrorAs(t, err, &pe)
				require.Equal(t, c.code, pe.code)
			case c.err != nil:
				require.ErrorIs(t, err, c.err)
			default:
				require.NoError(t, err)
				require.Equal(t, c.op, f.op)
				require.Equal(t, c.length, f.length)
				require.Equal(t, c.payload, f.payload)
			}
		})
	}
}

func TestCloseReply(t *testing.T) {
	cases := []struct {
		name    string
		payload []byte
		code    uint16
		hasCode bool
		errCode uint16
	}{
		{"no code", nil, 0, false, 0},
		{"normal", closePayload(1000, "bye"), 1000, true, 0},
		{"going away", closePayload(1001, ""), 1001, true, 0},
		{"application", closePayload(4000, "app"), 4000, true, 0},
		{"one byte", []byte{3}, 0, false, wsCloseProtocolError},
		{"reserved 1005", closePayload(1005, ""), 0, false, wsCloseProtocolError},
		{"unassigned 999", closePayload(999, ""), 0, false, wsCloseProtocolError},
		{"unassigned 2000", closePayload(2000, ""), 0, false, wsCloseProtocolError},
		{"bad utf-8", closePayload(1000, "\xff"), 0, false, wsCloseInvalidPayload},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, hasCode, err := closeReply(c.payload)
			if c.errCode != 0 {
				var pe *wsProtocolError
				require.ErrorAs(t, err, &pe)
				require.Equal(t, c.errCode, pe.code)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.code, code)
			require.Equal(t, c.hasCode, hasCode)
		})
	}
}

// FuzzWSFrameRead reads frames until an error, as the reader goroutine
// does: no input may panic, and a control frame's payload never exceeds
// 125 bytes.
func FuzzWSFrameRead(f *testing.F) {
	for _, c := range frameCases {
		f.Add(c.in)
	}
	f.Add(append(clientFrame(0x89, []byte("a"), -1), clientFrame(0x88, closePayload(1000, ""), -1)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		var fr wsFrame
		for range 64 {
			err := fr.read(r)
			if err != nil {
				var pe *wsProtocolError
				if !errors.As(err, &pe) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if fr.op&0x8 != 0 {
				if len(fr.payload) > wsMaxControl || uint64(len(fr.payload)) != fr.length {
					t.Fatalf("control payload %d bytes, length %d", len(fr.payload), fr.length)
				}
				if fr.op == wsOpClose {
					_, _, _ = closeReply(fr.payload)
				}
				continue
			}
			if fr.payload != nil {
				t.Fatal("data frame payload read")
			}
			return // the server refuses data frames; the rest is not framed for it
		}
	})
}
