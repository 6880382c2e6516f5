package relay

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// Template variables in destination and origin URLs.
const (
	varApp    = "{app}"
	varStream = "{stream}"
)

// target is a parsed destination or origin URL template.
//
// RTMP: rtmp[s]://host[:port]/app[/stream][?query]. A path of one segment is the
// app and the stream name is appended (the local name); with two or more, the
// last one is the stream name, as ffmpeg splits it. The split is made on the
// template, before expansion, so an {app} of several segments stays the app.
// The query goes with the stream name ("name?query"), where ffmpeg, OBS and
// nginx-rtmp put auth tokens.
//
// HTTP-FLV (origins only): http[s]://host[:port]/path. Without {stream} the
// path gets "/{stream}.flv" appended.
type target struct {
	raw    string // the template as configured
	http   bool
	prefix string // rtmp://host:port/app-template (no trailing slash) or the http URL without query
	stream string // rtmp stream-name template
	query  string // template query, without '?'
}

// parseTarget parses a URL template; allowHTTP admits http(s):// origins.
// Errors show the URL redacted.
func parseTarget(raw string, allowHTTP bool) (target, error) {
	t := target{raw: raw}
	shown := Redact(raw)
	if len(raw) > MaxTargetURL {
		return target{}, fmt.Errorf("relay: url %s: %d bytes, limit %d", shown, len(raw), MaxTargetURL)
	}
	if i := strings.IndexFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f || r == ' ' }); i >= 0 {
		return target{}, fmt.Errorf("relay: url %s: control character or blank at byte %d", shown, i)
	}
	base, query, _ := strings.Cut(raw, "?")
	t.query = query
	scheme, rest, ok := strings.Cut(base, "://")
	if !ok {
		return target{}, fmt.Errorf("relay: url %s has no scheme (want rtmp://host/app)", shown)
	}
	if err := checkVars(raw); err != nil {
		return target{}, err
	}
	scheme = strings.ToLower(scheme) // schemes are case-insensitive (RFC 3986 §3.1)
	switch scheme {
	case "rtmp", "rtmps":
		host, path, _ := strings.Cut(rest, "/")
		path = strings.Trim(path, "/")
		if strings.ContainsAny(host, "{}") {
			return target{}, fmt.Errorf("relay: url %s: no template in the host", shown)
		}
		if host == "" || path == "" {
			return target{}, fmt.Errorf("relay: url %s: want rtmp[s]://host[:port]/app[/stream]", shown)
		}
		app, stream := path, varStream
		if i := strings.LastIndexByte(path, '/'); i >= 0 {
			app, stream = path[:i], path[i+1:]
		}
		t.prefix, t.stream = scheme+"://"+host+"/"+app, stream
		// Check what a real expansion gives.
		conn, name := t.rtmpURL("live", "s", "")
		if _, err := rtmp.ParseURL(conn); err != nil {
			// rtmp.ParseURL's error quotes the URL: keep only that it failed.
			return target{}, fmt.Errorf("relay: url %s: not a valid rtmp url", shown)
		}
		if name == "" {
			return target{}, fmt.Errorf("relay: url %s has an empty stream name", shown)
		}
	case "http", "https":
		if !allowHTTP {
			return target{}, fmt.Errorf("relay: url %s: scheme %q not supported here (want rtmp or rtmps)", shown, scheme)
		}
		if host, _, _ := strings.Cut(rest, "/"); strings.ContainsAny(host, "{}") {
			return target{}, fmt.Errorf("relay: url %s: no template in the host", shown)
		}
		t.http = true
		t.prefix = base
		if !strings.Contains(base, varStream) {
			t.prefix = strings.TrimRight(base, "/") + "/" + varStream + ".flv"
		}
		u, err := url.Parse(t.httpURL("live", "s", ""))
		if err != nil {
			return target{}, fmt.Errorf("relay: url %s: not a valid http url", shown)
		}
		if u.Host == "" {
			return target{}, fmt.Errorf("relay: url %s has no host", shown)
		}
	default:
		return target{}, fmt.Errorf("relay: url %s: scheme %q not supported (want rtmp, rtmps or http)", shown, scheme)
	}
	return t, nil
}

// checkVars rejects braces that are not {app} or {stream}: a typo like
// {name} would otherwise reach the destination literally.
func checkVars(raw string) error {
	s := strings.NewReplacer(varApp, "", varStream, "").Replace(raw)
	if strings.ContainsAny(s, "{}") {
		return fmt.Errorf("relay: url %s: unknown template variable (want {app} or {stream})", Redact(raw))
	}
	return nil
}

func expand(tmpl, app, name string) string {
	if !strings.Contains(tmpl, "{") {
		return tmpl
	}
	return strings.NewReplacer(varApp, app, varStream, name).Replace(tmpl)
}

// rtmpURL returns the connect URL and the stream name (with "?query": the
// template's, then extra) for the local stream app/name.
func (t target) rtmpURL(app, name, extra string) (connect, stream string) {
	connect = expand(t.prefix, app, name)
	stream = expand(t.stream, app, name)
	if q := joinQuery(expand(t.query, app, name), extra); q != "" {
		stream += "?" + q
	}
	return connect, stream
}

// httpURL returns the HTTP-FLV URL for the local stream app/name.
func (t target) httpURL(app, name, extra string) string {
	u := expand(t.prefix, app, name)
	if q := joinQuery(expand(t.query, app, name), extra); q != "" {
		u += "?" + q
	}
	return u
}

// display is the expanded URL redacted (Redact), for logs and Status.
func (t target) display(app, name string) string {
	if t.http {
		return Redact(t.httpURL(app, name, ""))
	}
	c, s := t.rtmpURL(app, name, "")
	return Redact(c + "/" + s)
}

// secrets lists what must not be shown of the stream name this target
// publishes or plays for app/name with extra query (see secretsOf).
func (t target) secrets(app, name, extra string) []string {
	if t.http {
		return secretsOf(name + "?" + joinQuery(expand(t.query, app, name), extra))
	}
	_, s := t.rtmpURL(app, name, extra)
	return secretsOf(s)
}

// joinQuery joins raw query strings with '&', skipping empty ones.
func joinQuery(qs ...string) string {
	var b strings.Builder
	for _, q := range qs {
		if q == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(q)
	}
	return b.String()
}
