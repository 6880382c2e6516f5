package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// BenchmarkListStreams measures GET /api/v1/streams over 100 live streams
// with 10 readers each: with the header cache, a request parses no SPS.
func BenchmarkListStreams(b *testing.B) {
	h := hub.New(hub.Config{})
	defer h.Close()
	for i := range 100 {
		key := fmt.Sprintf("live/cam%d", i)
		p, err := h.Publish(key, hub.PublisherInfo{Protocol: "rtmp", RemoteAddr: "10.0.0.1:1"})
		if err != nil {
			b.Fatal(err)
		}
		g := mediatest.New(mediatest.Config{Width: 1280, Height: 720})
		for _, pk := range append(g.Headers(), g.Packets(100)...) {
			if err := p.WritePacket(pk); err != nil {
				b.Fatal(err)
			}
		}
		for range 10 {
			if _, err := h.Subscribe(key, hub.ReaderInfo{Protocol: "rtmp"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	a := New(Config{StatsInterval: time.Hour}, h)
	a.Start()
	defer a.Close()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/streams", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
