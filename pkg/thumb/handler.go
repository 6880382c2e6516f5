package thumb

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// ServeHTTP serves GET and HEAD on /{app...}/{stream}.jpg: the stream's
// latest keyframe as a JPEG (Get), or a short text error.
//
//	200  image/jpeg, Cache-Control max-age = what is left of the Interval
//	     (public, or private when Config.Authorize is set), Last-Modified =
//	     when the keyframe was taken, a strong ETag; If-None-Match and
//	     If-Modified-Since give 304 (http.ServeContent)
//	400  not a valid stream key       403  Authorize refused
//	404  stream not live, or no video 405  another method
//	415  a video codec without a decoder input (ErrUnsupportedCodec)
//	501  no ffmpeg (ErrUnavailable)
//	502  ffmpeg failed or timed out, or the keyframe is too large
//	503  every decode slot busy and nothing cached, no keyframe within
//	     the timeout (both with Retry-After), or closed
func (t *Thumbnailer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".jpg")
	if !ok {
		httpError(w, http.StatusNotFound, "not found")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if !hub.ValidKey(key) {
		httpError(w, http.StatusBadRequest, "invalid stream name")
		return
	}
	if t.cfg.Authorize != nil && !t.cfg.Authorize(r, key) {
		httpError(w, http.StatusForbidden, "forbidden")
		return
	}
	img, err := t.get(r.Context(), key)
	if err != nil {
		t.serveError(w, err)
		return
	}
	hdr := w.Header()
	scope := "public"
	if t.cfg.Authorize != nil {
		scope = "private"
	}
	hdr.Set("Cache-Control", scope+", max-age="+strconv.Itoa(t.maxAge(img)))
	hdr.Set("Content-Type", "image/jpeg")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("ETag", img.etag)
	http.ServeContent(w, r, "", img.taken, bytes.NewReader(img.jpeg))
}

// maxAge is the whole seconds until the stream may be decoded again: a
// client (or cache) that keeps the image that long asks again when a newer
// one can exist.
func (t *Thumbnailer) maxAge(img *image) int {
	left := t.cfg.Interval - t.now().Sub(img.taken)
	if left <= 0 {
		return 0
	}
	return int(math.Ceil(left.Seconds()))
}

// serveError answers a failed Get.
func (t *Thumbnailer) serveError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotLive):
		httpError(w, http.StatusNotFound, "stream not found")
	case errors.Is(err, ErrNoVideo):
		httpError(w, http.StatusNotFound, "stream has no video")
	case errors.Is(err, ErrUnavailable):
		httpError(w, http.StatusNotImplemented, "thumbnails unavailable: ffmpeg not found")
	case errors.Is(err, ErrUnsupportedCodec):
		httpError(w, http.StatusUnsupportedMediaType, "video codec not supported for thumbnails")
	case errors.Is(err, ErrBusy):
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "busy, retry later")
	case errors.Is(err, ErrNoKeyframe):
		w.Header().Set("Retry-After", strconv.Itoa(seconds(t.cfg.Interval)))
		httpError(w, http.StatusServiceUnavailable, "no keyframe yet, retry later")
	case errors.Is(err, ErrDecode), errors.Is(err, ErrTooLarge):
		httpError(w, http.StatusBadGateway, "thumbnail decode failed")
	case errors.Is(err, ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// Closing, or the client left (nobody reads this).
		httpError(w, http.StatusServiceUnavailable, "unavailable")
	default:
		httpError(w, http.StatusInternalServerError, "internal error")
	}
}

// seconds rounds d up to whole seconds, at least 1.
func seconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

func httpError(w http.ResponseWriter, code int, msg string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}
