//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// rssKB returns the resident set size of pid in KiB.
func rssKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

var reTarget = regexp.MustCompile(`#EXT-X-TARGETDURATION:(\d+)`)

// TestKeyframelessStreamBounded: an encoder that sends one keyframe and then
// none (intra-refresh encoders do this; so can a hostile one) used to grow
// the HLS segment in progress at the ingest rate without bound, and the
// target duration with it. Now segments are cut at hls.segment_max_bytes /
// segment_max_duration, the target duration stays within the cap, and the
// server's memory stops growing while the stream goes on.
func TestKeyframelessStreamBounded(t *testing.T) {
	t.Parallel()
	const (
		key       = "live/nokey"
		frameSize = 100 << 10 // 30 fps: 3 MB/s
		seconds   = 30
		maxBytes  = 2 << 20
	)
	srv := startServer(t, "RIPPLE_HLS_SEGMENT_COUNT=2", "RIPPLE_HLS_SEGMENT_KEEP=0",
		"RIPPLE_HLS_SEGMENT_MAX_BYTES="+strconv.Itoa(maxBytes), envGrace+"=0s")
	pid := srv.cmd.Process.Pid

	ctx, cancel := context.WithTimeout(context.Background(), (seconds+30)*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, "rtmp://"+srv.RTMPAddr+"/live", rtmp.ClientConfig{})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Publish(ctx, "nokey"))
	require.NoError(t, c.WritePacket(mediatest.VideoHeader(0, 320, 240)))

	// Real time: one frame every 33 ms, the first one a keyframe.
	var rss []int
	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	start := time.Now()
	for i := 0; i < seconds*30; i++ {
		<-tick.C
		require.NoError(t, c.WritePacket(mediatest.VideoFrame(uint32(i*1000/30), i == 0, frameSize, byte(i))))
		if i%30 == 0 {
			rss = append(rss, rssKB(t, pid))
		}
	}
	t.Logf("published %d s of keyframe-less video at %d KB/s in %s; RSS by second (MiB): %v",
		seconds, frameSize*30>>10, time.Since(start).Round(time.Millisecond), mib(rss))

	pl := waitPlaylist(t, "http://"+srv.HTTPAddr+"/"+key+".m3u8", 2)
	m := reTarget.FindStringSubmatch(pl)
	require.NotNil(t, m, pl)
	target, _ := strconv.Atoi(m[1])
	require.LessOrEqual(t, target, 6, "the target duration stays within 3 × segment_duration\n%s", pl)
	for _, s := range reExtinf.FindAllStringSubmatch(pl, -1) {
		b, _ := fetch(t, resolve(t, "http://"+srv.HTTPAddr+"/"+key+".m3u8", s[2]))
		require.LessOrEqual(t, len(b), maxBytes+(256<<10), "segment %s", s[2])
	}
	// After the first 10 s (GOP cache and segment window filled), memory
	// is flat: the unbounded segment grew by 3 MB a second (60 MB here).
	growth := rss[len(rss)-1] - rss[10]
	require.Less(t, growth, 40<<10, "RSS grew %d KiB from second 10 to %d: %v MiB", growth, seconds, mib(rss))
	_, err = srv.out.waitFor(5*time.Second, 0, contains("without a keyframe"))
	require.NoError(t, err, "the first cut without a keyframe is logged")
}

func mib(kb []int) []int {
	out := make([]int, len(kb))
	for i, v := range kb {
		out[i] = v >> 10
	}
	return out
}

// TestSlowClientsCut: connections that hold the server without finishing a
// request are cut within 30 s: a body promised by Content-Length that never
// comes (on the API, the page, an FLV URL), headers trickled byte by byte, an
// RTMP connection that opens partial messages and never sends connect.
func TestSlowClientsCut(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	const within = 30 * time.Second
	type slow struct {
		name    string
		addr    string
		send    func(c net.Conn) error
		trickle []byte // sent every 2 s; default one byte
	}
	bodyNeverComes := func(method, path string) func(c net.Conn) error {
		return func(c net.Conn) error {
			_, err := fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", method, path)
			return err
		}
	}
	cases := []slow{
		{name: "api_post_body", addr: srv.HTTPAddr, send: bodyNeverComes("POST", "/api/v1/streams")},
		{name: "api_delete_body", addr: srv.HTTPAddr, send: bodyNeverComes("DELETE", "/api/v1/clients/1")},
		{name: "page_get_body", addr: srv.HTTPAddr, send: bodyNeverComes("GET", "/")},
		{name: "flv_get_body", addr: srv.HTTPAddr, send: bodyNeverComes("GET", "/live/none.flv")},
		{name: "hls_get_body", addr: srv.HTTPAddr, send: bodyNeverComes("GET", "/live/none.m3u8")},
		{name: "headers_trickled", addr: srv.HTTPAddr, send: func(c net.Conn) error {
			_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
			return err
		}},
		{
			name: "rtmp_partial_messages_no_connect", addr: srv.RTMPAddr,
			send: func(c net.Conn) error {
				plainHandshakeErr(c)
				// 60 chunk streams each open a 60 KB video message with
				// one chunk of 128 bytes; none completes.
				for csid := 3; csid < 63; csid++ {
					h := []byte{byte(csid), 0, 0, 0, 0, 0xEA, 0x60, 9, 1, 0, 0, 0}
					if _, err := c.Write(append(h, make([]byte, 128)...)); err != nil {
						return err
					}
				}
				return nil
			},
			// A complete Window Acknowledgement Size message every 2 s:
			// the connection is never idle, so only the connect
			// timeout (or the partial-message budget) can end it.
			trickle: []byte{2, 0, 0, 0, 0, 0, 4, 5, 0, 0, 0, 0, 0, 0x26, 0x25, 0xA0},
		},
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results = make([]string, len(cases))
	)
	fail := func(i int, msg string) {
		mu.Lock()
		defer mu.Unlock()
		if results[i] == "" {
			results[i] = msg
		}
	}
	for i, sc := range cases {
		for j := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial("tcp", sc.addr)
				if err != nil {
					fail(i, "dial: "+err.Error())
					return
				}
				defer c.Close()
				if err := sc.send(c); err != nil {
					fail(i, "send: "+err.Error())
					return
				}
				start := time.Now()
				// Keep trickling a byte every 2 s (defeats an idle timer),
				// and wait for the server to close.
				closed := make(chan time.Duration, 1)
				go func() {
					_, _ = io.Copy(io.Discard, c)
					closed <- time.Since(start)
				}()
				tick := time.NewTicker(2 * time.Second)
				defer tick.Stop()
				limit := time.After(within + 5*time.Second)
				for {
					select {
					case d := <-closed:
						if d > within {
							fail(i, fmt.Sprintf("connection %d closed after %s", j, d.Round(time.Second)))
						}
						return
					case <-tick.C:
						if sc.trickle != nil {
							_, _ = c.Write(sc.trickle)
						} else {
							_, _ = c.Write([]byte{'x'})
						}
					case <-limit:
						fail(i, fmt.Sprintf("connection %d still open after %s", j, within+5*time.Second))
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for i, sc := range cases {
		require.Empty(t, results[i], sc.name)
	}
	// The server still serves.
	resp, err := http.Get("http://" + srv.HTTPAddr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, err = srv.out.waitFor(time.Second, 0, func(s string) bool {
		return strings.Contains(s, "conn closed") && strings.Contains(s, "connect")
	})
	require.NoError(t, err, "the RTMP close line names the missing publish/play")
}

// plainHandshakeErr is plainHandshake for goroutines (no t).
func plainHandshakeErr(c net.Conn) {
	c1 := make([]byte, 1+1536)
	c1[0] = 3
	if _, err := c.Write(c1); err != nil {
		return
	}
	s := make([]byte, 1+1536+1536)
	if _, err := io.ReadFull(c, s); err != nil {
		return
	}
	_, _ = c.Write(s[1 : 1+1536])
}

// TestConnectionCaps: per-address caps on both listeners refuse the excess
// at once, count it in ripple_connections_refused_total, and do not affect
// other clients once the excess is gone.
func TestConnectionCaps(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "RIPPLE_HTTP_MAX_CONNECTIONS_PER_IP=10", "RIPPLE_RTMP_MAX_CONNECTIONS_PER_IP=5")
	for _, tc := range []struct {
		proto string
		addr  string
		limit int
	}{{"http", srv.HTTPAddr, 10}, {"rtmp", srv.RTMPAddr, 5}} {
		var open []net.Conn
		refused := 0
		for range tc.limit + 5 {
			c, err := net.Dial("tcp", tc.addr)
			require.NoError(t, err)
			open = append(open, c)
		}
		// A refused connection is closed by the server at once: a read
		// returns EOF; an accepted one times out (all read at once, well
		// within the server's own header timeout).
		eof := make(chan bool, len(open))
		for _, c := range open {
			go func() {
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				_, err := c.Read(make([]byte, 1))
				eof <- errors.Is(err, io.EOF)
			}()
		}
		for range open {
			if <-eof {
				refused++
			}
		}
		require.Equal(t, 5, refused, tc.proto)
		for _, c := range open {
			c.Close()
		}
	}
	// After the excess is gone, a normal request works (the HTTP slots are
	// released when the server sees the closes).
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + srv.HTTPAddr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond)
	metrics := scrapeMetrics(t, srv)
	require.Contains(t, metrics, `ripple_connections_refused_total{protocol="http",reason="max_connections_per_ip"} 5`)
	require.Contains(t, metrics, `ripple_connections_refused_total{protocol="rtmp",reason="max_connections_per_ip"} 5`)
	require.NotEmpty(t, srv.out.matching(0, contains("connection refused")))
}

func scrapeMetrics(t *testing.T, srv *server) string {
	t.Helper()
	resp, err := http.Get("http://" + srv.HTTPAddr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "ripple_") {
			b.WriteString(sc.Text() + "\n")
		}
	}
	return b.String()
}
