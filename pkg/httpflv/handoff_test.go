package httpflv

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// A player on a hijacked connection is served from its own goroutine: the
// handler returns (net/http frees the connection's buffers and the
// request) and the player keeps streaming, its context no longer tied to
// the request's, which net/http cancels on return.
func TestHijackedPlayerOutlivesHandler(t *testing.T) {
	hb := hub.New(hub.Config{})
	h := NewHandler(Config{}, hb)
	returned := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		returned <- struct{}{}
	}))
	t.Cleanup(func() {
		srv.Close()
		h.Close()
		hb.Close()
	})
	p, err := hb.Publish("live/a", hub.PublisherInfo{Protocol: "test"})
	require.NoError(t, err)
	t.Cleanup(p.Close)
	write(t, p, metaPacket(metaAV...), videoSeq(0), audioSeq(0), videoKey(0))

	resp, err := http.Get(srv.URL + "/live/a.flv")
	require.NoError(t, err)
	defer resp.Body.Close()
	r := flv.NewReader(resp.Body)
	_, err = r.ReadHeader()
	require.NoError(t, err)
	select {
	case <-returned:
	case <-time.After(waitFor):
		t.Fatal("the handler did not return after handing the connection to the player")
	}

	// Still streaming after the return.
	write(t, p, videoInter(33))
	for {
		tag, err := r.ReadTag()
		require.NoError(t, err)
		if tag.Type == flv.TagVideo && tag.Timestamp == 33 {
			break
		}
	}
	info, ok := hb.Stream("live/a")
	require.True(t, ok)
	require.Equal(t, 1, info.Readers)
}
