package httpflv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// WebSocket framing (RFC 6455 §5). The server sends only unmasked binary
// frames (media) and control frames (pong, close); it reads only control
// frames: WS-FLV clients have nothing to send but pings and the close
// handshake.

// Opcodes (RFC 6455 §5.2, §11.8).
const (
	wsOpContinuation = 0x0
	wsOpText         = 0x1
	wsOpBinary       = 0x2
	wsOpClose        = 0x8
	wsOpPing         = 0x9
	wsOpPong         = 0xA
)

// Close codes (RFC 6455 §7.4.1).
const (
	wsCloseNormal          = 1000
	wsCloseGoingAway       = 1001
	wsCloseProtocolError   = 1002
	wsCloseInvalidPayload  = 1007
	wsClosePolicyViolation = 1008
)

const (
	// wsMaxHeader is the longest frame header: 2 bytes, a 64-bit extended
	// length and a 4-byte masking key.
	wsMaxHeader = 2 + 8 + 4
	// wsMaxControl is the largest control frame payload (RFC 6455 §5.5).
	wsMaxControl = 125
)

// appendFrameHeader appends the header of a final, unmasked frame of n
// payload bytes: 2 bytes up to 125, 4 up to 65535, 10 beyond (RFC 6455
// §5.2, minimal length encoding).
func appendFrameHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n <= 125:
		return append(b, byte(n))
	case n <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

// appendCloseFrame appends a close frame with code and reason (trimmed to
// fit a control frame).
func appendCloseFrame(b []byte, code uint16, reason string) []byte {
	if len(reason) > wsMaxControl-2 {
		reason = reason[:wsMaxControl-2]
	}
	b = appendFrameHeader(b, wsOpClose, 2+len(reason))
	b = binary.BigEndian.AppendUint16(b, code)
	return append(b, reason...)
}

// wsProtocolError is a client frame the server must refuse; code is the
// close code to answer with.
type wsProtocolError struct {
	code uint16
	msg  string
}

func (e *wsProtocolError) Error() string {
	return fmt.Sprintf("websocket: %s (close %d)", e.msg, e.code)
}

func protocolError(msg string) error {
	return &wsProtocolError{code: wsCloseProtocolError, msg: msg}
}

// wsFrame is one frame read from the client. Only the header is read for
// data frames (the server refuses them); a control frame's payload is read
// and unmasked into buf.
type wsFrame struct {
	fin     bool
	op      byte
	length  uint64
	payload []byte // control frames: unmasked, aliases buf; valid until the next read
	buf     [wsMaxHeader + wsMaxControl]byte
}

// read reads the next frame from r. It returns a *wsProtocolError for a
// frame no client may send (RFC 6455 §5.1–5.5): unmasked, with reserved
// bits (no extension is negotiated), an unknown opcode, or a fragmented or
// oversized control frame. Other errors are r's.
func (f *wsFrame) read(r io.Reader) error {
	h := f.buf[:2]
	if _, err := io.ReadFull(r, h); err != nil {
		return err
	}
	f.fin = h[0]&0x80 != 0
	f.op = h[0] & 0x0F
	masked := h[1]&0x80 != 0
	n := uint64(h[1] & 0x7F)
	switch {
	case h[0]&0x70 != 0:
		return protocolError("reserved bits set")
	case !masked:
		return protocolError("unmasked client frame")
	}
	control := f.op&0x8 != 0
	switch f.op {
	case wsOpContinuation, wsOpText, wsOpBinary, wsOpClose, wsOpPing, wsOpPong:
	default:
		return protocolError(fmt.Sprintf("unknown opcode %#x", f.op))
	}
	if control && (!f.fin || n > wsMaxControl) {
		return protocolError("fragmented or oversized control frame")
	}
	// Extended length and masking key.
	ext := 0
	switch n {
	case 126:
		ext = 2
	case 127:
		ext = 8
	}
	rest := f.buf[2 : 2+ext+4]
	if _, err := io.ReadFull(r, rest); err != nil {
		return unexpected(err)
	}
	switch ext {
	case 2:
		n = uint64(binary.BigEndian.Uint16(rest))
		if n < 126 {
			return protocolError("non-minimal frame length")
		}
	case 8:
		n = binary.BigEndian.Uint64(rest)
		if n>>63 != 0 || n <= 0xFFFF {
			return protocolError("invalid frame length")
		}
	}
	f.length = n
	f.payload = nil
	if !control {
		return nil
	}
	var key [4]byte
	copy(key[:], rest[ext:])
	p := f.buf[wsMaxHeader : wsMaxHeader+int(n)]
	if _, err := io.ReadFull(r, p); err != nil {
		return unexpected(err)
	}
	for i := range p {
		p[i] ^= key[i&3]
	}
	f.payload = p
	return nil
}

// unexpected turns a clean EOF inside a frame into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// closeReply returns the close code to answer a client's close frame with
// (RFC 6455 §5.5.1, §7.4): its own code echoed, none when it sent none,
// or a protocol error for a malformed close.
func closeReply(payload []byte) (code uint16, hasCode bool, err error) {
	switch {
	case len(payload) == 0:
		return 0, false, nil
	case len(payload) == 1:
		return 0, false, protocolError("close payload of 1 byte")
	}
	code = binary.BigEndian.Uint16(payload)
	if !validCloseCode(code) {
		return 0, false, protocolError(fmt.Sprintf("invalid close code %d", code))
	}
	if !utf8.Valid(payload[2:]) {
		return 0, false, &wsProtocolError{code: wsCloseInvalidPayload, msg: "close reason is not UTF-8"}
	}
	return code, true, nil
}

// validCloseCode reports a code a peer may send (RFC 6455 §7.4.1 and the
// IANA registry; 1004–1006 and 1015 are reserved for local use).
func validCloseCode(c uint16) bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014:
		return true
	}
	return c >= 3000 && c <= 4999
}
