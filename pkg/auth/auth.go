// Package auth decides who may publish and play: signed URLs checked
// locally (no round trip), IP allow/deny lists, and HTTP hooks in the spirit
// of SRS callbacks (on_publish/on_play can reject; on_unpublish/on_stop are
// notifications delivered asynchronously with retries).
//
// A Checker holds its rules behind an atomic pointer: Reload swaps them
// (SIGHUP) without touching sessions already admitted.
package auth

import (
	"errors"
	"fmt"
	"strings"
)

// Actions, as sent in the hook body's "action" field.
const (
	ActionPublish    = "on_publish"
	ActionPlay       = "on_play"
	ActionUnpublish  = "on_unpublish"
	ActionStop       = "on_stop"
	ActionRecordDone = "on_record_done"
)

// Request describes one publish or play attempt (or its end, for the
// asynchronous hooks).
type Request struct {
	App      string // "live"; may contain "/" (ffmpeg maps rtmp://h/a/b/c to app "a/b")
	Stream   string // "cam1", without query
	Query    string // raw query string, without '?': the token lives here
	ClientID string // the protocol's connection id; may be empty
	RemoteIP string // "ip" or "ip:port"; the real client address (PROXY protocol, X-Forwarded-For applied)
	Protocol string // access.ProtoRTMP, ProtoHTTPFLV, ProtoWSFLV, ProtoHLS
}

// Key is the hub stream key app/stream, the string that signatures cover.
func (r Request) Key() string { return r.App + "/" + r.Stream }

// SplitKey splits a hub stream key at its last "/" into app and stream.
func SplitKey(key string) (app, stream string) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return "", key
	}
	return key[:i], key[i+1:]
}

// Sentinels for the two kinds of refusal; protocol adapters map them:
// ErrUnauthorized (missing, bad or expired token) → HTTP 401,
// ErrForbidden (IP lists, a hook said no, a hook failed closed) → HTTP 403.
// RTMP sends the error's Reason as the onStatus description either way.
var (
	ErrUnauthorized = errors.New("auth: unauthorized")
	ErrForbidden    = errors.New("auth: forbidden")
)

// Error is a refusal: Kind is ErrUnauthorized or ErrForbidden; Reason is a
// short text safe to show the client (OBS logs it, ffmpeg prints it).
type Error struct {
	Kind   error
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("%v: %s", e.Kind, e.Reason) }
func (e *Error) Unwrap() error { return e.Kind }

func unauthorized(format string, args ...any) error {
	return &Error{Kind: ErrUnauthorized, Reason: fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) error {
	return &Error{Kind: ErrForbidden, Reason: fmt.Sprintf(format, args...)}
}

// Reason returns the client-facing text of an auth refusal, or a generic one
// for any other error.
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return "not authorized"
}

// HTTPStatus is the status an HTTP handler answers a refusal with: 401 for
// a missing, bad or expired token, 403 otherwise.
func (e *Error) HTTPStatus() int {
	if errors.Is(e.Kind, ErrUnauthorized) {
		return 401
	}
	return 403
}
