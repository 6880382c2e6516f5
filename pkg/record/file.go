package record

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// diskFile is what a recording writes to: an *os.File (tests wrap it to
// fail on demand).
type diskFile interface {
	io.Writer
	io.WriterAt
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	Close() error
}

// Modes of what the recorder creates.
const (
	dirMode  = 0o755
	fileMode = 0o644
)

// bufSize is the write buffer of a file: a batch of FLV tags or the head
// of a fragment goes out in one write; larger payloads bypass it.
const bufSize = 64 << 10

// maxCollisions bounds the "-N" suffixes tried for a free name.
const maxCollisions = 1000

// createFile creates path for writing, failing if it exists.
func createFile(path string) (diskFile, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
}

// openUnique creates the file of name below root (seq 0, then "-1",
// "-2", ... while the name is taken), creating directories as needed.
// It never overwrites a file.
func (m *Manager) openUnique(tp *template, rootDir, key string, start time.Time, f Format) (diskFile, string, string, error) {
	for seq := 0; seq < maxCollisions; seq++ {
		name, err := tp.expand(key, start, f, seq)
		if err != nil {
			return nil, "", "", err
		}
		path := filepath.Join(rootDir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
			return nil, path, name, err
		}
		df, err := m.create(path)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return df, path, name, err
	}
	return nil, "", "", fmt.Errorf("record: %d names taken for %s at %s", maxCollisions, key, start.UTC().Format(timeLayout))
}

// outFile is a recording's file: writes go through a buffer, and the
// committed size is the end of the last complete unit (fragment, batch of
// tags) handed to the file, which a reader of the file in progress may
// read up to. One goroutine writes; committed is read by others.
type outFile struct {
	f         diskFile
	bw        *bufio.Writer
	size      int64 // bytes given to Write
	committed atomic.Int64
	err       error // the first write error: the file is done for
	onCommit  func(n int64)
}

// newOutFile writes to f through bw (reset to f; nil: a new buffer).
func newOutFile(f diskFile, bw *bufio.Writer, onCommit func(int64)) *outFile {
	if bw == nil {
		bw = bufio.NewWriterSize(f, bufSize)
	} else {
		bw.Reset(f)
	}
	return &outFile{f: f, bw: bw, onCommit: onCommit}
}

// Write buffers b. After an error every write fails with it.
func (o *outFile) Write(b []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.bw.Write(b)
	o.size += int64(n)
	if err != nil {
		o.err = err
	}
	return n, err
}

// commit hands the buffer to the file and moves the committed size to
// the end of what was written.
func (o *outFile) commit() error {
	if o.err != nil {
		return o.err
	}
	if err := o.bw.Flush(); err != nil {
		o.err = err
		return err
	}
	if prev := o.committed.Swap(o.size); o.size > prev && o.onCommit != nil {
		o.onCommit(o.size - prev)
	}
	return nil
}

// patch overwrites bytes already committed (a duration field).
func (o *outFile) patch(b []byte, off int64) error {
	if o.err != nil {
		return o.err
	}
	if off < 0 || off+int64(len(b)) > o.committed.Load() {
		return nil // not written (or not in the file): nothing to patch
	}
	if _, err := o.f.WriteAt(b, off); err != nil {
		o.err = err
		return err
	}
	return nil
}

// close commits and closes the file.
func (o *outFile) close() error {
	err := o.commit()
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// abort closes the file after a failure, cut back to its committed size
// so that it ends at a unit boundary (best effort: the disk may be gone).
func (o *outFile) abort() {
	_ = o.f.Truncate(o.committed.Load())
	_ = o.f.Close()
}

// errVanished says a recording's file is no longer at its path.
var errVanished = errors.New("record: file removed while recording")

// stillThere checks that path still names fi, the file being written (a
// removed directory leaves writes going to an unlinked file).
func stillThere(fi os.FileInfo, path string) error {
	pi, err := os.Stat(path)
	if err != nil || !os.SameFile(fi, pi) {
		return errVanished
	}
	return nil
}
