package httpflv

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// An edge app's first HTTP-FLV player starts the upstream pull through
// hub.Demand and waits for it instead of getting 404 at once. The FLV
// header waits for the tracks the metadata announces (the response head
// comes with it, so the request runs in the background while the source
// writes), also when the source took longer than the hold timeout to come
// up: the hold runs from the subscription.
func TestDemandStartsSource(t *testing.T) {
	cases := []struct {
		name  string
		delay time.Duration // before the source publishes
	}{
		{"source up at once", 0},
		{"source slower than the hold timeout", holdTimeout + holdTimeout/4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{DemandWait: waitFor + tc.delay})
			pubs := make(chan *hub.Publisher, 1)
			e.hub.SetDemand(func(key string, info hub.ReaderInfo) error {
				if key != "edge/cam" || info.Protocol != "http-flv" {
					return hub.ErrStreamNotFound
				}
				go func() { // the "pull" comes up asynchronously, like a relay dial
					<-time.After(tc.delay) // a slow origin, not synchronisation
					p, err := e.hub.Publish(key, hub.PublisherInfo{Protocol: "relay"})
					if err == nil {
						pubs <- p
					}
				}()
				return nil
			})

			type got struct {
				resp *http.Response
				err  error
			}
			res := make(chan got, 1)
			go func() {
				resp, err := http.Get(e.url("/edge/cam.flv"))
				res <- got{resp, err}
			}()
			var p *hub.Publisher
			select {
			case p = <-pubs:
			case <-time.After(waitFor + tc.delay):
				t.Fatal("the demand handler did not start a source for edge/cam")
			}
			e.waitReaders(t, "edge/cam", 1)
			// Audio first, and read by the player before video comes: a
			// header decided on the first media would lack video.
			write(t, p, metaPacket(metaAV...), audioSeq(0))
			require.Eventually(t, func() bool {
				rs := e.hub.Readers()
				return len(rs) == 1 && rs[0].Delivered >= 2
			}, waitFor, 2*time.Millisecond, "the player reads metadata and the audio header")
			write(t, p, videoSeq(0), videoKey(0), audioFrame(10))
			p.Close()
			var r got
			select {
			case r = <-res:
			case <-time.After(waitFor):
				t.Fatal("no response")
			}
			require.NoError(t, r.err)
			defer r.resp.Body.Close()
			require.Equal(t, http.StatusOK, r.resp.StatusCode)
			fh, tags := readFLV(t, r.resp.Body)
			require.True(t, fh.HasVideo)
			require.True(t, fh.HasAudio)
			require.Len(t, tags, 5)
		})
	}

	// A key the demand handler does not own: 404 without waiting.
	e := newEnv(t, Config{DemandWait: waitFor})
	e.hub.SetDemand(func(key string, _ hub.ReaderInfo) error {
		if key == "edge/cam" {
			return nil
		}
		return hub.ErrStreamNotFound
	})
	resp2, err := http.Get(e.url("/live/cam.flv"))
	require.NoError(t, err)
	resp2.Body.Close()
	require.Equal(t, http.StatusNotFound, resp2.StatusCode)
}

// A source that never comes up gives the player a clean 404 after DemandWait.
func TestDemandTimesOut(t *testing.T) {
	e := newEnv(t, Config{DemandWait: 50 * time.Millisecond})
	asked := make(chan string, 1)
	e.hub.SetDemand(func(key string, _ hub.ReaderInfo) error { asked <- key; return nil })
	resp, err := http.Get(e.url("/edge/none.flv"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, "edge/none", <-asked)
}
