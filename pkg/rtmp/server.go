package rtmp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/netx"
)

// ErrServerClosed is returned by Serve after Close, like http.ErrServerClosed.
var ErrServerClosed = errors.New("rtmp: server closed")

// Server defaults, applied by NewServer to zero ServerConfig fields, for
// use without pkg/config. Each equals the config default of its rtmp.* key
// (pkg/server checks this), as does DefaultMaxMessageSize.
const (
	// DefaultOutChunkSize is the chunk size we announce and send with,
	// SRS's default: a video frame is one or two chunks. In bench.sh pairs
	// at 1,000 players, RTMP play cost 0.97-1.14x HTTP-FLV with it and
	// 1.12-1.15x with 4096 (OBS's) (docs/performance.md §7).
	DefaultOutChunkSize     = 60000
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultConnectTimeout   = 10 * time.Second
	DefaultReadTimeout      = 30 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultPlayWait         = 3 * time.Second
	DefaultAckWindow        = 2_500_000

	// maxOutChunkSize is the largest outgoing chunk size we send: SRS warns
	// outside 128..65536 (docs/interop.md §2).
	maxOutChunkSize = 65536
)

// ServerConfig configures a Server. Zero values mean the defaults above.
type ServerConfig struct {
	Logger *slog.Logger // nil: discard

	// ChunkSize is the outgoing chunk size, announced right after connect.
	// Clamped to [128, 65536].
	ChunkSize int
	// HandshakeTimeout bounds the whole C0..C2 exchange.
	HandshakeTimeout time.Duration
	// ReadTimeout is the idle read timeout for publishers and for
	// connections that have not started playing. Players may stay silent
	// and are never cut by it; WriteTimeout catches dead players.
	ReadTimeout time.Duration
	// WriteTimeout bounds each socket write: a write gets at least this
	// long, a stalled one is cut within 5/4 of it (netx.WriteDeadline).
	WriteTimeout time.Duration
	// ConnectTimeout bounds the time from the end of the handshake until
	// the connection publishes or plays (its publish or play command is
	// accepted); a connection that has not by then is closed. It is one
	// deadline set once: nothing the peer sends (bytes, pings, commands)
	// moves it. ReadTimeout still applies within it.
	ConnectTimeout time.Duration
	// MaxMessageSize bounds one incoming RTMP message.
	MaxMessageSize int
	// MaxPartialBytes bounds the bytes a publishing connection may hold in
	// messages it has not finished sending (partial messages of every
	// chunk stream together). Default 2 × MaxMessageSize; below
	// MaxMessageSize it also caps the largest message a publisher can
	// send. Connections that do not publish get PrePublishPartialBytes,
	// whatever this says.
	MaxPartialBytes int
	// MaxConnections refuses connections beyond this many; 0 = unlimited.
	MaxConnections int
	// MaxConnectionsPerIP refuses connections from a client address that
	// has this many open already; 0 = unlimited. The address is
	// RemoteAddr of the accepted connection: the client a PROXY header
	// named when the listener speaks the PROXY protocol.
	MaxConnectionsPerIP int
	// PlayWait is how long a play of a stream that is not live waits for
	// it before NetStream.Play.StreamNotFound.
	PlayWait time.Duration
	// AckWindow is the window ack size and peer bandwidth we announce, and
	// the window we acknowledge when the peer announced none.
	AckWindow uint32
	// Authorize, when set, is asked before every publish and play, after
	// the stream name and the query length (access.MaxQuery) are
	// validated and before the hub sees it, with an access.Request of
	// Protocol access.ProtoRTMP: Key is the hub key app/name (the app may
	// hold several segments, ".flv" is cut from a play name), Query the
	// connect app's and the publish/play name's query strings joined with
	// '&' (either may be empty), RemoteAddr the peer (the client a PROXY
	// header named), ClientID "rtmp-<conn id>" as in the logs. A non-nil
	// error refuses: publishers get onStatus NetStream.Publish.Denied,
	// players NetStream.Play.Failed, both of level "error" with the
	// error's text as description, and the connection closes. ctx ends
	// with the connection. It runs on the connection's goroutine and may
	// block (an HTTP hook), bounded by its own timeout and by
	// ConnectTimeout.
	Authorize access.Func
	// Panics recovers and counts panics of every goroutine a connection
	// runs (component "rtmp"); nil still recovers, counting nothing.
	Panics *guard.Recorder
}

func (c ServerConfig) withDefaults() ServerConfig {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ChunkSize <= 0 {
		c.ChunkSize = DefaultOutChunkSize
	}
	c.ChunkSize = min(max(c.ChunkSize, 128), maxOutChunkSize)
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxPartialBytes <= 0 {
		c.MaxPartialBytes = 2 * c.MaxMessageSize
	}
	if c.PlayWait <= 0 {
		c.PlayWait = DefaultPlayWait
	}
	if c.AckWindow == 0 {
		c.AckWindow = DefaultAckWindow
	}
	return c
}

// Server accepts RTMP connections: publishers write into the hub, players
// read from it. Its lifecycle is http.Server's: Serve accepts on a listener
// until the server stops; Drain begins a graceful stop without waiting,
// Shutdown drains and waits (bounded by its context), Close ends every
// connection at once. The same names mean the same in every Ripple package.
type Server struct {
	cfg ServerConfig
	hub *hub.Hub
	log *slog.Logger

	mu        sync.Mutex
	closed    bool
	draining  bool // Drain: no new connections, the open ones end on their own
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	nextID    uint64
	wg        sync.WaitGroup
	// stop is closed by Close and Drain: it cuts an accept backoff short.
	stop     chan struct{}
	stopOnce sync.Once
	// lim counts open connections in total and per client address.
	lim netx.ConnLimiter
	// refusedLog rate-limits "connection refused": a flood of refused
	// connects must not become a flood of log lines.
	refusedLog netx.LogLimiter
	// tlsLog rate-limits "tls handshake failed" (connections of a TLS
	// listener that never got past TLS).
	tlsLog netx.LogLimiter
	// now is time.Now; tests set a clock before Serve (multitrack track
	// timeouts).
	now func() time.Time
}

// tlsHandshaker is a connection of a TLS listener (*tls.Conn): Serve on a
// tls.NewListener serves RTMPS.
type tlsHandshaker interface {
	HandshakeContext(ctx context.Context) error
}

// TLSHandshakeError is the close cause of an RTMPS connection whose TLS
// handshake failed (a plain RTMP client on the TLS port, a bad client
// certificate setup, a timeout). It is logged at most once a second.
type TLSHandshakeError struct{ Err error }

func (e *TLSHandshakeError) Error() string { return "tls handshake: " + e.Err.Error() }
func (e *TLSHandshakeError) Unwrap() error { return e.Err }

// NewServer returns a Server publishing into and playing from h.
func NewServer(cfg ServerConfig, h *hub.Hub) *Server {
	cfg = cfg.withDefaults()
	return &Server{
		cfg:       cfg,
		hub:       h,
		log:       cfg.Logger.With("proto", access.ProtoRTMP),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		stop:      make(chan struct{}),
		lim:       netx.ConnLimiter{Max: cfg.MaxConnections, PerIP: cfg.MaxConnectionsPerIP},
		now:       time.Now,
	}
}

// stopAccepting closes every listener and interrupts accept backoffs.
// Called with s.mu held.
func (s *Server) stopAccepting() {
	s.stopOnce.Do(func() { close(s.stop) })
	for ln := range s.listeners {
		ln.Close()
	}
}

// Serve accepts connections on ln until Close, then returns ErrServerClosed.
// It may run on several listeners at once (RTMP and RTMPS): they share the
// connection caps. On a tls.NewListener, each connection's TLS handshake
// runs on its own goroutine within HandshakeTimeout, after the caps.
// Temporary accept errors (EMFILE, ECONNABORTED...) are retried with a
// backoff from 5 ms doubling to 1 s, as net/http does; any other error is
// returned. Serve closes ln.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed || s.draining {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var bo netx.Backoff
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			if !netx.Temporary(err) {
				return fmt.Errorf("rtmp: accept: %w", err)
			}
			s.log.Warn("accept failed, retrying", "err", err)
			if !bo.Wait(s.stop) {
				return ErrServerClosed
			}
			continue
		}
		bo.Reset()
		s.accept(nc)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed || s.draining
}

// accept registers nc and starts its goroutine, or refuses it: beyond
// MaxConnections open connections, or MaxConnectionsPerIP from nc's client
// address, nc is closed at once (before the handshake), counted (Refused)
// and logged at most once a second.
func (s *Server) accept(nc net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.draining {
		nc.Close()
		return
	}
	release, err := s.lim.Acquire(nc.RemoteAddr())
	if err != nil {
		nc.Close()
		if n, ok := s.refusedLog.Allow(); ok {
			limit := s.cfg.MaxConnections
			if errors.Is(err, netx.ErrTooManyConnsPerIP) {
				limit = s.cfg.MaxConnectionsPerIP
			}
			s.log.Warn("connection refused", "remote", nc.RemoteAddr().String(), "err", err,
				"limit", limit, "suppressed", n)
		}
		return
	}
	s.nextID++
	c := newConn(s, nc, s.nextID)
	c.release = release
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	go c.run()
}

// forget unregisters c when its goroutine ends and frees its slot.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	if c.release != nil {
		c.release()
	}
	s.wg.Done()
}

// Refused returns how many connections were refused by MaxConnections
// (total) and by MaxConnectionsPerIP (perIP) since the server started, for
// metrics.
func (s *Server) Refused() (total, perIP uint64) { return s.lim.Refused() }

// Close stops accepting, closes every connection and waits for their
// goroutines. Idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		s.stopAccepting()
		for c := range s.conns {
			c.kill(ErrServerClosed)
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Conns returns the number of open connections.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// closeLevel picks the log level of a connection's close line from its
// cause (docs/architecture.md §8.3): the peer leaving, a shutdown or an ordinary end is Info;
// our own bug is Error; everything else (protocol violations, timeouts,
// slow-reader eviction) is Warn.
func closeLevel(err error) slog.Level {
	if _, ok := guard.AsPanic(err); ok {
		return slog.LevelError
	}
	switch {
	case err == nil,
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.Canceled),
		errors.Is(err, ErrServerClosed),
		errors.Is(err, ErrStreamEnded),
		errors.Is(err, errRefused),
		errors.Is(err, errPlayStopped),
		errors.Is(err, hub.ErrReplaced),
		errors.Is(err, hub.ErrKicked),
		errors.Is(err, hub.ErrClosed):
		return slog.LevelInfo
	}
	return slog.LevelWarn
}
