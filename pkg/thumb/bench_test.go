package thumb

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// BenchmarkServeCached measures a request answered from the cache: the
// cost every viewer of a stream page pays between two decodes.
func BenchmarkServeCached(b *testing.B) {
	h := newHub(b)
	th := New(Config{}, h)
	b.Cleanup(func() { _ = th.Close() })
	if err := th.Available(); err != nil {
		b.Skip(err)
	}
	pub, err := h.Publish("live/cam1", hub.PublisherInfo{Protocol: access.ProtoRTMP})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pub.Close)
	for _, p := range fixturePackets(b, 40) {
		if err := pub.WritePacket(p); err != nil {
			b.Fatal(err)
		}
	}
	req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/live/cam1.jpg", nil)
	rec := httptest.NewRecorder()
	th.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		th.ServeHTTP(rec, req)
	}
}
