// Package access is Ripple's one admission check: every way of using a
// stream (an RTMP publish or play, an HTTP-FLV GET or HEAD, a WS-FLV
// upgrade, every HLS object) is described as a Request and passed to one
// Func before the stream is touched, as mediamtx routes every protocol
// through PathAccessRequest. The protocols build Requests; pkg/server
// decides them (signed URLs, IP lists, hooks: pkg/auth).
//
// The package also names the protocols (ProtoRTMP, ...) and owns the rule that maps a stream key to the app whose
// settings apply to it (MatchApp), so that auth, publish policies and relays
// agree on it for nested keys.
package access

import (
	"context"
	"fmt"
	"strings"
)

// Action is what a Request wants to do with a stream.
type Action uint8

// Actions.
const (
	Play Action = iota + 1
	Publish
)

func (a Action) String() string {
	switch a {
	case Play:
		return "play"
	case Publish:
		return "publish"
	}
	return "unknown"
}

// Protocol names, as they appear in logs, hooks, metrics and the API
// (hub.PublisherInfo and hub.ReaderInfo, panic components). They live here,
// below every protocol package, so that each spells them once.
const (
	ProtoRTMP    = "rtmp"
	ProtoHTTPFLV = "http-flv"
	ProtoWSFLV   = "ws-flv"
	ProtoHLS     = "hls"
	// ProtoRelay is an edge pull publishing into the hub or a forward
	// reading from it; relays are internal and never pass a Func.
	ProtoRelay = "relay"
	// ProtoRecord is the recorder's hub reader (one per recorded stream)
	// and ProtoThumbnail the short-lived reader a thumbnail decode takes
	// its keyframe from. Like the HLS muxer's reader they are not viewers:
	// the API and the page do not count them as players.
	ProtoRecord    = "record"
	ProtoThumbnail = "thumbnail"
	// ProtoTranscode is a transcode ladder: its reader of the source (not
	// a viewer) and its renditions' publishers.
	ProtoTranscode = "transcode"
)

// HLS objects (Request.Object), for logs and per-object decisions.
const (
	ObjectPlaylist = "playlist" // the entry playlist /app/stream.m3u8
	ObjectMedia    = "media"    // /app/stream/media.m3u8, blocking reloads included
	ObjectFile     = "file"     // a segment, part or init section
)

// MaxQuery is the longest query string (without '?') any request may carry:
// tokens are a few hundred bytes, and everything that remembers a query
// (auth caches, hook sessions, relays) is bounded by it. HTTP answers a
// longer one with 414 before any handler runs; RTMP refuses the publish or
// play.
const MaxQuery = 4096

// Request is one admission question.
type Request struct {
	Action   Action
	Protocol string // ProtoRTMP, ProtoHTTPFLV, ProtoWSFLV, ProtoHLS
	// Key is the hub stream key app/stream (app may hold several
	// segments: rtmp://h/live/x/cam1 is key "live/x/cam1").
	Key string
	// Query is the raw query string without '?' (the token lives here);
	// HLS delivery directives (_HLS_msn, ...) are already removed.
	Query string
	// RemoteAddr is the real client address, "ip" or "ip:port" (PROXY
	// protocol and trusted X-Forwarded-For applied).
	RemoteAddr string
	// ClientID is the protocol's id of the connection ("rtmp-12"); may be
	// empty.
	ClientID string
	// Object says which HLS object is asked (ObjectPlaylist, ...); "" for
	// the other protocols.
	Object string
}

// Split splits the key at its last "/" into the app path and the stream
// name, as signatures and hook bodies name them ("live/x", "cam1").
func (r Request) Split() (app, stream string) {
	i := strings.LastIndexByte(r.Key, '/')
	if i < 0 {
		return "", r.Key
	}
	return r.Key[:i], r.Key[i+1:]
}

// Func decides a Request: nil admits; an error refuses, and its text is
// what the client is told. An error with an HTTPStatus() int method picks
// the HTTP status (401 for a bad token, 403 otherwise, 414 for a long
// query). ctx ends with the client.
type Func func(ctx context.Context, r Request) error

// QueryTooLongError refuses a request whose query exceeds MaxQuery.
type QueryTooLongError struct{ Len int }

func (e *QueryTooLongError) Error() string {
	return fmt.Sprintf("access: query of %d bytes exceeds the limit of %d", e.Len, MaxQuery)
}

// HTTPStatus is 414 URI Too Long.
func (e *QueryTooLongError) HTTPStatus() int { return 414 }

// CheckQuery returns a *QueryTooLongError if q is longer than MaxQuery.
func CheckQuery(q string) error {
	if len(q) > MaxQuery {
		return &QueryTooLongError{Len: len(q)}
	}
	return nil
}

// MatchApp returns the configured app whose settings apply to key: the
// longest app path that key lies under, segment by segment. With apps
// "live" and "live/x", "live/x/cam1" is under "live/x", "live/y/cam1" and
// "live/cam1" under "live"; "livex/cam1" under neither. has reports whether
// an app is configured. ok is false when none matches.
func MatchApp(key string, has func(app string) bool) (app string, ok bool) {
	dir := key
	for {
		i := strings.LastIndexByte(dir, '/')
		if i < 0 {
			return "", false
		}
		dir = dir[:i]
		if has(dir) {
			return dir, true
		}
	}
}
