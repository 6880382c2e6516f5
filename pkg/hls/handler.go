package hls

import (
	"bytes"
	"context"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/cors"
	"github.com/ripplemedia/ripple/pkg/internal/netx"
)

// Cache-Control values (issue: a CDN in front must be able to cache).
const (
	ccImmutable = "public, max-age=86400, immutable" // segments, parts, init sections: a name never changes meaning
	ccNotFound  = "public, max-age=2"                // an unknown stream: a CDN must not hammer us, nor remember it long
	ccNoStore   = "no-store"                         // a response that says "not yet"
	ctPlaylist  = "application/vnd.apple.mpegurl"
)

// firstWait bounds a playlist request waiting for a stream's first segment.
func (m *Manager) firstWait() time.Duration {
	return max(10*time.Second, 3*m.cfg.SegmentDuration)
}

// blockWait bounds a blocking playlist reload or preload-hint request:
// three target durations (rfc8216bis §6.2.5.2 lets the server answer
// after that, and a client treats a longer wait as a failure).
func (m *Manager) blockWait(md *media) time.Duration {
	md.mu.Lock()
	t := md.target
	md.mu.Unlock()
	return 3 * time.Duration(t) * time.Second
}

// ServeHTTP serves GET, HEAD and OPTIONS on /{app...}/{stream}.m3u8 and
// /{app...}/{stream}/{file}.
func (m *Manager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	dw := netx.NewDeadlineWriter(w, m.cfg.WriteTimeout)
	defer dw.Clear()
	w = dw
	hdr := w.Header()
	m.cors.Set(hdr, r)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		cors.Preflight(w) // a preflight carries no token: never checked
		return
	default:
		hdr.Set("Allow", "GET, HEAD, OPTIONS")
		httpError(w, http.StatusMethodNotAllowed, "method not allowed", ccNoStore)
		return
	}
	key, object, ok := route(r.URL.Path)
	if !ok {
		httpError(w, http.StatusNotFound, "not found", ccNotFound)
		return
	}
	// Admission comes first: nothing (no lookup, no wait, no on-demand
	// start) happens for a request that is refused.
	admitted := m.cfg.Authorize == nil
	if !admitted && (m.cfg.AuthScope == AuthScopeAll || object == access.ObjectPlaylist) {
		if !m.admit(w, r, key, object) {
			return
		}
		admitted = true
	}
	switch object {
	case access.ObjectPlaylist:
		mx, err := m.demand(r.Context(), key, r)
		if err != nil {
			httpError(w, http.StatusServiceUnavailable, "stream unavailable: "+err.Error(), ccNotFound)
			return
		}
		if mx == nil {
			httpError(w, http.StatusNotFound, "stream not found", ccNotFound)
			return
		}
		m.touch(mx, key, r)
		m.serveTop(w, r, mx, key[strings.LastIndexByte(key, '/')+1:])
	case access.ObjectMedia:
		mx := m.get(key)
		if mx == nil {
			// A player that kept the media playlist URL restarts an
			// idled-out muxer too (on demand, or of a pulled stream);
			// starting one (or a pull) is always checked first,
			// whatever the scope.
			if !admitted && !m.admit(w, r, key, object) {
				return
			}
			var err error
			if mx, err = m.demand(r.Context(), key, r); err != nil {
				httpError(w, http.StatusServiceUnavailable, "stream unavailable: "+err.Error(), ccNotFound)
				return
			}
		}
		if mx == nil {
			// media.m3u8 is reserved: never a stream named "media".
			httpError(w, http.StatusNotFound, "stream not found", ccNotFound)
			return
		}
		m.touch(mx, key, r)
		m.serveMedia(w, r, mx)
	default:
		mx := m.get(key)
		if mx == nil {
			httpError(w, http.StatusNotFound, "not found", ccNotFound)
			return
		}
		m.touch(mx, key, r)
		m.serveFile(w, r, mx, r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:])
	}
}

// touch notes an admitted request for mx: it keeps an on-demand muxer
// alive and counts the client as one of key's viewers.
func (m *Manager) touch(mx *muxer, key string, r *http.Request) {
	mx.lastReq.Store(time.Now().UnixNano())
	m.viewers.seen(key, r.RemoteAddr, r.Header.Get("User-Agent"), m.now())
}

// route maps a request path to the stream key and the object asked:
// /a/b.m3u8 is the entry playlist of stream a/b (so app "live/cam" may hold
// a stream called "x": /live/cam/x.m3u8); /a/b/media.m3u8 and /a/b/FILE
// belong to the muxer of a/b.
func route(path string) (key, object string, ok bool) {
	p := strings.TrimPrefix(path, "/")
	dir, name := splitLast(p)
	switch {
	case name == "media.m3u8":
		key, object = dir, access.ObjectMedia
	case strings.HasSuffix(name, ".m3u8"):
		key, object = strings.TrimSuffix(p, ".m3u8"), access.ObjectPlaylist
	default:
		key, object = dir, access.ObjectFile
	}
	return key, object, hub.ValidKey(key)
}

func splitLast(p string) (dir, name string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

// waitReady waits (bounded) for the first segment. It writes the error
// response and returns false when there is none.
func (m *Manager) waitReady(w http.ResponseWriter, r *http.Request, md *media) bool {
	ctx, cancel := context.WithTimeout(r.Context(), m.firstWait())
	defer cancel()
	if md.wait(ctx, m.done, md.readyLocked) {
		return true
	}
	if r.Context().Err() == nil && ctx.Err() != nil {
		unavailable(w, "stream has no segment yet")
		return false
	}
	notLive(w, md)
	return false
}

// unavailable answers 503 with Retry-After: players retry a playlist that
// is not there yet (hls.js retries level loads; RFC 8216 §6.3.4 has
// clients reload on failure).
func unavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "1")
	httpError(w, http.StatusServiceUnavailable, msg, ccNoStore)
}

// notLive answers a request whose media ended: 404 when the stream is
// gone, 503 when a new media replaced it (HLS restarting after a panic).
func notLive(w http.ResponseWriter, md *media) {
	md.mu.Lock()
	replaced := md.replaced
	md.mu.Unlock()
	if replaced {
		unavailable(w, "stream restarting")
		return
	}
	httpError(w, http.StatusNotFound, "stream not found", ccNotFound)
}

// serveTop serves /app/stream.m3u8: the media playlist for MPEG-TS (URIs
// prefixed with "stream/"), a multivariant playlist for the fMP4 variants,
// and for every variant one listing the renditions too when the stream has
// some (serveVariants).
func (m *Manager) serveTop(w http.ResponseWriter, r *http.Request, mx *muxer, name string) {
	q, ok := m.viewerQuery(w, r, mx.key)
	if !ok {
		return
	}
	if rkeys := m.rends.of(mx.key); len(rkeys) > 0 {
		m.serveVariants(w, r, mx, rkeys)
		return
	}
	md := mx.media()
	if !m.waitReady(w, r, md) {
		return
	}
	md.mu.Lock()
	var body []byte
	var cc string
	if md.variant == VariantMPEGTS {
		body = md.renderLocked(name + "/").withQuery(q)
		cc = mediaMaxAge(md.target)
	} else {
		body = md.renderMultivariantLocked(name+"/", q)
		// Only BANDWIDTH can change while the stream lives.
		cc = "public, max-age=" + strconv.Itoa(max(1, md.target/2))
	}
	mod := md.modTime
	md.mu.Unlock()
	servePlaylist(w, r, body, m.cacheControl(mx.key, cc), mod)
}

// mediaMaxAge is half the target duration (at least 1 s): a CDN may serve a
// playlist that is at most half a segment stale.
func mediaMaxAge(target int) string {
	return "public, max-age=" + strconv.Itoa(max(1, target/2))
}

// serveMedia serves /app/stream/media.m3u8, holding the request for the
// delivery directives _HLS_msn and _HLS_part in low_latency mode.
func (m *Manager) serveMedia(w http.ResponseWriter, r *http.Request, mx *muxer) {
	vq, admissible := m.viewerQuery(w, r, mx.key)
	if !admissible {
		return
	}
	md := mx.media()
	q := r.URL.Query()
	msnStr, partStr := q.Get("_HLS_msn"), q.Get("_HLS_part")
	if md.variant != VariantLowLatency || msnStr == "" {
		if partStr != "" && md.variant == VariantLowLatency {
			httpError(w, http.StatusBadRequest, "_HLS_part without _HLS_msn", ccNoStore)
			return
		}
		if !m.waitReady(w, r, md) {
			return
		}
		md.mu.Lock()
		body, mod := md.renderLocked("").withQuery(vq), md.modTime
		cc := mediaMaxAge(md.target)
		ll := md.variant == VariantLowLatency
		if ll {
			// Changes every part; clients block with directives after
			// the first load, so this URL is only the entry point.
			cc = "public, max-age=1"
		}
		md.mu.Unlock()
		private := m.perViewer(mx.key)
		if ll {
			body, private = m.withReports(body, r, mx.key, private)
		}
		servePlaylist(w, r, body, privateCC(cc, private), mod)
		return
	}
	msn, err1 := strconv.ParseUint(msnStr, 10, 64)
	part := -1
	var err2 error
	if partStr != "" {
		part, err2 = strconv.Atoi(partStr)
	}
	if err1 != nil || err2 != nil || part < -1 {
		httpError(w, http.StatusBadRequest, "bad _HLS_msn or _HLS_part", ccNoStore)
		return
	}
	md.mu.Lock()
	tooFar := msn > md.nextMSN+1 // §6.2.5.2: more than two segments ahead
	md.mu.Unlock()
	if tooFar {
		httpError(w, http.StatusBadRequest, "_HLS_msn too far ahead", ccNoStore)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), m.blockWait(md))
	defer cancel()
	ok := md.wait(ctx, m.done, func() bool { return md.hasPartLocked(msn, part) })
	if r.Context().Err() != nil {
		return
	}
	if isClosed(m.done) {
		httpError(w, http.StatusServiceUnavailable, "shutting down", ccNoStore)
		return
	}
	md.mu.Lock()
	ended, ready := md.ended, md.readyLocked()
	body, mod, target := md.renderLocked("").withQuery(vq), md.modTime, md.target
	md.mu.Unlock()
	if ended {
		notLive(w, md)
		return
	}
	if !ready {
		unavailable(w, "stream has no segment yet")
		return
	}
	cc := "no-cache" // timed out: the answer does not satisfy the directive
	if ok {
		// The response to a satisfied directive stays correct for that
		// msn/part: cacheable for as long as parts are listed (three
		// target durations, rfc8216bis §4.4.4.9).
		cc = "public, max-age=" + strconv.Itoa(3*target)
	}
	body, private := m.withReports(body, r, mx.key, m.perViewer(mx.key))
	servePlaylist(w, r, body, privateCC(cc, private), mod)
}

// serveFile serves a segment, part or init section; a request for the
// preload-hinted (or a later) part of the segment in progress is held until
// it exists (rfc8216bis §6.2.6).
func (m *Manager) serveFile(w http.ResponseWriter, r *http.Request, mx *muxer, name string) {
	md := mx.media()
	f, ok := md.lookup(name)
	if !ok && md.variant == VariantLowLatency {
		if msn, idx, isPart := md.parsePartName(name); isPart {
			md.mu.Lock()
			future := msn == md.nextMSN || (msn == md.nextMSN+1 && idx == 0)
			md.mu.Unlock()
			if future {
				ctx, cancel := context.WithTimeout(r.Context(), m.blockWait(md))
				cond := func() bool { _, ok := md.files[name]; return ok }
				md.wait(ctx, m.done, cond)
				cancel()
				f, ok = md.lookup(name)
			}
		}
	}
	if !ok {
		httpError(w, http.StatusNotFound, "not found", ccNotFound)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", f.ctype)
	hdr.Set("Cache-Control", m.cacheControl(mx.key, ccImmutable))
	hdr.Set("ETag", `"`+name+`"`) // names are unique for ever (epoch prefix)
	http.ServeContent(w, r, "", f.modTime, bytes.NewReader(f.data))
}

// parsePartName splits EPOCH-MSN.IDX.m4s.
func (m *media) parsePartName(name string) (msn uint64, idx int, ok bool) {
	rest, ok := strings.CutPrefix(name, m.epoch+"-")
	if !ok {
		return 0, 0, false
	}
	rest, ok = strings.CutSuffix(rest, ".m4s")
	if !ok {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, 0, false
	}
	msn, err1 := strconv.ParseUint(a, 10, 64)
	idx, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || idx < 0 {
		return 0, 0, false
	}
	return msn, idx, true
}

// servePlaylist writes a playlist with a content hash ETag; ServeContent
// answers HEAD, If-None-Match and If-Modified-Since.
func servePlaylist(w http.ResponseWriter, r *http.Request, body []byte, cc string, mod time.Time) {
	h := fnv.New64a()
	h.Write(body)
	if r.Header.Get("If-Modified-Since") != "" && r.Header.Get("If-None-Match") == "" {
		// Last-Modified has one-second resolution and a playlist changes
		// faster: revalidate playlists by ETag only, never by date.
		r = r.Clone(r.Context())
		r.Header.Del("If-Modified-Since")
	}
	hdr := w.Header()
	hdr.Set("Content-Type", ctPlaylist)
	hdr.Set("Cache-Control", cc)
	hdr.Set("ETag", `"`+strconv.FormatUint(h.Sum64(), 36)+`"`)
	http.ServeContent(w, r, "", mod, bytes.NewReader(body))
}

func httpError(w http.ResponseWriter, code int, msg, cc string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Cache-Control", cc)
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n")) // a failed write means the client left
}
