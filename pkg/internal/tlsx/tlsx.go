// Package tlsx holds the certificate of a TLS listener: it loads a PEM
// certificate (full chain) and key, hands it to every new handshake through
// tls.Config.GetCertificate, and swaps it atomically when asked (Reload) or
// when either file changes on disk (Start: one goroutine polls them). A
// failed load keeps the certificate in use. Connections already open keep
// the certificate they were handshaken with; only new handshakes see a swap
// (docs/tls.md).
package tlsx

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultInterval is how often Start checks the files for a change.
const DefaultInterval = 2 * time.Second

// maxFileSize bounds what is read from a certificate or key file: a chain of
// a few certificates is a few KiB.
const maxFileSize = 1 << 20

// Which file of the pair an error is about.
const (
	FileCert = "cert"
	FileKey  = "key"
)

// LoadError is a failure to load the pair; File says which file is to
// blame (FileCert or FileKey), so the caller can name its config key.
type LoadError struct {
	File string
	Path string
	Err  error
}

func (e *LoadError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *LoadError) Unwrap() error { return e.Err }

// Config configures a Cert.
type Config struct {
	CertFile string // PEM: the leaf certificate first, then its chain
	KeyFile  string // PEM: the private key of the leaf
	// Interval is how often Start polls both files' size and modification
	// time; 0 means DefaultInterval.
	Interval time.Duration
	Logger   *slog.Logger // nil: discard
}

// Cert is a reloadable certificate. Safe for concurrent use.
type Cert struct {
	log      *slog.Logger
	interval time.Duration

	cur atomic.Pointer[tls.Certificate]

	mu        sync.Mutex // serialises loads; guards the fields below
	certFile  string
	keyFile   string
	certStamp stamp // the files as last loaded (or tried)
	keyStamp  stamp

	life    sync.Mutex // guards started, closed
	started bool
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

// New loads the pair once; it starts nothing (see Start).
func New(cfg Config) (*Cert, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	c := &Cert{
		log:      cfg.Logger,
		interval: cfg.Interval,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if err := c.SetFiles(cfg.CertFile, cfg.KeyFile); err != nil {
		return nil, err
	}
	return c, nil
}

// GetCertificate is tls.Config.GetCertificate: the pair loaded last.
func (c *Cert) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// Current returns the certificate new handshakes get.
func (c *Cert) Current() *tls.Certificate { return c.cur.Load() }

// ServerConfig returns a server tls.Config using c: TLS 1.2 at least, Go's
// defaults otherwise, ALPN limited to protos (nil: none announced).
func (c *Cert) ServerConfig(protos ...string) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: c.GetCertificate,
		NextProtos:     protos,
	}
}

// Reload reads the current files again and swaps the certificate in. On
// error the certificate in use stays.
func (c *Cert) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loadLocked(c.certFile, c.keyFile)
}

// SetFiles loads a pair from new paths (a reload that changed them) and,
// on success, watches those from now on. On error nothing changes.
func (c *Cert) SetFiles(certFile, keyFile string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loadLocked(certFile, keyFile)
}

func (c *Cert) loadLocked(certFile, keyFile string) error {
	cs, ks := stampOf(certFile), stampOf(keyFile)
	if certFile == c.certFile && keyFile == c.keyFile {
		// Remember what was tried even when it fails: the watcher tries
		// again on the next change, not every interval.
		c.certStamp, c.keyStamp = cs, ks
	}
	crt, err := load(certFile, keyFile)
	if err != nil {
		return err
	}
	c.cur.Store(crt)
	c.certFile, c.keyFile = certFile, keyFile
	c.certStamp, c.keyStamp = cs, ks
	c.log.Info("tls certificate loaded", "cert_file", certFile, "subject", crt.Leaf.Subject.String(),
		"not_after", crt.Leaf.NotAfter.UTC().Format(time.RFC3339))
	if time.Now().After(crt.Leaf.NotAfter) {
		c.log.Warn("tls certificate expired", "cert_file", certFile,
			"not_after", crt.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// load reads and parses the pair, blaming the right file.
func load(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := readFile(certFile)
	if err != nil {
		return nil, &LoadError{File: FileCert, Path: certFile, Err: err}
	}
	keyPEM, err := readFile(keyFile)
	if err != nil {
		return nil, &LoadError{File: FileKey, Path: keyFile, Err: err}
	}
	if !hasBlock(certPEM, "CERTIFICATE") {
		return nil, &LoadError{File: FileCert, Path: certFile, Err: errors.New("no PEM CERTIFICATE block")}
	}
	crt, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The certificates parse (or the error names them): blame the key
		// unless the message is about the certificate.
		return nil, &LoadError{File: blame(err), Path: pathOf(blame(err), certFile, keyFile), Err: err}
	}
	return &crt, nil // X509KeyPair sets Leaf
}

func blame(err error) string {
	if m := err.Error(); strings.Contains(m, "certificate") && !strings.Contains(m, "private key") {
		return FileCert
	}
	return FileKey
}

func pathOf(which, certFile, keyFile string) string {
	if which == FileCert {
		return certFile
	}
	return keyFile
}

func hasBlock(b []byte, typ string) bool {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if blk.Type == typ {
			return true
		}
	}
}

func readFile(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("no file named")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	return b, nil
}

// stamp is what the watcher compares: a replaced or rewritten file changes
// its size or modification time (os.Stat follows symlinks, so a renewal
// that swaps a link target counts too).
type stamp struct {
	size    int64
	modTime time.Time
	ok      bool
}

func stampOf(path string) stamp {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}
	}
	return stamp{size: fi.Size(), modTime: fi.ModTime(), ok: true}
}

// Start begins polling the files every Interval in one goroutine; a change
// of either reloads the pair (a failure is logged and the old pair kept
// until the next change). Close stops it. Start after Close does nothing.
func (c *Cert) Start() {
	c.life.Lock()
	defer c.life.Unlock()
	if c.started || c.closed {
		return
	}
	c.started = true
	go c.watch()
}

func (c *Cert) watch() {
	defer close(c.done)
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.poll()
		}
	}
}

// poll reloads the pair if either file changed since it was last loaded
// or tried.
func (c *Cert) poll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if stampOf(c.certFile) == c.certStamp && stampOf(c.keyFile) == c.keyStamp {
		return
	}
	if err := c.loadLocked(c.certFile, c.keyFile); err != nil {
		c.log.Warn("tls certificate reload failed, keeping the previous one", "err", err)
	}
}

// Close stops the watcher and waits for it. Idempotent; the certificate
// stays usable.
func (c *Cert) Close() error {
	c.life.Lock()
	if c.closed {
		c.life.Unlock()
		return nil
	}
	c.closed = true
	started := c.started
	close(c.stop)
	c.life.Unlock()
	if started {
		<-c.done
	}
	return nil
}
