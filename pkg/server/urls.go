package server

import (
	"net"
	"strconv"
)

// exampleKey is the stream key the start-up lines use in their URLs: app
// "live", stream "stream". Any app and name work; this pair only makes the
// printed URLs copy-pasteable (ffmpeg -f flv rtmp://..., ffplay http://...).
const exampleKey = "live/stream"

// startURLs are the URLs the start-up log prints: where to publish, the
// player page, and the playback URLs of the example key.
type startURLs struct {
	Publish string // rtmp://host:port/live/stream
	Page    string // http://host:port/
	RTMP    string // the same URL as Publish, to play
	FLV     string // http://host:port/live/stream.flv
	WSFLV   string // ws://host:port/live/stream.flv
	HLS     string // http://host:port/live/stream.m3u8; empty when HLS is off
}

// newStartURLs builds the URLs for the bound listeners.
func newStartURLs(rtmpAddr, httpAddr net.Addr, hls bool) startURLs {
	r, h := urlHost(rtmpAddr), urlHost(httpAddr)
	u := startURLs{
		Publish: "rtmp://" + r + "/" + exampleKey,
		Page:    "http://" + h + "/",
		FLV:     "http://" + h + "/" + exampleKey + ".flv",
		WSFLV:   "ws://" + h + "/" + exampleKey + ".flv",
	}
	u.RTMP = u.Publish
	if hls {
		u.HLS = "http://" + h + "/" + exampleKey + ".m3u8"
	}
	return u
}

// publishAttrs and watchAttrs are the attributes of the two start-up
// lines, "publish to" and "watch at".
func (u startURLs) publishAttrs() []any {
	return []any{"url", u.Publish, "stream", "any app/name: " + exampleKey + " is an example"}
}

func (u startURLs) watchAttrs() []any {
	attrs := []any{"page", u.Page, "http-flv", u.FLV, "ws-flv", u.WSFLV, "rtmp", u.RTMP}
	if u.HLS != "" {
		attrs = append(attrs, "hls", u.HLS)
	}
	return attrs
}

// urlHost is host:port for a URL reaching the listener at a from this
// machine: "localhost" for a wildcard bind (":8080", "0.0.0.0", "[::]"),
// the bound address otherwise (IPv6 in brackets).
func urlHost(a net.Addr) string {
	port := "0"
	host := "localhost"
	if ta, ok := a.(*net.TCPAddr); ok {
		port = strconv.Itoa(ta.Port)
		if ta.IP != nil && !ta.IP.IsUnspecified() {
			host = ta.IP.String()
		}
	}
	return net.JoinHostPort(host, port)
}
