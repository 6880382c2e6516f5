package hub

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// BenchmarkPublish measures WritePacket with N readers draining in their own
// goroutines. One op is one packet fanned out to every reader; allocs/op
// must stay 0 (no per-packet, no per-reader allocation).
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("readers=%d", n), func(b *testing.B) { benchPublish(b, n, nil) })
	}
	// The validator hook costs one interface call per packet, outside the
	// stream lock, and no allocation.
	accept := func() PacketValidator { return acceptAll{} }
	b.Run("readers=1/validator", func(b *testing.B) { benchPublish(b, 1, accept) })
}

// acceptAll is a PacketValidator that accepts every packet.
type acceptAll struct{}

func (acceptAll) Check(*av.Packet) error { return nil }

func benchPublish(b *testing.B, readers int, validator func() PacketValidator) {
	// Never evict: the benchmark measures fan-out, and with many readers on
	// few cores some do fall behind and resync.
	h := New(Config{MaxOverflows: MaxOverflowsLimit, Validator: validator})
	p, err := h.Publish("live/bench", PublisherInfo{})
	if err != nil {
		b.Fatal(err)
	}
	g := mediatest.New(mediatest.Config{})
	for _, pkt := range g.Headers() {
		if err := p.WritePacket(pkt); err != nil {
			b.Fatal(err)
		}
	}
	// A pool of packets reused cyclically with rising wire timestamps, so the
	// loop allocates nothing itself. Safe: the readers only move pointers and
	// never look inside a packet.
	const poolSize = 4096
	pool := g.Packets(poolSize)
	wires := make([]int64, poolSize)
	for i, pkt := range pool {
		wires[i] = pkt.DTS
	}
	cycle := wires[poolSize-1] + 23

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	rs := make([]*Reader, readers)
	for i := range rs {
		r, err := h.Subscribe("live/bench", ReaderInfo{})
		if err != nil {
			b.Fatal(err)
		}
		rs[i] = r
		wg.Go(func() {
			buf := make([]*av.Packet, 0, 256)
			for {
				var err error
				if buf, err = r.Read(ctx, buf[:0]); err != nil {
					return
				}
			}
		})
	}

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		pkt := pool[i%poolSize]
		pkt.DTS = int64(uint32(wires[i%poolSize] + int64(i/poolSize)*cycle))
		if err := p.WritePacket(pkt); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()

	info, _ := h.Stream("live/bench")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(readers), "ns/packet/reader")
	b.ReportMetric(float64(info.Dropped)/float64(b.N)/float64(readers), "dropped/delivery")
	cancel()
	h.Close()
	wg.Wait()
}
