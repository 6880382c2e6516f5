package record

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"time"
)

// retain applies key's retention rule to its files under one template:
// run by the recorder each time it starts a file.
func (m *Manager) retain(key string, rule Rule) {
	if rule.DeleteAfter <= 0 && rule.MaxBytes <= 0 {
		return
	}
	app, stream := splitKey(key)
	files, _ := m.list(app, stream)
	m.sweepMu.Lock()
	defer m.sweepMu.Unlock()
	m.applyRetention(key, rule, files)
}

// sweep applies every stream's retention rule to its files, live or not.
func (m *Manager) sweep() {
	files, _ := m.list("", "")
	byKey := make(map[string][]fileEntry)
	for _, f := range files {
		byKey[f.Key] = append(byKey[f.Key], f)
	}
	m.sweepMu.Lock()
	defer m.sweepMu.Unlock()
	for key, fs := range byKey {
		m.applyRetention(key, m.rule(key).withDefaults(), fs)
	}
}

// applyRetention deletes, oldest first, the completed files of key (files
// holds them, in any order) last written more than rule.DeleteAfter ago,
// then those past rule.MaxBytes of all its files. The files in progress
// count toward MaxBytes but are never deleted.
func (m *Manager) applyRetention(key string, rule Rule, files []fileEntry) {
	if rule.DeleteAfter <= 0 && rule.MaxBytes <= 0 {
		return
	}
	slices.SortFunc(files, func(a, b fileEntry) int {
		if c := a.mod.Compare(b.mod); c != 0 {
			return c
		}
		return a.Start.Compare(b.Start)
	})
	var total int64
	for _, f := range files {
		total += f.Size
	}
	now := m.now()
	for _, f := range files {
		expired := rule.DeleteAfter > 0 && now.Sub(f.mod) > rule.DeleteAfter
		over := rule.MaxBytes > 0 && total > rule.MaxBytes
		if !expired && !over {
			continue
		}
		if f.InProgress || m.isActive(f.Path) {
			continue
		}
		reason := "max_bytes"
		if expired {
			reason = "delete_after"
		}
		if err := os.Remove(f.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			m.log.Warn("recording not deleted", "stream", key, "path", f.Path, "err", err)
			continue
		}
		total -= f.Size
		m.log.Info("recording deleted", "stream", key, "path", f.Path, "reason", reason,
			"age", now.Sub(f.mod).Round(time.Second), "size", f.Size)
	}
}
