package server

import (
	"sync"
	"time"
)

// Restream targets named by the on_publish hook's answer reach the relay
// through hookTargets: the admission check (access.Func) returns only a
// verdict, so authPart.admit stores the admitted publish's targets by
// stream key and publisher address, and the relay takes them when the
// stream's pushes start (relay.Config.StreamTargets, with the publisher
// the hub took). Two publishers admitted for one key at once each keep
// their own targets: the one that loses the publish never sends its stream
// to the other's destinations, nor the other way round. Every admitted
// publish overwrites its entry, with no targets too, so a publish never
// inherits an earlier one's.
const (
	// hookTargetsTTL bounds how long an admitted publish's targets wait
	// for the stream to start (the RTMP publish follows its admission at
	// once; a publish refused by the hub leaves an entry behind).
	hookTargetsTTL = 30 * time.Second
	// maxHookTargetKeys bounds the entries: past it the oldest are dropped.
	maxHookTargetKeys = 4096
)

type hookTargets struct {
	mu  sync.Mutex
	m   map[string]hookEntry
	now func() time.Time
}

type hookEntry struct {
	targets []string
	at      time.Time
}

// hookKey names one publisher of one stream.
func hookKey(key, remote string) string { return key + "\x00" + remote }

// put records the targets of the publisher at remote for key (nil
// included: see above).
func (h *hookTargets) put(key, remote string, targets []string) {
	key = hookKey(key, remote)
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock()
	if h.m == nil {
		h.m = make(map[string]hookEntry)
	}
	if _, ok := h.m[key]; !ok && len(h.m) >= maxHookTargetKeys {
		h.pruneLocked(now)
	}
	h.m[key] = hookEntry{targets: targets, at: now}
}

// take returns and forgets the targets of the publisher at remote for key,
// if still fresh.
func (h *hookTargets) take(key, remote string) []string {
	key = hookKey(key, remote)
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.m[key]
	if !ok {
		return nil
	}
	delete(h.m, key)
	if h.clock().Sub(e.at) > hookTargetsTTL {
		return nil
	}
	return e.targets
}

// pruneLocked drops the expired entries, and the oldest one if none is.
func (h *hookTargets) pruneLocked(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for k, e := range h.m {
		if now.Sub(e.at) > hookTargetsTTL {
			delete(h.m, k)
			continue
		}
		if oldest == "" || e.at.Before(oldestAt) {
			oldest, oldestAt = k, e.at
		}
	}
	if len(h.m) >= maxHookTargetKeys {
		delete(h.m, oldest)
	}
}

func (h *hookTargets) clock() time.Time {
	if h.now != nil {
		return h.now()
	}
	return time.Now()
}
