package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// Forwarder is the restream targets of live streams as the API sees them
// (pkg/server adapts pkg/relay to it, so that the API does not import the
// relay). Targets are forward relays: each pushes the stream to one
// rtmp:// or rtmps:// destination. Every Relay it returns has its Target
// redacted already (the stream key of a destination is a secret).
type Forwarder interface {
	// List returns the targets of key; ErrNotLive when it is not live.
	List(key string) ([]Relay, error)
	// Add starts pushing key to url and returns the new target;
	// ErrNotLive, ErrInvalidTarget, ErrTooManyTargets.
	Add(key, url string) (Relay, error)
	// Remove stops target id of key; ErrNotLive, ErrNoTarget.
	Remove(key string, id uint64) error
}

// Errors a Forwarder returns, mapped to 404 (ErrNotLive, ErrNoTarget), 400
// and 409. Their text may follow the sentinel (wrapped with %w); it is
// shown to the client with the submitted URL cut out.
var (
	ErrInvalidTarget  = errors.New("invalid restream target")
	ErrTooManyTargets = errors.New("too many restream targets")
	ErrNoTarget       = errors.New("no such restream target")
)

// forwardsSuffix names a stream's restream targets:
// /streams/{app}/{stream}/forwards[/{id}].
const forwardsSuffix = "/forwards"

// maxForwardBody bounds the JSON body of POST .../forwards: a URL of a few
// KiB at most.
const maxForwardBody = 8 << 10

// TargetRequest is the body of POST /streams/{app}/{stream}/forwards.
type TargetRequest struct {
	URL string `json:"url"` // rtmp:// or rtmps:// destination, stream key included
}

// forwardsKey reports whether path ("app/stream/forwards") names a stream's
// targets, and the stream key. The stream needs an app: "live/forwards" is
// the stream "forwards" of app "live", not a sub-resource.
func forwardsKey(path string) (string, bool) {
	key, ok := strings.CutSuffix(path, forwardsSuffix)
	return key, ok && strings.Contains(key, "/")
}

// forwardKey reports whether path ("app/stream/forwards/ID") names one
// target, with the stream key and the target's id. A last segment that is
// not a decimal id is not a target.
func forwardKey(path string) (key string, id uint64, ok bool) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", 0, false
	}
	id, err := strconv.ParseUint(path[i+1:], 10, 64)
	if err != nil {
		return "", 0, false
	}
	key, ok = forwardsKey(path[:i])
	return key, id, ok
}

// redact is the text of a restream URL fit for logs and responses.
func (a *API) redact(url string) string {
	if a.cfg.Redact != nil {
		return a.cfg.Redact(url)
	}
	return "(target)"
}

// listForwards serves GET /streams/{app}/{stream}/forwards.
func (a *API) listForwards(w http.ResponseWriter, key string) {
	if a.cfg.Forwarder == nil {
		writeError(w, http.StatusNotImplemented, "restreaming is not available on this server")
		return
	}
	list, err := a.cfg.Forwarder.List(key)
	if err != nil {
		a.forwardError(w, key, "", err)
		return
	}
	out := make([]Relay, 0, len(list))
	writeJSON(w, http.StatusOK, append(out, list...))
}

// addForward serves POST /streams/{app}/{stream}/forwards.
func (a *API) addForward(w http.ResponseWriter, r *http.Request, key string) {
	if a.cfg.Forwarder == nil {
		writeError(w, http.StatusNotImplemented, "restreaming is not available on this server")
		return
	}
	var req TargetRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxForwardBody))
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body over "+strconv.Itoa(maxForwardBody)+" bytes")
			return
		}
		// The decoder's text quotes at most a token of the body, never the
		// whole URL, but say only what is wrong with it.
		writeError(w, http.StatusBadRequest, `body must be a JSON object {"url": "rtmp://..."}`)
		return
	}
	if req.URL == "" {
		writeError(w, http.StatusBadRequest, `body must be a JSON object {"url": "rtmp://..."}`)
		return
	}
	rel, err := a.cfg.Forwarder.Add(key, req.URL)
	if err != nil {
		a.forwardError(w, key, req.URL, err)
		return
	}
	a.log.Info("restream target added by the API", "stream", key, "target_id", rel.ID,
		"target", rel.Target, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusCreated, rel)
}

// removeForward serves DELETE /streams/{app}/{stream}/forwards/{id}.
func (a *API) removeForward(w http.ResponseWriter, r *http.Request, key string, id uint64) {
	if a.cfg.Forwarder == nil {
		writeError(w, http.StatusNotImplemented, "restreaming is not available on this server")
		return
	}
	if err := a.cfg.Forwarder.Remove(key, id); err != nil {
		a.forwardError(w, key, "", err)
		return
	}
	a.log.Info("restream target removed by the API", "stream", key, "target_id", id, "remote", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}

// forwardError answers a Forwarder error. url, the submitted target, is
// replaced by its redacted form wherever the error's text quotes it.
func (a *API) forwardError(w http.ResponseWriter, key, url string, err error) {
	msg := err.Error()
	if url != "" {
		red := a.redact(url)
		quoted := strconv.Quote(url) // %q, as url.Error prints it
		msg = strings.ReplaceAll(msg, quoted[1:len(quoted)-1], red)
		msg = strings.ReplaceAll(msg, url, red)
	}
	q := strconv.Quote(key)
	switch {
	case errors.Is(err, ErrNotLive):
		writeError(w, http.StatusNotFound, "stream "+q+" is not live")
	case errors.Is(err, ErrNoTarget):
		writeError(w, http.StatusNotFound, "stream "+q+" has no such restream target")
	case errors.Is(err, ErrInvalidTarget):
		writeError(w, http.StatusBadRequest, msg)
	case errors.Is(err, ErrTooManyTargets):
		writeError(w, http.StatusConflict, msg)
	default:
		a.log.Error("restream target change failed", "stream", key, "err", msg)
		writeError(w, http.StatusInternalServerError, msg)
	}
}
