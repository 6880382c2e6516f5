package proxyproto

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/netx"
)

// Listener defaults, for use without pkg/config. pkg/server sets Timeout
// to rtmp.handshake_timeout, whose config default DefaultTimeout equals
// (pkg/server checks this); MaxPending has no key.
const (
	DefaultTimeout    = 5 * time.Second
	DefaultMaxPending = 1024
)

// Config configures a Listener.
type Config struct {
	Logger *slog.Logger // nil: discard
	// Timeout bounds reading the header of each connection. Default 5s.
	Timeout time.Duration
	// MaxPending bounds connections whose header is being read; beyond it
	// the listener stops accepting until one finishes. Default 1024.
	MaxPending int
	// Panics recovers a panic while a header is parsed (component
	// "proxyproto"): that connection is closed, the listener goes on.
	Panics *guard.Recorder
}

// Listener wraps a net.Listener whose peers (load balancers) send a PROXY
// header first. Every connection must carry one: a connection without a
// valid header within Timeout is closed and logged once, never returned by
// Accept. Headers are read in a goroutine per connection, so one slow peer
// does not hold up the others.
type Listener struct {
	inner net.Listener
	cfg   Config
	log   *slog.Logger

	ready chan net.Conn
	errc  chan error // the inner listener's final error
	sem   chan struct{}

	mu      sync.Mutex
	closed  bool
	pending map[net.Conn]struct{}
	done    chan struct{}
	wg      sync.WaitGroup
	// badLog rate-limits "bad proxy protocol header": anyone who can
	// reach the port can trigger it once per connection.
	badLog netx.LogLimiter
}

var _ net.Listener = (*Listener)(nil)

// NewListener wraps inner and starts accepting on it.
func NewListener(cfg Config, inner net.Listener) *Listener {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	l := &Listener{
		inner:   inner,
		cfg:     cfg,
		log:     cfg.Logger.With("proto", "proxy", "listen", inner.Addr().String()),
		ready:   make(chan net.Conn),
		errc:    make(chan error, 1),
		sem:     make(chan struct{}, cfg.MaxPending),
		pending: make(map[net.Conn]struct{}),
		done:    make(chan struct{}),
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

// Accept returns the next connection whose header was read. Its
// RemoteAddr is the client address from the header (the proxy's own for
// LOCAL/UNKNOWN headers). After Close it returns an error wrapping
// net.ErrClosed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errc:
		l.errc <- err // every later Accept sees it too
		return nil, err
	case <-l.done:
		return nil, fmt.Errorf("proxyproto: accept: %w", net.ErrClosed)
	}
}

// Close closes the inner listener and every connection whose header is
// still being read, and waits for the goroutines.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	err := l.inner.Close()
	for c := range l.pending {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return err
}

// Addr is the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	var bo netx.Backoff
	for {
		select {
		case l.sem <- struct{}{}:
		case <-l.done:
			return
		}
		nc, err := l.inner.Accept()
		if err != nil {
			<-l.sem
			if l.isClosed() {
				return
			}
			if netx.Temporary(err) {
				// Back off like net/http on EMFILE and friends.
				if !bo.Wait(l.done) {
					return
				}
				continue
			}
			l.errc <- err
			return
		}
		bo.Reset()
		if !l.track(nc) {
			<-l.sem
			nc.Close()
			return
		}
		l.wg.Add(1)
		go l.handshake(nc)
	}
}

func (l *Listener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

func (l *Listener) track(nc net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.pending[nc] = struct{}{}
	return true
}

func (l *Listener) untrack(nc net.Conn) {
	l.mu.Lock()
	delete(l.pending, nc)
	l.mu.Unlock()
}

// handshake reads nc's header and hands the wrapped conn to Accept.
func (l *Listener) handshake(nc net.Conn) {
	defer l.wg.Done()
	defer func() { <-l.sem }()
	h, err := l.readHeader(nc)
	l.untrack(nc)
	if err != nil {
		nc.Close()
		if n, ok := l.badLog.Allow(); ok && !l.isClosed() {
			l.log.Warn("bad proxy protocol header, connection closed",
				"remote", nc.RemoteAddr().String(), "err", err, "suppressed", n)
		}
		return
	}
	c := &Conn{Conn: nc, header: h, remote: nc.RemoteAddr()}
	if !h.Local {
		c.remote = net.TCPAddrFromAddrPort(h.Source)
	}
	select {
	case l.ready <- c:
	case <-l.done:
		nc.Close()
	}
}

func (l *Listener) readHeader(nc net.Conn) (Header, error) {
	if err := nc.SetReadDeadline(time.Now().Add(l.cfg.Timeout)); err != nil {
		return Header{}, err
	}
	var h Header
	err := l.cfg.Panics.Run("proxyproto", func() (err error) {
		h, err = Read(nc)
		return err
	})
	if guard.Log(l.log, err, "remote", nc.RemoteAddr().String()) {
		return Header{}, err
	}
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return Header{}, fmt.Errorf("proxyproto: no header within %s", l.cfg.Timeout)
		}
		return Header{}, err
	}
	return h, nc.SetReadDeadline(time.Time{})
}

// Conn is an accepted connection whose PROXY header has been read.
type Conn struct {
	net.Conn
	header Header
	remote net.Addr
}

// RemoteAddr is the client address the proxy reported.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// ProxyAddr is the address of the proxy itself (the TCP peer).
func (c *Conn) ProxyAddr() net.Addr { return c.Conn.RemoteAddr() }

// Header is the PROXY header the connection started with.
func (c *Conn) Header() Header { return c.header }

// CloseWrite half-closes the TCP connection (RTMP sessions linger with it
// after a final status).
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("proxyproto: connection cannot half-close")
}
