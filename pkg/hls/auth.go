package hls

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/ripplemedia/ripple/pkg/access"
)

// admit asks Config.Authorize about playing key's object for r. A refusal
// is answered with the error's HTTP status (an error with an HTTPStatus()
// int method picks it: 401 for a missing token, 414 for a long query; 403
// otherwise), its text as body and no-store, and logged at most once a
// second; admit returns false then, and also when the client left during
// the check (nothing is written: nobody is there to read it).
func (m *Manager) admit(w http.ResponseWriter, r *http.Request, key, object string) bool {
	ctx := r.Context()
	err := access.CheckQuery(r.URL.RawQuery)
	if err == nil {
		err = m.cfg.Authorize(ctx, access.Request{
			Action:     access.Play,
			Protocol:   access.ProtoHLS,
			Key:        key,
			Query:      stripDirectives(r.URL.RawQuery),
			RemoteAddr: r.RemoteAddr,
			Object:     object,
		})
	}
	if err == nil {
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	status := http.StatusForbidden
	var hs interface{ HTTPStatus() int }
	if errors.As(err, &hs) && hs.HTTPStatus() >= 400 && hs.HTTPStatus() <= 599 {
		status = hs.HTTPStatus()
	}
	if n, ok := m.refusedLog.Allow(); ok {
		m.cfg.Logger.Info("play refused", "proto", access.ProtoHLS, "stream", key, "remote", r.RemoteAddr,
			"object", object, "status", status, "err", err, "suppressed", n)
	}
	httpError(w, status, err.Error(), ccNoStore)
	return false
}

// perViewer reports whether key's playlists carry each viewer's query:
// every object is checked and plays of key are restricted, so every URI a
// player fetches needs the token.
func (m *Manager) perViewer(key string) bool {
	return m.cfg.Authorize != nil && m.cfg.AuthScope == AuthScopeAll &&
		(m.cfg.Restricted == nil || m.cfg.Restricted(key))
}

// viewerQuery returns the query appended to every URI of a playlist served
// to r: with perViewer, the viewer's query without the _HLS_ delivery
// directives (rfc8216bis §6.2.5: they belong to one request), re-encoded by
// url.Values.Encode so that no byte of it can end a quoted attribute or a
// line of the playlist; "" otherwise. A query that does not parse is
// answered with 400 and ok false.
func (m *Manager) viewerQuery(w http.ResponseWriter, r *http.Request, key string) (q string, ok bool) {
	if !m.perViewer(key) || r.URL.RawQuery == "" {
		return "", true
	}
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		httpError(w, http.StatusBadRequest, "malformed query", ccNoStore)
		return "", false
	}
	return upstreamQuery(v), true
}

// cacheControl turns a public Cache-Control into a private one when every
// object is checked: a shared cache would otherwise serve a response to a
// viewer whose token it never saw (or that has expired since).
func (m *Manager) cacheControl(key, cc string) string {
	return privateCC(cc, m.perViewer(key))
}

// privateCC turns a public Cache-Control into a private one when private
// (a response listing URIs that carry the viewer's query).
func privateCC(cc string, private bool) string {
	if private {
		if rest, ok := strings.CutPrefix(cc, "public"); ok {
			return "private" + rest
		}
	}
	return cc
}

// viewerQueries hands out the viewer's query for the URIs of other streams
// a playlist lists (renditions): each URI gets it when plays of its own
// key are checked per object (perViewer), as its requests will be. The
// query is parsed once, on first use; one that does not parse is left out
// (the requested key's own viewerQuery answered 400 already when it
// needed it).
type viewerQueries struct {
	m      *Manager
	raw    string
	parsed bool
	q      string
}

func (m *Manager) viewerQueries(r *http.Request) *viewerQueries {
	return &viewerQueries{m: m, raw: r.URL.RawQuery}
}

// forKey returns the query to append to a URI of key's objects ("" none).
func (vq *viewerQueries) forKey(key string) string {
	if vq.raw == "" || !vq.m.perViewer(key) {
		return ""
	}
	if !vq.parsed {
		vq.parsed = true
		if v, err := url.ParseQuery(vq.raw); err == nil {
			vq.q = upstreamQuery(v)
		}
	}
	return vq.q
}

// stripDirectives removes the _HLS_ delivery directives from a raw query,
// keeping every other byte as sent (a signature may cover them).
func stripDirectives(raw string) string {
	if !strings.Contains(raw, "_HLS_") && !strings.Contains(raw, "%") {
		return raw
	}
	var b strings.Builder
	for piece := range strings.SplitSeq(raw, "&") {
		k, _, _ := strings.Cut(piece, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if strings.HasPrefix(k, "_HLS_") {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(piece)
	}
	return b.String()
}
