package auth

import (
	"sync"
	"time"
)

// Session tracking bounds.
const (
	maxSessions = 100_000
	// sessionStale is when an admitted session that never ended is pruned:
	// an admitted player whose stream was not found never subscribes, so
	// no leave event removes it.
	sessionStale = 24 * time.Hour
)

// sessions remembers what the asynchronous hooks need but the hub's events
// lack (client id, query) for each admitted publish/play, keyed by what the
// events do carry: action, stream, protocol and remote address.
type sessions struct {
	mu sync.Mutex
	m  map[sessionKey]sessionInfo
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

func (s *sessions) admit(idx int, r Request) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[sessionKey]sessionInfo)
	}
	if len(s.m) >= maxSessions {
		for k, v := range s.m {
			if now.Sub(v.at) > sessionStale {
				delete(s.m, k)
			}
		}
		if len(s.m) >= maxSessions {
			return // hooks then go without client id and query
		}
	}
	s.m[keyOf(idx, r)] = sessionInfo{clientID: r.ClientID, query: r.Query, at: now}
}

func (s *sessions) release(idx int, r Request) (sessionInfo, bool) {
	k := keyOf(idx, r)
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	if ok {
		delete(s.m, k)
	}
	return v, ok
}
