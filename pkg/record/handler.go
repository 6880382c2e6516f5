package record

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Handler serves GET and HEAD /recordings/{Name}: Name is a Recording's
// Name, a file below the recordings root of a template that makes it.
// authorize (nil: allow all) decides with the stream key the template
// gives the name, before the file is looked for: false answers 403.
// Names that leave the root, symbolic links and anything but regular
// files answer 404. Files are served with Range, conditional requests
// (ETag from size and mtime, Last-Modified) and video/mp4 or video/x-flv;
// a file in progress only up to its committed size (its last complete
// fragment), with Cache-Control: no-cache.
func (m *Manager) Handler(authorize func(r *http.Request, key string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.serve(w, r, authorize)
	})
}

const recordingsPrefix = "/recordings/"

func (m *Manager) serve(w http.ResponseWriter, r *http.Request, authorize func(*http.Request, string) bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, recordingsPrefix)
	if !ok || !localName(name) {
		http.NotFound(w, r)
		return
	}
	for _, t := range m.templates("") {
		mt, ok := t.match(name)
		if !ok {
			continue
		}
		if authorize != nil && !authorize(r, mt.key) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		if m.serveFile(w, r, t, name, mt) {
			return
		}
	}
	http.NotFound(w, r)
}

// serveFile serves name below t's root if it is a regular file there; it
// reports whether it answered.
func (m *Manager) serveFile(w http.ResponseWriter, r *http.Request, t *template, name string, mt match) bool {
	dir := m.rootDir(t)
	root, err := os.OpenRoot(dir)
	if err != nil {
		return false
	}
	defer root.Close()
	rel := filepath.FromSlash(name)
	// os.Root keeps every step inside dir; Lstat refuses a final symlink
	// (and FIFOs, devices: Open would block on a FIFO).
	if fi, err := root.Lstat(rel); err != nil || !fi.Mode().IsRegular() {
		return false
	}
	f, err := root.Open(rel)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	size := fi.Size()
	format := mt.format
	h := w.Header()
	if a := m.activeAt(filepath.Join(dir, rel)); a != nil {
		size = min(size, a.size.Load())
		format = a.rec.Format
		h.Set("Cache-Control", "no-cache")
	} else if !mt.formatKnown {
		format = sniffOpen(f) // the file already opened inside the root, not its path again
	}
	h.Set("Content-Type", format.contentType())
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+strconv.FormatInt(size, 16)+"-"+strconv.FormatInt(fi.ModTime().UnixNano(), 16)+`"`)
	http.ServeContent(w, r, "", fi.ModTime(), io.NewSectionReader(f, 0, size))
	return true
}
