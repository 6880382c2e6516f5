package rtmp

import (
	"net"
	"testing"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/batch"
)

// discardConn is a net.Conn that accepts every write.
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

// unbuffered makes w write each slice to discardConn as it is: its Out
// would otherwise copy through the 16 KiB buffer used for connections
// without writev (TLS), where on TCP a batch is one writev without copies.
func unbuffered(w *writer) *batch.Writer {
	return batch.NewWriter(batch.NewOut(w.nc, time.Minute, 0), w, 0)
}

// BenchmarkWriterFanout measures the per-player cost of sending one
// packet: with the shared chunk-header cache, framing is built once per
// packet and each player only appends slices to its own net.Buffers.
func BenchmarkWriterFanout(b *testing.B) {
	const players = 100
	gen := newGen()
	src := gen.Packets(256)
	ws := make([]*writer, players)
	for i := range ws {
		ws[i] = newWriter(discardConn{}, time.Second, DefaultOutChunkSize, func(error) {}, func(error) {}, func(error) {})
		ws[i].cw.SetChunkSize(DefaultOutChunkSize)
		ws[i].bw = unbuffered(ws[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Fresh packets each round, as the hub hands out new ones.
		p := &av.Packet{Kind: src[i%len(src)].Kind, DTS: int64(i), Data: src[i%len(src)].Data}
		for _, w := range ws {
			if err := w.addPacket(p, 1); err != nil {
				b.Fatal(err)
			}
			if err := w.flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*players), "ns/player-packet")
}
