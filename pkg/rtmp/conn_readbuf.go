package rtmp

import (
	"bufio"
	"bytes"
	"io"
)

// connReadBufferSize is the read buffer a server connection starts with:
// the handshake and the commands before publish or play are a few KiB in
// all, read in a few more calls, and it is all a player ever needs (from
// then on it only sends acks, pings and the odd command). Players are the
// connections there are thousands of; a publisher's buffer grows to
// readBufferSize when it starts publishing (growReadBuffer).
const connReadBufferSize = 1 << 10

// growReadBuffer gives a connection that starts publishing the
// readBufferSize read buffer, so media is read in large slices. Bytes the
// small buffer holds already (media the encoder pipelined behind publish)
// are read first. It runs on the reading goroutine, the only user of c.br
// and c.cr.
func (c *conn) growReadBuffer() {
	if c.br.Size() >= readBufferSize {
		return
	}
	var r io.Reader = c.nc
	if n := c.br.Buffered(); n > 0 {
		rest, _ := c.br.Peek(n) // cannot fail: the bytes are buffered
		r = io.MultiReader(bytes.NewReader(bytes.Clone(rest)), c.nc)
	}
	c.br = bufio.NewReaderSize(r, readBufferSize)
	if c.cr != nil { // nil only in tests that call handle directly
		c.cr.br = c.br
	}
}

// readMessage reads the next message, first waiting for its first byte in
// a shallow call: a player's connection goroutine spends its life parked
// in that wait, and the runtime halves a goroutine's stack at GC only when
// less than a quarter of it (minus 800 bytes of slack) is in use. Parked
// inside the chunk reader (a 400-byte frame) a player's 8 KiB stack, grown
// by the handshake and commands, stayed 8 KiB; parked here it shrinks to 4
// KiB. Peek's error is the one the chunk reader would return for a read
// between chunks.
func (c *conn) readMessage() (*Message, error) {
	if _, err := c.br.Peek(1); err != nil {
		return nil, err
	}
	return c.cr.ReadMessage()
}
