package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPlayHTTPS plays an https://…flv URL from a TLS server with a
// self-signed certificate (-insecure) that streams a finite FLV body, sized
// (Content-Length) and chunked.
func TestPlayHTTPS(t *testing.T) {
	data, want := flvBytes(t, 20)
	for _, sized := range []bool{true, false} {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if sized {
				w.Header().Set("Content-Length", strconv.Itoa(len(data)))
				_, _ = w.Write(data)
				return
			}
			for b := data; len(b) > 0; b = b[min(len(b), 1000):] { // chunked
				_, _ = w.Write(b[:min(len(b), 1000)])
				w.(http.Flusher).Flush()
			}
		}))
		u, err := url.Parse(srv.URL + "/live/a.flv")
		require.NoError(t, err)
		st := &PlayerStats{}
		t0 := time.Now()
		w := &Window{Start: t0.Add(-time.Hour), End: t0.Add(time.Hour), Stall: time.Hour}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = playHTTPFLV(ctx, u, true, st, w, t0)
		cancel()
		srv.Close()
		require.ErrorIs(t, err, io.EOF)
		require.True(t, st.Connected)
		require.Equal(t, uint64(len(want)), st.Frames, "sized %v", sized)
	}
}
