package httpflv

import (
	"bufio"
	"net"
	"time"

	"github.com/ripplemedia/ripple/pkg/internal/netx"
)

// connOut writes batches of shared slices to a player's hijacked
// connection, for the HTTP-FLV and WS-FLV writers: one writev on TCP and
// Unix sockets, through a bufio.Writer of bufSize elsewhere (TLS), each
// write within about the write timeout (netx.WriteDeadline).
type connOut struct {
	conn net.Conn
	bw   *bufio.Writer // coalesces writes on conns without writev (TLS); nil on TCP
	dl   netx.WriteDeadline
}

func newConnOut(conn net.Conn, timeout time.Duration, bufSize int) connOut {
	o := connOut{conn: conn, dl: netx.WriteDeadline{Timeout: timeout}}
	if !netx.Writev(conn) { // net.Buffers.WriteTo uses writev on the others
		o.bw = bufio.NewWriterSize(conn, bufSize)
	}
	return o
}

// write writes bufs through out, which WriteTo consumes: a field of the
// caller, as a local would escape to the heap through WriteTo's pointer
// receiver on every write. One goroutine at a time.
func (o *connOut) write(bufs net.Buffers, out *net.Buffers) error {
	if err := o.dl.Arm(o.conn, time.Now()); err != nil {
		return err
	}
	if o.bw == nil {
		*out = bufs
		_, err := out.WriteTo(o.conn)
		*out = nil
		return err
	}
	for _, b := range bufs {
		if _, err := o.bw.Write(b); err != nil {
			return err
		}
	}
	return o.bw.Flush()
}
