package server

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStartURLs(t *testing.T) {
	tcp := func(ip string, port int) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }
	cases := []struct {
		name       string
		rtmp, http net.Addr
		hls        bool
		want       startURLs
	}{
		{name: "wildcard binds", rtmp: &net.TCPAddr{Port: 1935}, http: tcp("::", 8080), hls: true, want: startURLs{
			Publish: "rtmp://localhost:1935/live/stream",
			Page:    "http://localhost:8080/",
			RTMP:    "rtmp://localhost:1935/live/stream",
			FLV:     "http://localhost:8080/live/stream.flv",
			WSFLV:   "ws://localhost:8080/live/stream.flv",
			HLS:     "http://localhost:8080/live/stream.m3u8",
		}},
		{name: "IPv4 any, HLS off", rtmp: tcp("0.0.0.0", 1935), http: tcp("0.0.0.0", 80), want: startURLs{
			Publish: "rtmp://localhost:1935/live/stream",
			Page:    "http://localhost:80/",
			RTMP:    "rtmp://localhost:1935/live/stream",
			FLV:     "http://localhost:80/live/stream.flv",
			WSFLV:   "ws://localhost:80/live/stream.flv",
		}},
		{name: "specific addresses", rtmp: tcp("192.0.2.10", 1936), http: tcp("2001:db8::1", 8081), hls: true, want: startURLs{
			Publish: "rtmp://192.0.2.10:1936/live/stream",
			Page:    "http://[2001:db8::1]:8081/",
			RTMP:    "rtmp://192.0.2.10:1936/live/stream",
			FLV:     "http://[2001:db8::1]:8081/live/stream.flv",
			WSFLV:   "ws://[2001:db8::1]:8081/live/stream.flv",
			HLS:     "http://[2001:db8::1]:8081/live/stream.m3u8",
		}},
		{name: "loopback", rtmp: tcp("127.0.0.1", 1935), http: tcp("::1", 8080), want: startURLs{
			Publish: "rtmp://127.0.0.1:1935/live/stream",
			Page:    "http://[::1]:8080/",
			RTMP:    "rtmp://127.0.0.1:1935/live/stream",
			FLV:     "http://[::1]:8080/live/stream.flv",
			WSFLV:   "ws://[::1]:8080/live/stream.flv",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, newStartURLs(tc.rtmp, tc.http, tc.hls))
		})
	}
}

// TestStartLogURLs checks that Run logs where to publish and where to
// watch, with the ports it bound.
func TestStartLogURLs(t *testing.T) {
	for _, hls := range []bool{true, false} {
		t.Run("hls="+strconv.FormatBool(hls), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.HTTP.Listen = ":0" // a wildcard bind is printed as localhost
			cfg.HLS.Enabled = hls
			r := start(t, cfg)
			rtmpPort, httpPort := strconv.Itoa(portOf(r.RTMPAddr())), strconv.Itoa(portOf(r.HTTPAddr()))
			status, _ := get(t, r.url("/healthz"), "") // Run logs before it serves
			require.Equal(t, 200, status)
			logs := r.logs.String()
			require.Contains(t, logs, `msg="publish to" url=rtmp://127.0.0.1:`+rtmpPort+`/live/stream`)
			watch := `msg="watch at" page=http://localhost:` + httpPort + `/ http-flv=http://localhost:` + httpPort +
				`/live/stream.flv ws-flv=ws://localhost:` + httpPort + `/live/stream.flv rtmp=rtmp://127.0.0.1:` +
				rtmpPort + `/live/stream`
			require.Contains(t, logs, watch)
			require.Equal(t, hls, strings.Contains(logs, `hls=http://localhost:`+httpPort+`/live/stream.m3u8`), logs)
		})
	}
}
