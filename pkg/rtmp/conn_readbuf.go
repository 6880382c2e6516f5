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
