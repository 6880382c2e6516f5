package netx

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// WriteDeadlines passes the response through, and a client that stops
// reading is cut by the write deadline instead of holding the handler.
func TestWriteDeadlines(t *testing.T) {
	ended := make(chan error, 1)
	body := bytes.Repeat([]byte("x"), 256<<10)
	srv := httptest.NewServer(WriteDeadlines(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			_, _ = w.Write([]byte("ok"))
			return
		}
		for range 1024 { // 256 MiB: far more than the socket buffers hold
			if _, err := w.Write(body); err != nil {
				ended <- err
				return
			}
		}
		ended <- nil
	}), 200*time.Millisecond))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/small")
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, "ok", string(b))

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)
	select { // the client never reads
	case err := <-ended:
		require.Error(t, err, "the stalled write failed")
	case <-time.After(30 * time.Second):
		t.Fatal("a client that does not read held the handler")
	}
}
