package hls

import (
	"log/slog"
	"os"
	"path/filepath"
)

// disk mirrors a stream's files into Config.Directory/app/stream/ and its
// playlists to Directory/app/stream.m3u8 and .../stream/media.m3u8, laid out
// like the URLs so any web server can serve the directory. A nil *disk does
// nothing. Writes happen on the muxer goroutine; a failing disk is logged
// once per failure kind and never stops the in-memory stream.
type disk struct {
	dir    string // Directory/app/stream
	parent string // Directory/app
	name   string // stream
	log    *slog.Logger
	failed bool
}

func newDisk(root, key string, log *slog.Logger) (*disk, error) {
	dir := filepath.Join(root, filepath.FromSlash(key))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &disk{dir: dir, parent: filepath.Dir(dir), name: filepath.Base(dir), log: log}, nil
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
	var top []byte
	if m.variant == VariantMPEGTS {
		top = m.renderMediaLocked(d.name + "/")
	} else {
		top = m.renderMultivariantLocked(d.name + "/")
	}
	m.mu.Unlock()
	d.check(writeAtomic(filepath.Join(d.dir, "media.m3u8"), inner))
	d.check(writeAtomic(filepath.Join(d.parent, d.name+".m3u8"), top))
}

// clear removes the stream's files when its muxer stops.
func (d *disk) clear() {
	if d == nil {
		return
	}
	d.check(os.RemoveAll(d.dir))
	if err := os.Remove(filepath.Join(d.parent, d.name+".m3u8")); err != nil && !os.IsNotExist(err) {
		d.check(err)
	}
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
