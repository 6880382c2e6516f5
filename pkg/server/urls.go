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

	// The TLS listeners' URLs (addTLS); empty when off.
	RTMPS   string // rtmps://host:port/live/stream
	PageTLS string // https://host:port/
	FLVTLS  string // https://host:port/live/stream.flv
	WSSFLV  string // wss://host:port/live/stream.flv
	HLSTLS  string // https://host:port/live/stream.m3u8
}

// newStartURLs builds the URLs for the bound listeners.
// A nil address is a listener that is off: its URLs stay empty.
func newStartURLs(rtmpAddr, httpAddr net.Addr, hls bool) startURLs {
	var u startURLs
	if rtmpAddr != nil {
		u.Publish = "rtmp://" + urlHost(rtmpAddr) + "/" + exampleKey
		u.RTMP = u.Publish
	}
	if httpAddr != nil {
		u.Page, u.FLV, u.WSFLV, u.HLS = httpURLs("http", "ws", httpAddr, hls)
	}
	return u
}

// httpURLs are the page, HTTP-FLV, WebSocket-FLV and (with hls) HLS URLs of
// an HTTP listener at a.
func httpURLs(scheme, wsScheme string, a net.Addr, hls bool) (page, flv, ws, hlsURL string) {
	base := urlHost(a) + "/"
	page = scheme + "://" + base
	flv = page + exampleKey + ".flv"
	ws = wsScheme + "://" + base + exampleKey + ".flv"
	if hls {
		hlsURL = page + exampleKey + ".m3u8"
	}
	return page, flv, ws, hlsURL
}

// addTLS adds the URLs of the RTMPS and HTTPS listeners (nil: off).
func (u *startURLs) addTLS(rtmpsAddr, httpsAddr net.Addr, hls bool) {
	if rtmpsAddr != nil {
		u.RTMPS = "rtmps://" + urlHost(rtmpsAddr) + "/" + exampleKey
	}
	if httpsAddr != nil {
		u.PageTLS, u.FLVTLS, u.WSSFLV, u.HLSTLS = httpURLs("https", "wss", httpsAddr, hls)
	}
}

// publishAttrs and watchAttrs are the attributes of the two start-up
// lines, "publish to" and "watch at".
func (u startURLs) publishAttrs() []any {
	var attrs []any
	attrs = appendSet(attrs, "url", u.Publish)
	attrs = appendSet(attrs, "rtmps", u.RTMPS)
	return append(attrs, "stream", "any app/name: "+exampleKey+" is an example")
}

func (u startURLs) watchAttrs() []any {
	var attrs []any
	for _, kv := range [][2]string{
		{"page", u.Page}, {"http-flv", u.FLV}, {"ws-flv", u.WSFLV}, {"rtmp", u.RTMP}, {"hls", u.HLS},
		{"page-https", u.PageTLS}, {"https-flv", u.FLVTLS}, {"wss-flv", u.WSSFLV}, {"rtmps", u.RTMPS},
		{"hls-https", u.HLSTLS},
	} {
		attrs = appendSet(attrs, kv[0], kv[1])
	}
	return attrs
}

// appendSet appends key and value unless the value is empty (a listener
// or a protocol that is off).
func appendSet(attrs []any, key, value string) []any {
	if value == "" {
		return attrs
	}
	return append(attrs, key, value)
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
