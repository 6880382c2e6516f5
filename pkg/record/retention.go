package record

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"time"
)

// retain applies key's retention rule to its files: run by the recording
// each time it starts a file and each time it finishes one.
func (m *Manager) retain(key string, rule Rule) {
	if rule.DeleteAfter <= 0 && rule.MaxBytes <= 0 {
		return
	}
	// A sweep under way applies the rule too: the recording does not
	// wait for it.
	if !m.sweepMu.TryLock() {
		return
	}
	defer m.sweepMu.Unlock()
	app, stream := splitKey(key)
	files, _ := m.list(app, stream, false)
	m.applyRetention(key, rule, files)
}

// sweep applies every stream's retention rule to its files, live or not.
func (m *Manager) sweep() {
	m.sweepMu.Lock()
	defer m.sweepMu.Unlock()
	files, _ := m.list("", "", false)
	byKey := make(map[string][]fileEntry)
	for _, f := range files {
		byKey[f.Key] = append(byKey[f.Key], f)
	}
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
		if f.InProgress {
			continue
		}
		reason := "max_bytes"
		if expired {
			reason = "delete_after"
		}
		if err := m.remove(f.Path); errors.Is(err, errInProgress) {
			continue
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			m.log.Warn("recording not deleted", "stream", key, "path", f.Path, "err", err)
			continue
		}
		total -= f.Size
		m.log.Info("recording deleted", "stream", key, "path", f.Path, "reason", reason,
			"age", now.Sub(f.mod).Round(time.Second), "size", f.Size)
	}
}

// errInProgress refuses to delete a file being written.
var errInProgress = errors.New("record: file in progress")

// remove deletes a completed file. Under fileMu, which a recording holds
// from creating a file to registering it as in progress, so a file the
// listing saw before it was registered is not taken for a completed one.
func (m *Manager) remove(path string) error {
	m.fileMu.Lock()
	defer m.fileMu.Unlock()
	if m.isActive(path) {
		return errInProgress
	}
	return os.Remove(path)
}
