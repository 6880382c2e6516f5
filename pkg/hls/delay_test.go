package hls

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// BenchmarkLiveEdgeDelay measures, per variant and GOP, the time from a
// video frame's arrival at the hub (Publisher.WritePacket) to the playlist
// update that lists the segment or part holding it. Packets are published
// at real time for 12 s (so b.N is ignored; run with -benchtime 1x):
//
//	go test -run '^$' -bench LiveEdgeDelay -benchtime 1x ./pkg/hls
//
// With -short (scripts/test.sh runs every benchmark once that way, so they
// keep compiling and running) each variant runs 3 s with a 1 s GOP only.
func BenchmarkLiveEdgeDelay(b *testing.B) {
	gops, dur := []int{30, 60}, 12*time.Second
	if testing.Short() {
		gops, dur = []int{30}, 3*time.Second
	}
	for _, v := range []Variant{VariantMPEGTS, VariantFMP4, VariantLowLatency} {
		for _, gop := range gops {
			b.Run(fmt.Sprintf("%s/gop%ds", v, gop/30), func(b *testing.B) {
				d := measureDelay(b, v, gop, dur)
				slices.Sort(d)
				b.ReportMetric(float64(d[len(d)/2].Milliseconds()), "p50-ms")
				b.ReportMetric(float64(d[len(d)*99/100].Milliseconds()), "p99-ms")
				b.ReportMetric(float64(d[len(d)-1].Milliseconds()), "max-ms")
			})
		}
	}
}

func measureDelay(b *testing.B, v Variant, gop int, dur time.Duration) []time.Duration {
	h := hub.New(hub.Config{})
	defer h.Close()
	var mu sync.Mutex
	arrived := map[int64]time.Time{} // video DTS → publish time
	var delays []time.Duration
	listed := int64(-1)
	m := New(Config{Variant: v, onUpdate: func(_ string, dts int64) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for ts, at := range arrived {
			if ts <= dts && ts > listed {
				delays = append(delays, now.Sub(at))
				delete(arrived, ts)
			}
		}
		listed = max(listed, dts)
	}}, h)
	m.Start()
	defer m.Close()

	joined := make(chan struct{})
	cancel := h.Watch(func(e hub.Event) {
		if e.Type == hub.EventReaderJoin && e.Reader.Protocol == "hls" {
			close(joined)
		}
	})
	defer cancel()
	pub, err := h.Publish(testKey, hub.PublisherInfo{Protocol: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	gen := mediatest.New(mediatest.Config{GOP: gop})
	for _, p := range gen.Headers() {
		if err := pub.WritePacket(p); err != nil {
			b.Fatal(err)
		}
	}
	<-joined
	start := time.Now()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	next := gen.Next()
	for range tick.C {
		el := time.Since(start).Milliseconds()
		for next.DTS <= el {
			video := next.Kind == av.KindVideo
			if err := pub.WritePacket(next); err != nil {
				b.Fatal(err)
			}
			if video {
				mu.Lock()
				arrived[next.DTS] = time.Now() // DTS as rewritten by the hub
				mu.Unlock()
			}
			next = gen.Next()
		}
		if el >= dur.Milliseconds() {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(delays) == 0 {
		b.Fatal("no frame was listed")
	}
	return delays
}
