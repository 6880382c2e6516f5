package hls

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// renditions knows which live streams are renditions of which source
// (hub.PublisherInfo.Source), from the hub's events, so that serving a
// playlist never scans the hub. It holds one entry per live rendition: the
// hub's own limits bound it.
type renditions struct {
	mu     sync.Mutex
	source map[string]string              // rendition key → its source key
	bySrc  map[string]map[string]struct{} // source key → its rendition keys
}

// set records key as a rendition of source; source "" forgets it.
func (rs *renditions) set(key, source string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	old, had := rs.source[key]
	if had && old == source {
		return
	}
	if had {
		delete(rs.source, key)
		if set := rs.bySrc[old]; set != nil {
			delete(set, key)
			if len(set) == 0 {
				delete(rs.bySrc, old)
			}
		}
	}
	if source == "" {
		return
	}
	if rs.source == nil {
		rs.source = make(map[string]string)
		rs.bySrc = make(map[string]map[string]struct{})
	}
	rs.source[key] = source
	set := rs.bySrc[source]
	if set == nil {
		set = make(map[string]struct{})
		rs.bySrc[source] = set
	}
	set[key] = struct{}{}
}

// of returns the rendition keys of source, sorted (nil: none).
func (rs *renditions) of(source string) []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	set := rs.bySrc[source]
	if len(set) == 0 {
		return nil
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sourceOf returns the source of rendition key, "" if key is none.
func (rs *renditions) sourceOf(key string) string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.source[key]
}

// siblings returns the other variant streams of key's group, sorted: the
// renditions of key when it is a source, the source and its other
// renditions when key is a rendition.
func (rs *renditions) siblings(key string) []string {
	src := rs.sourceOf(key)
	if src == "" {
		return rs.of(key)
	}
	keys := rs.of(src)
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == key })
	return append([]string{src}, keys...)
}

// trackRendition records whether key's publisher makes it a rendition. A
// rendition is listed by the relative URI of its directory beside the
// source's (/app/cam1_720p/ next to /app/cam1/), so one in another app,
// or naming itself, is not listed.
func (m *Manager) trackRendition(key string, pub hub.PublisherInfo) {
	src := pub.Source
	if src != "" && (src == key || !hub.ValidKey(src) || dirOf(src) != dirOf(key)) {
		m.cfg.Logger.Info("hls rendition not listed: its source must be another stream of its app",
			"stream", key, "source", src)
		src = ""
	}
	m.rends.set(key, src)
}

// renditionEnded forgets key once its stream ended, unless it is live
// again (events of different goroutines may come out of order: a new
// publish of the key may have been reported first).
func (m *Manager) renditionEnded(key string) {
	if m.rends.sourceOf(key) == "" {
		return
	}
	if si, live := m.hub.Stream(key); live {
		m.trackRendition(key, si.Publisher)
		return
	}
	m.rends.set(key, "")
}

// dirOf is the app part of a key ("live" for "live/cam1").
func dirOf(key string) string {
	dir, _ := splitLast(key)
	return dir
}

// baseOf is the stream name part of a key ("cam1" for "live/cam1").
func baseOf(key string) string {
	return key[strings.LastIndexByte(key, '/')+1:]
}

// serveVariants serves /app/stream.m3u8 of a stream with renditions (for
// every Variant): a multivariant playlist listing the stream itself
// (stream/media.m3u8) and each rendition (stream_720p/media.m3u8) that has
// a segment, highest BANDWIDTH first. The source too is left out while it
// has none (a codec HLS cannot carry, with renditions that it can). The
// request was admitted for the source; a rendition not muxed yet
// (OnDemand) starts here, as the player is about to pick one, and its own
// requests are then admitted under its own key like those of any stream.
func (m *Manager) serveVariants(w http.ResponseWriter, r *http.Request, mx *muxer, rkeys []string) {
	muxers := make([]*muxer, 1, 1+len(rkeys))
	muxers[0] = mx
	for _, k := range rkeys {
		x := m.get(k)
		if x == nil {
			if si, live := m.hub.Stream(k); live {
				x = m.ensureLive(si)
			}
		}
		if x != nil {
			muxers = append(muxers, x)
		}
	}
	m.waitStarting(r, muxers)
	vs, mod, target, private := m.variants(r, muxers)
	if len(vs) == 0 {
		// Nothing to list yet: wait for the source as without renditions.
		if !m.waitReady(w, r, mx.media()) {
			return
		}
		vs, mod, target, private = m.variants(r, muxers)
	}
	slices.SortStableFunc(vs, func(a, b variant) int { return cmp.Compare(b.st.peak, a.st.peak) })
	// BANDWIDTH changes, and renditions come and go, while the stream lives.
	cc := "public, max-age=" + strconv.Itoa(max(1, target/2))
	private = private || m.perViewer(mx.key)
	servePlaylist(w, r, renderVariants(vs), privateCC(cc, private), mod)
}

// variants reads the state of each muxer's media: the variants with a
// segment, the latest modification, the longest target duration and
// whether a URI is per viewer.
func (m *Manager) variants(r *http.Request, muxers []*muxer) (vs []variant, mod time.Time, target int, private bool) {
	qs := m.viewerQueries(r)
	vs = make([]variant, 0, len(muxers))
	target = 1
	for _, x := range muxers {
		md := x.media()
		md.mu.Lock()
		st := md.variantLocked()
		if md.modTime.After(mod) {
			mod = md.modTime
		}
		target = max(target, md.target)
		md.mu.Unlock()
		if !st.ready {
			continue
		}
		private = private || m.perViewer(x.key)
		vs = append(vs, variant{key: x.key, uri: baseOf(x.key) + "/media.m3u8", query: qs.forKey(x.key), st: st})
	}
	return vs, mod, target, private
}

// waitStarting waits, up to firstWait in all, for the first segment of
// each muxer that started within firstWait (with its publish, or just now
// on demand), so that a player arriving with the stream sees every
// variant. One running for longer is listed if it has a segment and never
// waited for: a broken rendition must not delay every request.
func (m *Manager) waitStarting(r *http.Request, mxs []*muxer) {
	ctx, cancel := context.WithTimeout(r.Context(), m.firstWait())
	defer cancel()
	for _, x := range mxs {
		if time.Since(x.since) > m.firstWait() {
			continue
		}
		md := x.media()
		md.wait(ctx, m.done, md.readyLocked)
	}
}

// withReports appends to the low_latency media playlist body of key one
// EXT-X-RENDITION-REPORT per other variant of its group with something
// published (rfc8216bis §4.4.5.4: a client switching to it knows which
// part to ask for), with that variant's state now. private says whether
// the response is per viewer: it becomes so when a report URI carries the
// viewer's query.
func (m *Manager) withReports(body []byte, r *http.Request, key string, private bool) ([]byte, bool) {
	others := m.rends.siblings(key)
	if len(others) == 0 {
		return body, private
	}
	qs := m.viewerQueries(r)
	rs := make([]report, 0, len(others))
	for _, k := range others {
		x := m.get(k)
		if x == nil {
			continue
		}
		md := x.media()
		md.mu.Lock()
		msn, part, ok := md.reportLocked()
		md.mu.Unlock()
		if !ok {
			continue
		}
		q := qs.forKey(k)
		private = private || m.perViewer(k)
		// Relative to this media playlist, /app/stream/media.m3u8.
		rs = append(rs, report{uri: "../" + baseOf(k) + "/media.m3u8", query: q, lastMSN: msn, part: part})
	}
	return addReports(body, rs), private
}
