package record

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// fileEntry is a recording found on disk.
type fileEntry struct {
	Recording
	mod time.Time
	seq int // collision suffix
}

// probeEntry is a file's duration, valid while its size and mtime stay.
type probeEntry struct {
	size int64
	mod  time.Time
	dur  time.Duration
}

// maxProbes bounds the remembered durations; the cache starts over when
// it is full.
const maxProbes = 10000

// templates returns the templates files are looked for with: DefaultPath,
// Config.Templates, those of the rules used so far, and app's (if any),
// sorted by text.
func (m *Manager) templates(app string) []*template {
	if app != "" && m.cfg.Rule != nil {
		if _, err := m.template(m.cfg.Rule(app + "/_").withDefaults().Path); err != nil {
			m.log.Debug("recording path template ignored", "err", err)
		}
	}
	m.mu.Lock()
	out := make([]*template, 0, len(m.tpls))
	for _, t := range m.tpls {
		out = append(out, t)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b *template) int { return strings.Compare(a.raw, b.raw) })
	return out
}

// Recordings lists the recordings of app and stream ("" for any): the
// files under the recordings root of every known template whose name the
// template makes (also those of earlier runs), the files in progress
// included (InProgress, their committed size). Newest first. Durations
// come from what this run wrote, else from the file: FLV from its
// onMetaData duration or its last tag's timestamp, fMP4 from its mvhd
// duration or, for a file cut short, from its fragments (a bounded scan);
// 0 when unknown. The error is the first directory that could not be
// read; what could be read is returned with it.
func (m *Manager) Recordings(app, stream string) ([]Recording, error) {
	// The filter names a directory to walk: it must be a stream key's
	// parts, or a client could walk the file system with "..".
	if app != "" && !hub.ValidKey(app+"/x") || stream != "" && !hub.ValidName(stream) {
		return nil, fmt.Errorf("%w: app %q, stream %q", ErrBadFilter, app, stream)
	}
	entries, err := m.list(app, stream, true)
	out := make([]Recording, len(entries))
	for i, e := range entries {
		out[i] = e.Recording
	}
	return out, err
}

// list walks the recordings roots; see Recordings. Durations are
// probed only with durations set (retention needs none).
func (m *Manager) list(app, stream string, durations bool) ([]fileEntry, error) {
	var (
		out      []fileEntry
		firstErr error
		seen     = make(map[string]bool)
	)
	for _, t := range m.templates(app) {
		root := m.rootDir(t)
		dir := root
		if app != "" && stream != "" {
			dir = filepath.Join(root, filepath.FromSlash(t.keyDir(app+"/"+stream)))
		}
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) && firstErr == nil {
					firstErr = err
				}
				if d != nil && d.IsDir() && path != dir {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || seen[path] {
				return nil
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return nil
			}
			name := filepath.ToSlash(rel)
			mt, ok := t.match(name)
			if !ok || app != "" && mt.app != app || stream != "" && mt.stream != stream {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			seen[path] = true
			out = append(out, m.entry(path, name, mt, info, durations))
			return nil
		})
		if err != nil && firstErr == nil && !errors.Is(err, fs.ErrNotExist) {
			firstErr = err
		}
	}
	// Files in progress whose directory could not be walked.
	m.mu.Lock()
	for path, a := range m.active {
		if seen[path] || app != "" && a.rec.App != app || stream != "" && a.rec.Stream != stream {
			continue
		}
		rec := a.rec
		rec.Size, rec.Duration = a.size.Load(), time.Duration(a.duration.Load())
		out = append(out, fileEntry{Recording: rec, mod: m.now()})
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b fileEntry) int {
		if c := b.Start.Compare(a.Start); c != 0 {
			return c
		}
		if a.seq != b.seq {
			return b.seq - a.seq // "x-1" was started after "x"
		}
		return strings.Compare(b.Name, a.Name)
	})
	return out, firstErr
}

// entry describes a file found at path.
func (m *Manager) entry(path, name string, mt match, info fs.FileInfo, duration bool) fileEntry {
	e := fileEntry{
		Recording: Recording{
			Key: mt.key, App: mt.app, Stream: mt.stream, Path: path, Name: name,
			Format: mt.format, Start: mt.start, Size: info.Size(),
		},
		mod: info.ModTime(),
		seq: mt.seq,
	}
	if e.Start.IsZero() {
		e.Start = info.ModTime()
	}
	m.mu.Lock()
	a := m.active[path]
	m.mu.Unlock()
	if a != nil {
		e.Start, e.Format, e.InProgress = a.rec.Start, a.rec.Format, true
		e.Size, e.Duration = a.size.Load(), time.Duration(a.duration.Load())
		return e
	}
	if !duration {
		return e
	}
	if !mt.formatKnown {
		e.Format = sniffFormat(path)
	}
	e.Duration = m.duration(path, e.Format, info)
	return e
}

// sniffFormat tells FLV from MP4 by the file's first bytes.
func sniffFormat(path string) Format {
	f, err := os.Open(path)
	if err != nil {
		return FormatFMP4
	}
	defer f.Close()
	return sniffOpen(f)
}

// sniffOpen tells the format from the first bytes of an open file.
func sniffOpen(f io.ReaderAt) Format {
	var b [3]byte
	if _, err := f.ReadAt(b[:], 0); err == nil && string(b[:]) == "FLV" {
		return FormatFLV
	}
	return FormatFMP4
}

// remember keeps the duration of a file this run finished.
func (m *Manager) remember(rec Recording) {
	info, err := os.Stat(rec.Path)
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.probes) >= maxProbes {
		clear(m.probes)
	}
	m.probes[rec.Path] = probeEntry{size: info.Size(), mod: info.ModTime(), dur: rec.Duration}
}

// duration returns a completed file's duration, probing it once.
func (m *Manager) duration(path string, f Format, info fs.FileInfo) time.Duration {
	m.mu.Lock()
	p, ok := m.probes[path]
	m.mu.Unlock()
	if ok && p.size == info.Size() && p.mod.Equal(info.ModTime()) {
		return p.dur
	}
	var d time.Duration
	if f == FormatFLV {
		d = probeFLV(path)
	} else {
		d = probeMP4(path)
	}
	m.mu.Lock()
	if len(m.probes) >= maxProbes {
		clear(m.probes)
	}
	m.probes[path] = probeEntry{size: info.Size(), mod: info.ModTime(), dur: d}
	m.mu.Unlock()
	return d
}

// isActive reports whether path is a file in progress.
func (m *Manager) isActive(path string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.active[path] != nil
}

// activeAt returns the file in progress at path, or nil.
func (m *Manager) activeAt(path string) *activeFile {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.active[path]
}
