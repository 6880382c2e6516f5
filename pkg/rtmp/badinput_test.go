package rtmp

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/amf0"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// TestBadInputClosesConn feeds each kind of broken or hostile input to a
// fresh connection and checks three things: the server closes that
// connection, its one close line names the cause at the right level, and
// the server keeps serving other streams.
func TestBadInputClosesConn(t *testing.T) {
	tests := []struct {
		name  string
		send  func(t *testing.T, r *rawConn)
		cause string
		level string
	}{
		{
			name: "wrong version byte",
			send: func(t *testing.T, r *rawConn) {
				r.write(t, append([]byte{0x06}, make([]byte, 1536)...))
			},
			cause: "handshake", level: "WARN",
		},
		{
			name: "http on the rtmp port",
			send: func(t *testing.T, r *rawConn) {
				r.write(t, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			},
			cause: "handshake", level: "WARN",
		},
		{
			name: "truncated handshake",
			send: func(t *testing.T, r *rawConn) {
				r.write(t, append([]byte{0x03}, make([]byte, 100)...))
				require.NoError(t, r.nc.(interface{ CloseWrite() error }).CloseWrite())
			},
			cause: "handshake", level: "INFO",
		},
		{
			name: "stalled handshake",
			send: func(t *testing.T, r *rawConn) {
				r.write(t, append([]byte{0x03}, make([]byte, 100)...))
			},
			cause: "handshake", level: "WARN",
		},
		{
			name: "chunk size 0",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
				r.write(t, append(chunkHeader0(2, 0, 4, TypeSetChunkSize, 0), 0, 0, 0, 0))
			},
			cause: "chunk size 0 out of range", level: "WARN",
		},
		{
			name: "chunk size with the top bit set",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
				r.write(t, append(chunkHeader0(2, 0, 4, TypeSetChunkSize, 0), 0x80, 0, 0, 0))
			},
			cause: "chunk size 2147483648 out of range", level: "WARN",
		},
		{
			name: "16 MiB message",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
				r.write(t, append(chunkHeader0(3, 0, 0xFFFFFF, TypeVideo, 1), make([]byte, 128)...))
			},
			cause: "message length 16777215 exceeds maximum", level: "WARN",
		},
		{
			name: "command over the command limit",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
				r.write(t, chunkHeader0(3, 0, MaxCommandSize+1, TypeCommandAMF0, 0))
			},
			cause: "command message length 65537 exceeds limit 65536", level: "WARN",
		},
		{
			name: "AMF3 command over the command limit",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
				r.write(t, chunkHeader0(3, 0, 1<<20, TypeCommandAMF3, 0))
			},
			cause: "command message length 1048576 exceeds limit 65536", level: "WARN",
		},
		{
			name: "metadata over the data limit",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
				r.write(t, chunkHeader0(5, 0, MaxDataSize+1, TypeDataAMF0, 1))
			},
			cause: "data message length 262145 exceeds limit 262144", level: "WARN",
		},
		{
			name: "metadata over the data limit inside an aggregate",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
				body := make([]byte, MaxDataSize+1)
				agg := append([]byte{TypeDataAMF0, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body)), 0, 0, 0, 0, 0, 0, 0}, body...)
				agg = append(agg, 0, 0, 0, 0)
				r.send(t, csidVideo, &Message{TypeID: TypeAggregate, StreamID: 1, Payload: agg})
			},
			cause: "data message length 262145 exceeds limit 262144", level: "WARN",
		},
		{
			// 60 KiB of AMF0 nulls after connect's object: within the size
			// limit, so decodeCommand must stop at maxCommandArgs rather
			// than keep every value; the connect still succeeds.
			name: "connect with a flood of trailing nulls",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
				b, err := amf0.Append(nil, "connect", 1.0, amf0.Object{{Key: "app", Value: "live"}})
				require.NoError(t, err)
				b = append(b, bytes.Repeat([]byte{0x05}, 60<<10)...)
				r.send(t, csidCommand, &Message{TypeID: TypeCommandAMF0, Payload: b})
				r.expectCommand(t, commandResult, 1)
				r.write(t, chunkHeader0(3, 0, MaxCommandSize+1, TypeCommandAMF0, 0))
			},
			cause: "command message length 65537 exceeds limit 65536", level: "WARN",
		},
		{
			name: "type 3 first chunk on an unknown chunk stream",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
				r.write(t, []byte{0xC0 | 9, 1, 2, 3})
			},
			cause: "no previous message header", level: "WARN",
		},
		{
			name: "AMF garbage in a command",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
				r.send(t, csidCommand, &Message{TypeID: TypeCommandAMF0, Payload: []byte{0xFF, 0x13, 0x37, 0x00}})
			},
			cause: "command name", level: "WARN",
		},
		{
			name: "publish before connect",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
				r.command(t, 1, "publish", 2, nil, "cam1", "live")
			},
			cause: "publish before connect", level: "WARN",
		},
		{
			name: "play before createStream",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
				r.connect(t)
				r.command(t, 1, "play", 2, nil, "cam1")
			},
			cause: "play on stream 1 before createStream", level: "WARN",
		},
		{
			name: "media from a player",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
				r.connect(t)
				r.send(t, csidVideo, &Message{TypeID: TypeVideo, StreamID: 1, Payload: []byte{0x17, 1, 0, 0, 0}})
			},
			cause: "video message on stream 1 from a connection that is not publishing", level: "WARN",
		},
		{
			name: "play of a bad name",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
				r.connect(t)
				id := r.createStream(t, 2)
				r.command(t, id, "play", 3, nil, "../x")
				info := r.expectStatus(t)
				require.Equal(t, "error", info.String("level"))
				require.Equal(t, codePlayFailed, info.String("code"))
			},
			cause: `invalid stream key \"live/../x\"`, level: "WARN",
		},
		{
			name: "publish of a bad name",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
				r.connect(t)
				id := r.createStream(t, 2)
				r.command(t, id, "publish", 3, nil, "a b", "live")
				info := r.expectStatus(t)
				require.Equal(t, codePublishBadName, info.String("code"))
			},
			cause: "invalid stream key", level: "WARN",
		},
		{
			name: "silent after the handshake",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
			},
			cause: "read timeout", level: "WARN",
		},
		{
			name: "broken aggregate",
			send: func(t *testing.T, r *rawConn) {
				r.handshake(t)
				r.send(t, csidVideo, &Message{TypeID: TypeAggregate, StreamID: 1, Payload: []byte{9, 0, 0, 50}})
			},
			cause: "aggregate", level: "WARN",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := startServer(t, ServerConfig{
				HandshakeTimeout: 300 * time.Millisecond,
				ReadTimeout:      300 * time.Millisecond,
			}, hub.Config{})
			r := dialRaw(t, env.addr)
			tt.send(t, r)
			r.requireClosed(t)
			line := env.logs.waitClosed(t, tt.cause)
			t.Log(line)
			require.Contains(t, line, "level="+tt.level)
			env.requireServes(t)
		})
	}
}

// TestChunkSizeMaxAccepted: 0x7FFFFFFF is a legal chunk size (RTMP 1.0
// §5.4.1: 31 bits); the session must keep working with it and must not
// allocate by it.
func TestChunkSizeMaxAccepted(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{})
	r := dialRaw(t, env.addr)
	r.handshake(t)
	r.send(t, csidControl, SetChunkSizeMessage(0x7FFFFFFF))
	r.cw.SetChunkSize(0x7FFFFFFF)
	r.connect(t)
	id := r.createStream(t, 2)
	require.Equal(t, uint32(1), id)
	// A 100 KiB message now travels in one chunk.
	big := bytes.Repeat([]byte{0xAB}, 100<<10)
	r.command(t, id, "publish", 3, nil, "big", "live")
	require.Equal(t, codePublishStart, r.expectStatus(t).String("code"))
	r.send(t, csidVideo, &Message{TypeID: TypeVideo, StreamID: id, Payload: append([]byte{0x17, 1, 0, 0, 0}, big...)})
	require.Eventually(t, func() bool {
		info, ok := env.hub.Stream("live/big")
		return ok && info.BytesIn >= uint64(len(big))
	}, testTimeout, 5*time.Millisecond)
}
