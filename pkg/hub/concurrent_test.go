package hub

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// TestConcurrent churns publishers, takeovers, readers and closes on a few
// keys; run with -race. It checks that nothing deadlocks, every reader ends
// with an expected error, and DTS never decreases per track for a reader.
func TestConcurrent(t *testing.T) {
	h := New(Config{
		QueueSize:      64,
		ReconnectGrace: time.Millisecond,
		Policy:         func(string) PublishPolicy { return PolicyTakeover },
	})
	keys := []string{"live/a", "live/b", "live/c"}
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	report := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}

	for i := range 6 {
		key := keys[i%len(keys)]
		wg.Go(func() {
			for round := range 20 {
				p, err := h.Publish(key, PublisherInfo{Protocol: "test"})
				if err != nil {
					if !errors.Is(err, ErrClosed) {
						report(err)
					}
					return
				}
				g := mediatest.New(mediatest.Config{StartTS: uint32(round * 7919)})
				for _, pkt := range append(g.Headers(), g.Packets(50)...) {
					if err := p.WritePacket(pkt); err != nil {
						if !errors.Is(err, ErrReplaced) && !errors.Is(err, ErrClosed) {
							report(err)
						}
						break
					}
				}
				p.Close()
			}
		})
	}
	for i := range 12 {
		key := keys[i%len(keys)]
		wg.Go(func() {
			for range 20 {
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				if err := h.WaitStream(ctx, key); err != nil {
					cancel()
					if errors.Is(err, ErrClosed) {
						return
					}
					continue
				}
				r, err := h.Subscribe(key, ReaderInfo{Protocol: "test"})
				if err != nil {
					cancel()
					continue
				}
				last := map[av.Kind]int64{}
				var buf []*av.Packet
				for n := 0; n < 200; {
					buf, err = r.Read(ctx, buf[:0])
					for _, pkt := range buf {
						if pkt.IsMedia() && pkt.DTS < last[pkt.Kind] {
							report(errors.New("DTS went back"))
						}
						last[pkt.Kind] = pkt.DTS
					}
					n += len(buf)
					if err != nil {
						if !errors.Is(err, io.EOF) && !errors.Is(err, ErrSlowReader) &&
							!errors.Is(err, context.DeadlineExceeded) {
							report(err)
						}
						break
					}
				}
				_ = r.Stats()
				_ = r.Stream()
				_ = h.Streams()
				r.Close()
				cancel()
			}
		})
	}
	wg.Wait()
	h.Close()
	close(errc)
	for err := range errc {
		require.NoError(t, err)
	}
}
