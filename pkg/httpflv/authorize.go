package httpflv

import (
	"context"
	"errors"
	"net/http"

	"github.com/ripplemedia/ripple/pkg/access"
)

// authorize asks Config.Authorize, if set, about playing key over proto
// (GET, HEAD and WebSocket upgrades alike: a HEAD tells whether a stream is
// live, which is no one's business without the token either). A refusal is
// answered with the error's HTTP status (an error with an HTTPStatus() int
// method picks it, e.g. 401 for a missing token, 414 for a long query; 403
// otherwise) and its text as body, and logged at most once a second; it
// returns false then.
func (h *Handler) authorize(ctx context.Context, w http.ResponseWriter, r *http.Request, key, proto string) bool {
	if h.cfg.Authorize == nil {
		return true
	}
	err := h.cfg.Authorize(ctx, access.Request{
		Action: access.Play, Protocol: proto, Key: key, Query: r.URL.RawQuery, RemoteAddr: r.RemoteAddr,
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
	if n, ok := h.refusedLog.Allow(); ok {
		h.log.Info("play refused", "proto", proto, "remote", r.RemoteAddr, "stream", key, "status", status,
			"err", err, "suppressed", n)
	}
	httpError(w, status, err.Error())
	return false
}
