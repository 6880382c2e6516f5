package httpflv

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// An edge app's first HTTP-FLV player starts the upstream pull through
// hub.Demand and waits for it instead of getting 404 at once.
func TestDemandStartsSource(t *testing.T) {
	e := newEnv(t, Config{DemandWait: waitFor})
	pubs := make(chan *hub.Publisher, 1)
	e.hub.SetDemand(func(key string, info hub.ReaderInfo) bool {
		if key != "edge/cam" {
			return false
		}
		require.Equal(t, "http-flv", info.Protocol)
		go func() { // the "pull" comes up asynchronously, like a relay dial
			p, err := e.hub.Publish(key, hub.PublisherInfo{Protocol: "relay"})
			if err == nil {
				pubs <- p
			}
		}()
		return true
	})

	resp, err := http.Get(e.url("/edge/cam.flv"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := <-pubs
	e.waitReaders(t, "edge/cam", 1)
	write(t, p, metaPacket(metaAV...), videoSeq(0), audioSeq(0), videoKey(0), audioFrame(10))
	p.Close()
	fh, tags := readFLV(t, resp.Body)
	require.True(t, fh.HasVideo)
	require.True(t, fh.HasAudio)
	require.Len(t, tags, 5)

	// A key the demand handler does not own: 404 without waiting.
	resp2, err := http.Get(e.url("/live/cam.flv"))
	require.NoError(t, err)
	resp2.Body.Close()
	require.Equal(t, http.StatusNotFound, resp2.StatusCode)
}

// A source that never comes up gives the player a clean 404 after DemandWait.
func TestDemandTimesOut(t *testing.T) {
	e := newEnv(t, Config{DemandWait: 50 * time.Millisecond})
	asked := make(chan string, 1)
	e.hub.SetDemand(func(key string, _ hub.ReaderInfo) bool { asked <- key; return true })
	resp, err := http.Get(e.url("/edge/none.flv"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, "edge/none", <-asked)
}
