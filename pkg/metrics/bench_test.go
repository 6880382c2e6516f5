package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// BenchmarkScrape measures one /metrics scrape of 100 streams with 10
// readers each over 3 protocols (what a scrape costs the server).
func BenchmarkScrape(b *testing.B) {
	h := hub.New(hub.Config{})
	defer h.Close()
	protos := []string{"rtmp", "http-flv", "ws-flv"}
	for i := range 100 {
		key := fmt.Sprintf("live/cam%d", i)
		p, err := h.Publish(key, hub.PublisherInfo{Protocol: "rtmp"})
		if err != nil {
			b.Fatal(err)
		}
		g := mediatest.New(mediatest.Config{})
		for _, pk := range append(g.Headers(), g.Packets(100)...) {
			if err := p.WritePacket(pk); err != nil {
				b.Fatal(err)
			}
		}
		for j := range 10 {
			r, err := h.Subscribe(key, hub.ReaderInfo{Protocol: protos[j%3]})
			if err != nil {
				b.Fatal(err)
			}
			r.AddBytes(1000)
		}
	}
	handler := Handler(NewCollector(Config{
		Rate: func(string) (float64, float64, bool) { return 1, 1, true },
	}, h))
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
		_, _ = io.Copy(io.Discard, rec.Body)
	}
}
