package rtmp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/amf0"
)

// rawConn speaks RTMP byte by byte, to send what a well-behaved client
// never would.
type rawConn struct {
	nc net.Conn
	br *bufio.Reader
	cr *ChunkReader
	cw *ChunkWriter
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	require.NoError(t, nc.SetDeadline(time.Now().Add(testTimeout)))
	br := bufio.NewReader(nc)
	return &rawConn{nc: nc, br: br, cr: NewChunkReader(br, 0), cw: NewChunkWriter()}
}

func (r *rawConn) handshake(t *testing.T) {
	t.Helper()
	require.NoError(t, ClientHandshake(r.br, r.nc))
}

func (r *rawConn) write(t *testing.T, b []byte) {
	t.Helper()
	_, err := r.nc.Write(b)
	require.NoError(t, err)
}

func (r *rawConn) send(t *testing.T, csid uint32, m *Message) {
	t.Helper()
	r.write(t, r.cw.AppendMessage(nil, csid, m))
}

func (r *rawConn) command(t *testing.T, msid uint32, name string, txn float64, vals ...any) {
	t.Helper()
	m, err := commandMessage(msid, name, txn, vals...)
	require.NoError(t, err)
	r.send(t, csidCommand, m)
}

// connect sends connect for app "live" and waits for its _result.
func (r *rawConn) connect(t *testing.T, extra ...amf0.Property) command {
	t.Helper()
	obj := append(amf0.Object{{Key: "app", Value: "live"}, {Key: "tcUrl", Value: "rtmp://x/live"}}, extra...)
	r.command(t, 0, "connect", 1, obj)
	return r.expectCommand(t, "_result", 1)
}

// expectCommand reads until the command name with txn arrives.
func (r *rawConn) expectCommand(t *testing.T, name string, txn float64) command {
	t.Helper()
	for {
		m, err := r.cr.ReadMessage()
		require.NoError(t, err)
		if m.TypeID != TypeCommandAMF0 {
			continue
		}
		c, err := decodeCommand(m.Payload)
		require.NoError(t, err)
		if c.Name == name && c.TxnID == txn {
			return c
		}
	}
}

// expectMessage reads until a message of type typ arrives.
func (r *rawConn) expectMessage(t *testing.T, typ uint8) *Message {
	t.Helper()
	for {
		m, err := r.cr.ReadMessage()
		require.NoError(t, err)
		if m.TypeID == typ {
			return m
		}
	}
}

// expectStatus reads until an onStatus arrives and returns its info.
func (r *rawConn) expectStatus(t *testing.T) amf0.Object {
	t.Helper()
	c := r.expectCommand(t, "onStatus", 0)
	return c.info()
}

// createStream sends createStream and returns the stream id.
func (r *rawConn) createStream(t *testing.T, txn float64) uint32 {
	t.Helper()
	r.command(t, 0, "createStream", txn, nil)
	res := r.expectCommand(t, "_result", txn)
	id, ok := res.arg(0).(float64)
	require.True(t, ok)
	return uint32(id)
}

// requireClosed reads until the server closes the connection; a timeout
// means it did not.
func (r *rawConn) requireClosed(t *testing.T) {
	t.Helper()
	_, err := io.Copy(io.Discard, r.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("server did not close the connection")
	}
}

// chunkHeader0 builds a raw type-0 chunk header on csid (< 64).
func chunkHeader0(csid uint32, ts uint32, length int, typ uint8, msid uint32) []byte {
	b := []byte{byte(csid), byte(ts >> 16), byte(ts >> 8), byte(ts), byte(length >> 16), byte(length >> 8), byte(length), typ}
	return binary.LittleEndian.AppendUint32(b, msid)
}
