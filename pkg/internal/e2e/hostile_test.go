//go:build e2e

package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// avcHeader builds an AVC sequence header packet (FLV AVCPacketType 0) whose
// AVCDecoderConfigurationRecord holds exactly the given parameter sets,
// whatever they are: how a broken or hostile encoder would send them.
func avcHeader(ts uint32, sps, pps []byte) *av.Packet {
	prof := []byte{66, 0, 30}
	if len(sps) >= 4 {
		prof = sps[1:4]
	}
	b := []byte{0x17, 0, 0, 0, 0, 1, prof[0], prof[1], prof[2], 0xFF, 0xE1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(sps)))
	b = append(b, sps...)
	b = append(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pps)))
	b = append(b, pps...)
	return &av.Packet{Kind: av.KindVideo, Codec: av.CodecH264, Header: true, DTS: int64(ts), Data: b}
}

// hostilePublish is one malformed-but-plausible stream.
type hostilePublish struct {
	name string
	pkts func() []*av.Packet
}

// hostilePublishes are the three publishes that took the whole server down
// (docs/hardening.md §1): each crashed an HLS muxer goroutine, which nothing recovered.
var hostilePublishes = []hostilePublish{
	{
		// mediacommon's h264.IsRandomAccess indexed the empty PPS the TS
		// muxer put in front of every keyframe.
		name: "empty_pps",
		pkts: func() []*av.Packet {
			out := []*av.Packet{avcHeader(0, mediatest.SPS(320, 240), nil), mediatest.AudioHeader(0, 2)}
			for i := range 150 {
				ts := uint32(i * 33)
				out = append(out, mediatest.VideoFrame(ts, i%30 == 0, 800, byte(i)), mediatest.AudioFrame(ts, 200, byte(i), 2))
			}
			return out
		},
	},
	{
		// fmp4/low_latency: the muxer started audio-only; the AVC header's
		// SPS cannot be parsed, so the init section could not be rebuilt,
		// but the video track was installed anyway: nil track on the
		// keyframe.
		name: "audio_first_then_bad_sps",
		pkts: func() []*av.Packet {
			out := []*av.Packet{mediatest.AudioHeader(0, 2)}
			for i := range 120 { // ~2.8 s of audio: the muxer starts audio-only
				out = append(out, mediatest.AudioFrame(uint32(i*23), 200, byte(i), 2))
			}
			out = append(out, avcHeader(2800, mediatest.SPS(320, 240)[:5], mediatest.PPS()))
			for i := range 90 {
				ts := uint32(2800 + i*33)
				out = append(out, mediatest.VideoFrame(ts, i%30 == 0, 800, byte(i)), mediatest.AudioFrame(ts, 200, byte(i), 2))
			}
			return out
		},
	},
	{
		// fmp4/low_latency: video only, then a codec switch to a truncated
		// SPS followed by audio: the old container (no audio track) stayed
		// while the audio track was installed: nil track on the first AAC
		// frame.
		name: "switch_to_truncated_sps",
		pkts: func() []*av.Packet {
			out := []*av.Packet{mediatest.VideoHeader(0, 320, 240)}
			for i := range 90 {
				out = append(out, mediatest.VideoFrame(uint32(i*33), i%30 == 0, 800, byte(i)))
			}
			out = append(out, avcHeader(3000, mediatest.SPS(320, 240)[:5], mediatest.PPS()), mediatest.AudioHeader(3000, 2))
			for i := range 90 {
				ts := uint32(3000 + i*33)
				out = append(out, mediatest.AudioFrame(ts, 200, byte(i), 2), mediatest.VideoFrame(ts, i%30 == 0, 800, byte(i)))
			}
			return out
		},
	},
}

// publishPackets publishes pkts on key with Ripple's own RTMP client, as
// fast as the connection takes them, and closes.
func publishPackets(t *testing.T, srv *server, key string, pkts []*av.Packet) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app, name, _ := strings.Cut(key, "/")
	c, err := rtmp.Dial(ctx, "rtmp://"+srv.RTMPAddr+"/"+app, rtmp.ClientConfig{})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Publish(ctx, name))
	for _, p := range pkts {
		if err := c.WritePacket(p); err != nil {
			t.Fatalf("publish %s: %v", key, err)
		}
	}
}

// flvCounter plays an HTTP-FLV URL and counts the bytes it receives, until
// the test ends.
type flvCounter struct {
	n    atomic.Int64
	done chan struct{}
	err  error
}

func countFLV(t *testing.T, url string) *flvCounter {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &flvCounter{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			c.err = err
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			c.err = err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			c.err = fmt.Errorf("status %d", resp.StatusCode)
			return
		}
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			c.n.Add(int64(n))
			if err != nil {
				c.err = err
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-c.done
	})
	return c
}

// requireFlowing waits until the counter has grown by more than min bytes
// from now.
func (c *flvCounter) requireFlowing(t *testing.T, what string, minBytes int64) {
	t.Helper()
	from := c.n.Load()
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for c.n.Load()-from <= minBytes {
		select {
		case <-c.done:
			t.Fatalf("%s: the HTTP-FLV player ended: %v", what, c.err)
		case <-deadline:
			t.Fatalf("%s: the HTTP-FLV player got %d bytes in 20 s", what, c.n.Load()-from)
		case <-tick.C:
		}
	}
}

var reMediaSeq = regexp.MustCompile(`#EXT-X-MEDIA-SEQUENCE:(\d+)`)

// hlsMediaURL is the media playlist URL of key for variant.
func hlsMediaURL(srv *server, key, variant string) string {
	if variant == "mpegts" {
		return "http://" + srv.HTTPAddr + "/" + key + ".m3u8"
	}
	return "http://" + srv.HTTPAddr + "/" + key + "/media.m3u8"
}

// mediaSequence returns the playlist's EXT-X-MEDIA-SEQUENCE plus its segment
// count (the next segment's number), or -1 if it cannot be read.
func mediaSequence(u string) int {
	resp, err := http.Get(u)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := reMediaSeq.FindSubmatch(b)
	if resp.StatusCode != http.StatusOK || m == nil {
		return -1
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n + strings.Count(string(b), "#EXTINF:")
}

// requireHLSAdvancing waits until the media playlist at u lists a segment
// that did not exist yet.
func requireHLSAdvancing(t *testing.T, what, u string) {
	t.Helper()
	from := mediaSequence(u)
	deadline := time.Now().Add(hlsWait)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		n := mediaSequence(u)
		if n > from && from >= 0 {
			return
		}
		if from < 0 {
			from = n
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s did not advance past %d within %s", what, u, from, hlsWait)
		}
		<-tick.C
	}
}

// TestHostilePublishes publishes the three streams that took the whole server
// down (empty PPS; audio-only start then an SPS mediacommon cannot parse; a
// codec switch to a truncated SPS) under every HLS variant, while a calm
// stream plays over HTTP-FLV and HLS on the same server: the server, the calm
// stream's players and its HLS must go on, and each hostile stream is
// refused or stopped with a log line saying why.
func TestHostilePublishes(t *testing.T) {
	t.Parallel()
	clip := mediaPath(t, "h264_aac_gop1s.mp4")
	for _, variant := range []string{"mpegts", "fmp4", "low_latency"} {
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, "RIPPLE_HLS_VARIANT="+variant, envGrace+"=0s")
			const calm = "live/calm"
			pub := publishLoop(t, srv, calm, clip)
			srv.waitLive(t, calm, pub)
			player := countFLV(t, srv.flvURL(calm))
			waitPlaylist(t, hlsMediaURL(srv, calm, variant), 1)

			for _, h := range hostilePublishes {
				key := "live/" + h.name
				publishPackets(t, srv, key, h.pkts())
				require.False(t, srv.exited(), "ripple exited after %s", h.name)
				player.requireFlowing(t, "after "+h.name, 64<<10)
			}
			requireHLSAdvancing(t, "calm stream after the hostile publishes", hlsMediaURL(srv, calm, variant))

			// The empty PPS never reached a muxer: ingest dropped it and
			// said so once.
			_, err := srv.out.waitFor(10*time.Second, 0, func(s string) bool {
				return strings.Contains(s, "invalid packet") && strings.Contains(s, "live/empty_pps")
			})
			require.NoError(t, err, "no log line about the invalid header of live/empty_pps")
			if variant != "mpegts" {
				// The unparsable SPS: HLS of that stream says why it stopped.
				for _, key := range []string{"live/audio_first_then_bad_sps", "live/switch_to_truncated_sps"} {
					_, err := srv.out.waitFor(10*time.Second, 0, func(s string) bool {
						return strings.Contains(s, `proto=hls`) && strings.Contains(s, "stream="+key) &&
							strings.Contains(s, "level=WARN")
					})
					require.NoError(t, err, "no HLS warning for %s", key)
				}
			}
			for _, bad := range []string{"recovered panic", "level=ERROR"} {
				require.Empty(t, srv.out.matching(0, contains(bad)), "no component may have crashed")
			}
		})
	}
}
