package hls

import (
	"net"
	"strings"
	"sync"
	"time"
)

// MaxViewers bounds the HLS viewers the Manager remembers, across all
// streams: past it, a new viewer is not counted until others age out. A
// viewer costs one map entry (about 50 bytes).
const MaxViewers = 100_000

// viewerWindows is how many target durations a viewer stays counted after
// its last request. A player reloads the media playlist about once per
// target duration (RFC 8216 §6.3.4) and fetches segments in between, so
// three leave room for a slow reload without counting a viewer who left for
// long.
const viewerWindows = 3

// viewers counts the distinct HLS clients of each stream from their
// requests, since the muxer's one hub reader serves them all. A client is
// its address (the real client's, after pkg/server's X-Forwarded-For
// handling) and its User-Agent: HLS has no session of its own, and a token
// in the query is per stream, not per viewer. Viewers behind one NAT with
// the same player count once; a CDN counts as one viewer per edge address.
type viewers struct {
	mu      sync.Mutex
	streams map[string]map[uint64]int64 // key → client id → last request, unix ns
	n       int                         // entries across streams, ≤ max
	max     int
	swept   int64 // unix ns of the last sweep
	maxAge  time.Duration
}

func newViewers(maxAge time.Duration) *viewers {
	return &viewers{streams: make(map[string]map[uint64]int64), max: MaxViewers, maxAge: maxAge}
}

// seen records a request of key by the client at remote with User-Agent
// ua at now. It allocates only for a stream or client not seen yet; every
// maxAge it drops the clients no window counts any more (one pass over all
// entries).
func (v *viewers) seen(key, remote, ua string, now time.Time) {
	id := clientID(remote, ua)
	t := now.UnixNano()
	v.mu.Lock()
	defer v.mu.Unlock()
	if t-v.swept >= int64(v.maxAge) {
		v.sweepLocked(t)
	}
	set := v.streams[key]
	if set != nil {
		if _, ok := set[id]; ok {
			set[id] = t
			return
		}
	}
	if v.n >= v.max {
		v.sweepLocked(t)
		if v.n >= v.max {
			return
		}
	}
	if set == nil {
		set = make(map[uint64]int64)
		v.streams[strings.Clone(key)] = set // key may point into a request's URL
	}
	set[id] = t
	v.n++
}

// sweepLocked drops the clients older than maxAge, and streams left empty.
func (v *viewers) sweepLocked(now int64) {
	v.swept = now
	oldest := now - int64(v.maxAge)
	for key, set := range v.streams {
		for id, last := range set {
			if last < oldest {
				delete(set, id)
				v.n--
			}
		}
		if len(set) == 0 {
			delete(v.streams, key)
		}
	}
}

// count returns key's clients with a request within window of now.
func (v *viewers) count(key string, window time.Duration, now time.Time) int {
	oldest := now.UnixNano() - int64(window)
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, last := range v.streams[key] {
		if last >= oldest {
			n++
		}
	}
	return n
}

// clientID hashes a client's address (without the port: a player opens
// several connections) and User-Agent with 64-bit FNV-1a, without
// allocating.
func clientID(remote, ua string) uint64 {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		remote = host
	}
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(remote); i++ {
		h = (h ^ uint64(remote[i])) * prime
	}
	h *= prime // a zero byte between them: ("ab", "c") and ("a", "bc") differ
	for i := 0; i < len(ua); i++ {
		h = (h ^ uint64(ua[i])) * prime
	}
	return h
}

// Viewers returns the distinct HLS clients (address and User-Agent) that
// requested a playlist, segment, part or init section of key within the
// last three target durations of its muxer (three segment durations when
// none runs). The muxer's own hub reader is not a viewer: this is the
// number to report as key's HLS players.
func (m *Manager) Viewers(key string) int {
	target := ceilSeconds(m.cfg.SegmentDuration)
	if mx := m.get(key); mx != nil {
		md := mx.media()
		md.mu.Lock()
		target = md.target
		md.mu.Unlock()
	}
	return m.viewers.count(key, viewerWindows*time.Duration(target)*time.Second, m.now())
}
