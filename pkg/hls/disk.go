package hls

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// diskSuffix ends a stream's directory name. '@' is outside the stream
// name alphabet [A-Za-z0-9._~-] (hub.ValidName), so no stream name, app
// segment or file name of another key can be or contain a path ending in
// it: keys live/cam1 and live/cam1/media, live/cam1/1733-5.ts or
// live/x.m3u8/y each get a directory of their own.
const diskSuffix = "@hls"

// disk mirrors a stream's files into Config.Directory/app/stream@hls/:
// index.m3u8 (what /app/stream.m3u8 serves, with URIs relative to that
// directory), media.m3u8, and the segments, parts and init sections under
// their HTTP names, so any web server can serve the directory. Nothing is
// written outside it (but the app directories above it). A nil *disk does
// nothing. Writes happen on the muxer goroutine; a failing disk is logged
// once per failure kind and never stops the in-memory stream.
type disk struct {
	dir    string // Directory/app/stream@hls
	log    *slog.Logger
	failed bool
}

func newDisk(root, key string, log *slog.Logger) (*disk, error) {
	i := strings.LastIndexByte(key, '/')
	dir := filepath.Join(root, filepath.FromSlash(key[:i+1]), key[i+1:]+diskSuffix)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &disk{dir: dir, log: log}, nil
}

func (d *disk) write(name string, b []byte) {
	if d == nil {
		return
	}
	d.check(writeAtomic(filepath.Join(d.dir, name), b))
}

func (d *disk) remove(names []string) {
	if d == nil {
		return
	}
	for _, n := range names {
		if err := os.Remove(filepath.Join(d.dir, n)); err != nil && !os.IsNotExist(err) {
			d.check(err)
		}
	}
}

// playlists writes both playlists; on disk there is no blocking reload, so
// they are what a plain file server can offer.
func (d *disk) playlists(m *media) {
	if d == nil {
		return
	}
	m.mu.Lock()
	inner := m.renderMediaLocked("")
	top := inner
	if m.variant != VariantMPEGTS {
		top = m.renderMultivariantLocked("", "")
	}
	m.mu.Unlock()
	d.check(writeAtomic(filepath.Join(d.dir, "media.m3u8"), inner))
	d.check(writeAtomic(filepath.Join(d.dir, "index.m3u8"), top))
}

// clear removes the stream's files when its muxer stops.
func (d *disk) clear() {
	if d == nil {
		return
	}
	d.check(os.RemoveAll(d.dir))
}

// reset empties the stream's directory for a fresh start (after a panic).
func (d *disk) reset() {
	if d == nil {
		return
	}
	d.clear()
	d.check(os.MkdirAll(d.dir, 0o755))
}

func (d *disk) check(err error) {
	if err == nil {
		d.failed = false
		return
	}
	if !d.failed {
		d.log.Warn("hls directory write failed", "err", err)
	}
	d.failed = true
}

// writeAtomic writes via a temporary file and a rename, so a web server
// never serves a half-written playlist or segment.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
