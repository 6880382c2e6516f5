package auth

import (
	"sync"
	"time"
)

// Session tracking bounds.
const (
	maxSessions = 100_000
	// maxSessionBytes bounds the memory of the session map: queries are
	// at most access.MaxQuery each, but 100,000 of them would be 400 MB.
	// Entries are charged their strings plus a fixed overhead.
	maxSessionBytes = 16 << 20
	sessionOverhead = 128
	// sessionStale is when an admitted session that never ended is pruned:
	// an admitted player whose stream was not found never subscribes, so
	// no leave event removes it.
	sessionStale = 24 * time.Hour
)

// sessions remembers what the asynchronous hooks need but the hub's events
// lack (client id, query) for each admitted publish/play, keyed by what the
// events do carry: action, stream, protocol and remote address.
type sessions struct {
	mu    sync.Mutex
	m     map[sessionKey]sessionInfo
	bytes int // charged to the entries of m (sessionSize)
}

type sessionKey struct {
	idx                   int
	key, protocol, remote string
}

type sessionInfo struct {
	clientID, query string
	at              time.Time
}

func keyOf(idx int, r Request) sessionKey {
	return sessionKey{idx: idx, key: r.Key(), protocol: r.Protocol, remote: r.RemoteIP}
}

func sessionSize(k sessionKey, v sessionInfo) int {
	return sessionOverhead + len(k.key) + len(k.protocol) + len(k.remote) + len(v.clientID) + len(v.query)
}

func (s *sessions) admit(idx int, r Request) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[sessionKey]sessionInfo)
	}
	k := keyOf(idx, r)
	v := sessionInfo{clientID: r.ClientID, query: r.Query, at: now}
	size := sessionSize(k, v)
	if old, ok := s.m[k]; ok {
		s.bytes -= sessionSize(k, old)
		delete(s.m, k)
	}
	if len(s.m) >= maxSessions || s.bytes+size > maxSessionBytes {
		for k, v := range s.m {
			if now.Sub(v.at) > sessionStale {
				s.bytes -= sessionSize(k, v)
				delete(s.m, k)
			}
		}
		if len(s.m) >= maxSessions || s.bytes+size > maxSessionBytes {
			return // hooks then go without client id and query
		}
	}
	s.m[k] = v
	s.bytes += size
}

func (s *sessions) release(idx int, r Request) (sessionInfo, bool) {
	k := keyOf(idx, r)
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	if ok {
		s.bytes -= sessionSize(k, v)
		delete(s.m, k)
	}
	return v, ok
}
