package httpflv

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// AuthRequest is what Config.Authorize decides on.
type AuthRequest struct {
	App, Stream string // the key app/stream, split at its last "/"
	Query       string // the request's raw query, without '?'
	Protocol    string // "http-flv" or "ws-flv"
	RemoteAddr  string // r.RemoteAddr (the real client once trusted proxies are applied)
}

// authorize asks Config.Authorize, if set, about playing key. A refusal is
// answered with the error's HTTP status (an error with an HTTPStatus() int
// method picks it, e.g. 401 for a missing token; 403 otherwise) and its
// text as body, and logged once; it returns false then.
func (h *Handler) authorize(ctx context.Context, w http.ResponseWriter, r *http.Request, key, proto string) bool {
	if h.cfg.Authorize == nil {
		return true
	}
	app, stream := "", key
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		app, stream = key[:i], key[i+1:]
	}
	err := h.cfg.Authorize(ctx, AuthRequest{
		App: app, Stream: stream, Query: r.URL.RawQuery, Protocol: proto, RemoteAddr: r.RemoteAddr,
	})
	if err == nil {
		return true
	}
	if ctx.Err() != nil {
		return false // the client left while we asked: nobody to answer
	}
	status := http.StatusForbidden
	var hs interface{ HTTPStatus() int }
	if errors.As(err, &hs) {
		status = hs.HTTPStatus()
	}
	h.log.Info("play refused", "proto", proto, "remote", r.RemoteAddr, "stream", key, "status", status, "err", err)
	httpError(w, status, err.Error())
	return false
}
