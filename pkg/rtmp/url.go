package rtmp

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Default ports: the IANA-registered RTMP port, and HTTPS's for RTMPS
// (RTMP inside TLS), which is where RTMPS ingests listen (Facebook, YouTube).
const (
	DefaultPort    = "1935"
	DefaultTLSPort = "443"
)

// URL is a parsed rtmp:// or rtmps:// address as a client sends it in
// `connect`.
type URL struct {
	// TLS is set for rtmps://: the connection is RTMP inside TLS.
	TLS bool
	// Host is host:port (port defaulted to 1935, 443 with TLS), ready for
	// net.Dial.
	Host string
	// App is the application path without leading or trailing slashes; it
	// may hold several segments ("live/sub"). The query, if any, is kept
	// apart in Query.
	App string
	// Query is the raw query string without '?', "" when absent.
	Query string
}

// ParseURL parses rtmp[s]://host[:port]/app[/...][?query]. The whole path is
// the app: the stream name is passed separately to Publish or Play (use
// SplitStreamURL for URLs that end in the stream name).
func ParseURL(raw string) (URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return URL{}, fmt.Errorf("rtmp: parse url %q: %w", raw, err)
	}
	port := DefaultPort
	switch u.Scheme {
	case "rtmp":
	case "rtmps":
		port = DefaultTLSPort
	default:
		return URL{}, fmt.Errorf("rtmp: url %q: scheme %q not supported (want rtmp or rtmps)", raw, u.Scheme)
	}
	if u.Hostname() == "" {
		return URL{}, fmt.Errorf("rtmp: url %q has no host", raw)
	}
	if p := u.Port(); p != "" {
		port = p
	}
	app := strings.Trim(u.Path, "/")
	if app == "" {
		return URL{}, fmt.Errorf("rtmp: url %q has no app", raw)
	}
	return URL{TLS: u.Scheme == "rtmps", Host: net.JoinHostPort(u.Hostname(), port), App: app, Query: u.RawQuery}, nil
}

// ConnectApp is the `app` value of the connect command: the app with its
// query, the way ffmpeg and OBS send it (an auth token in the app URL must
// reach the server).
func (u URL) ConnectApp() string {
	if u.Query == "" {
		return u.App
	}
	return u.App + "?" + u.Query
}

// TCURL is the `tcUrl` value of the connect command.
func (u URL) TCURL() string { return u.scheme() + "://" + u.Host + "/" + u.ConnectApp() }

func (u URL) scheme() string {
	if u.TLS {
		return "rtmps"
	}
	return "rtmp"
}

// ServerName is the host name without the port: the TLS server name (SNI
// and certificate verification) of an rtmps:// URL.
func (u URL) ServerName() string {
	h, _, err := net.SplitHostPort(u.Host)
	if err != nil {
		return u.Host
	}
	return h
}

// SplitStreamURL splits rtmp[s]://host/app/.../name[?query] into the connect URL
// (everything before the last path segment) and the stream name with the
// query, the same split ffmpeg makes (the last segment is the stream, the
// rest is the app). It fails when the path has fewer than two segments.
func SplitStreamURL(raw string) (connectURL, name string, err error) {
	base, query, _ := strings.Cut(raw, "?")
	i := strings.LastIndexByte(strings.TrimRight(base, "/"), '/')
	if i < 0 {
		return "", "", fmt.Errorf("rtmp: url %q has no stream name", raw)
	}
	connectURL, name = base[:i], strings.TrimRight(base[i+1:], "/")
	if _, perr := ParseURL(connectURL); perr != nil || name == "" {
		return "", "", fmt.Errorf("rtmp: url %q: want rtmp[s]://host/app/name", raw)
	}
	if query != "" {
		name += "?" + query
	}
	return connectURL, name, nil
}

// splitQuery cuts "name?query" into its parts.
func splitQuery(s string) (name, query string) {
	name, query, _ = strings.Cut(s, "?")
	return name, query
}

// joinQuery joins two raw query strings with '&', skipping empty ones.
func joinQuery(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "&" + b
}
