package transcode

import (
	"slices"
	"strings"
	"time"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// splitRendition yields the (source, name) pairs key may stand for: the
// source is everything before an '_' after the key's last '/' (a source
// key may contain '_' itself, and so may a rung's name).
func splitRendition(key string) func(yield func(source, name string) bool) {
	return func(yield func(string, string) bool) {
		slash := strings.LastIndexByte(key, '/')
		for i := len(key); ; {
			i = strings.LastIndexByte(key[:i], '_')
			if i <= slash {
				return
			}
			if name := key[i+1:]; ValidName(name) && !yield(key[:i], name) {
				return
			}
		}
	}
}

// demand is the hub demand handler: the first viewer of a rendition of a
// live source with an on-demand ladder starts the ladder.
func (m *Manager) demand(key string, _ hub.ReaderInfo) error {
	for source, name := range splitRendition(key) {
		m.mu.Lock()
		l := m.ladders[source]
		m.mu.Unlock()
		if l != nil {
			if l.rung(name) != nil {
				return nil // starting, or between restarts: the viewer waits
			}
			continue
		}
		st, ok := m.hub.Stream(source)
		if !ok || !isSource(st.Publisher) {
			continue
		}
		rungs, onDemand := m.ladder(source)
		if !onDemand || !slices.ContainsFunc(rungs, func(r Rung) bool { return r.Name == name }) {
			continue
		}
		if err := m.start(source, rungs, true, false); err != nil {
			return hub.ErrStreamNotFound
		}
		return nil
	}
	return hub.ErrStreamNotFound
}

// onReaders keeps on-demand ladders running while their renditions have
// readers.
func (m *Manager) onReaders(e hub.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.renditions[e.Key]
	if l == nil || !l.onDemand {
		return
	}
	if e.Type == hub.EventReaderLeave {
		// Other renditions, or this one's other readers, may still have
		// viewers: the timer asks when it fires.
		m.armIdleLocked(l, m.cfg.IdleTimeout)
	}
}

// viewers counts a rendition's viewers: Config.Viewers, or its readers.
func (m *Manager) viewers(st *hub.StreamInfo) int {
	if m.cfg.Viewers != nil {
		return m.cfg.Viewers(st)
	}
	return st.Readers
}

// demandStartTimeout bounds how long an on-demand ladder runs before its
// first rendition is published and its first reader joins.
const demandStartTimeout = 10 * time.Second

// armIdleLocked (re)arms l's idle timer to fire after d.
func (m *Manager) armIdleLocked(l *ladder, d time.Duration) {
	if l.stopped || m.closed {
		return
	}
	m.disarmIdleLocked(l)
	l.idleGen++
	gen := l.idleGen
	m.wg.Add(1)
	l.idle = time.AfterFunc(d, func() {
		defer m.wg.Done()
		m.idleFired(l, gen)
	})
}

func (m *Manager) disarmIdleLocked(l *ladder) {
	if l.idle != nil && l.idle.Stop() {
		m.wg.Done()
	}
	l.idle = nil
}

// idleFired stops l if none of its renditions has a reader.
func (m *Manager) idleFired(l *ladder, gen uint64) {
	m.mu.Lock()
	if l.stopped || l.idleGen != gen {
		m.mu.Unlock()
		return
	}
	l.idle = nil
	m.mu.Unlock()
	for _, r := range l.outs {
		if st, ok := m.hub.Stream(r.key); ok && m.viewers(&st) > 0 {
			// Still watched (HLS viewers leave no event): ask again later.
			m.mu.Lock()
			m.armIdleLocked(l, m.cfg.IdleTimeout)
			m.mu.Unlock()
			return
		}
	}
	m.stop(l, errIdle)
}
