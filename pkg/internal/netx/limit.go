package netx

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Refusal causes of a ConnLimiter.
var (
	ErrTooManyConns      = errors.New("too many connections")
	ErrTooManyConnsPerIP = errors.New("too many connections from this address")
)

// ConnLimiter caps the open connections of one listener in total and per
// client address (nginx's limit_conn), so that one host cannot take every
// file descriptor and starve the other listener too. Set the fields before
// the first Acquire. Safe for concurrent use.
type ConnLimiter struct {
	Max   int // open connections at most; 0: unlimited
	PerIP int // open connections per client address at most; 0: unlimited
	// Exempt, when set, reports addresses the per-address cap does not
	// apply to (trusted proxies, which carry many clients each).
	Exempt func(netip.Addr) bool

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int

	refusedTotal, refusedPerIP atomic.Uint64
}

// Acquire counts a new connection from addr, or refuses it with
// ErrTooManyConns or ErrTooManyConnsPerIP. release must be called once when
// the connection closes (later calls do nothing).
func (l *ConnLimiter) Acquire(addr net.Addr) (release func(), err error) {
	ip, hasIP := addrIP(addr)
	if l.PerIP <= 0 || (hasIP && l.Exempt != nil && l.Exempt(ip)) {
		hasIP = false // not counted per address
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Max > 0 && l.total >= l.Max {
		l.refusedTotal.Add(1)
		return nil, ErrTooManyConns
	}
	if hasIP {
		if l.perIP[ip] >= l.PerIP {
			l.refusedPerIP.Add(1)
			return nil, ErrTooManyConnsPerIP
		}
		if l.perIP == nil {
			l.perIP = make(map[netip.Addr]int)
		}
		l.perIP[ip]++
	}
	l.total++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.total--
			if hasIP {
				if n := l.perIP[ip] - 1; n > 0 {
					l.perIP[ip] = n
				} else {
					delete(l.perIP, ip)
				}
			}
		})
	}, nil
}

// Open returns the connections counted now.
func (l *ConnLimiter) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// Refused returns how many connections were refused by the total cap and
// by the per-address cap.
func (l *ConnLimiter) Refused() (total, perIP uint64) {
	return l.refusedTotal.Load(), l.refusedPerIP.Load()
}

func addrIP(a net.Addr) (netip.Addr, bool) {
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	case nil:
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// LimitListener applies a ConnLimiter to every connection ln accepts:
// refused connections are closed at once (one log line a second at most,
// counting the rest), accepted ones release their slot when closed.
// Connections that are *net.TCPConn stay writev-capable: the wrapper embeds
// the *net.TCPConn, so net.Buffers.WriteTo still reaches writev (use
// netx.Writev to test for it).
type LimitListener struct {
	net.Listener
	lim   *ConnLimiter
	log   *slog.Logger
	limit LogLimiter

	// FirstByte, if set, sees the first byte a connection sends (its first
	// Read): false fails that Read with ErrWrongProtocol, so the server
	// closes the connection (a TLS handshake on a plain port). Set it
	// before Accept is called.
	FirstByte func(b byte, remote net.Addr) bool
}

// ErrWrongProtocol fails the first read of a connection whose first byte
// LimitListener.FirstByte refused.
var ErrWrongProtocol = errors.New("netx: the client speaks another protocol on this port")

// NewLimitListener wraps ln. log nil discards.
func NewLimitListener(ln net.Listener, lim *ConnLimiter, log *slog.Logger) *LimitListener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LimitListener{Listener: ln, lim: lim, log: log}
}

// Accept returns the next connection within the limits.
func (l *LimitListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		release, err := l.lim.Acquire(nc.RemoteAddr())
		if err != nil {
			nc.Close()
			if n, ok := l.limit.Allow(); ok {
				l.log.Warn("connection refused", "remote", nc.RemoteAddr().String(), "err", err,
					"max", l.lim.Max, "max_per_ip", l.lim.PerIP, "suppressed", n)
			}
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			return &LimitedTCPConn{TCPConn: tc, release: release, first: l.FirstByte}, nil
		}
		return &limitedConn{Conn: nc, release: release}, nil
	}
}

// LimitedTCPConn is a *net.TCPConn that releases its ConnLimiter slot when
// closed. Embedding keeps net.Buffers.WriteTo on writev.
type LimitedTCPConn struct {
	*net.TCPConn
	release func()
	first   func(b byte, remote net.Addr) bool // LimitListener.FirstByte, until the first byte is read
}

// Read reads from the connection; the first byte read goes to
// LimitListener.FirstByte. Reads come from one goroutine at a time.
func (c *LimitedTCPConn) Read(b []byte) (int, error) {
	n, err := c.TCPConn.Read(b)
	if c.first != nil && n > 0 {
		f := c.first
		c.first = nil
		if !f(b[0], c.RemoteAddr()) {
			return 0, ErrWrongProtocol
		}
	}
	return n, err
}

// Close closes the connection and releases its slot.
func (c *LimitedTCPConn) Close() error {
	c.release()
	return c.TCPConn.Close()
}

// NetConn returns the underlying connection.
func (c *LimitedTCPConn) NetConn() net.Conn { return c.TCPConn }

type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	c.release()
	return c.Conn.Close()
}

func (c *limitedConn) NetConn() net.Conn { return c.Conn }

// Writev reports whether net.Buffers.WriteTo(c) issues writev: TCP and
// Unix sockets, and LimitLister's wrapper of a TCP socket.
func Writev(c net.Conn) bool {
	switch c.(type) {
	case *net.TCPConn, *net.UnixConn, *LimitedTCPConn:
		return true
	}
	return false
}
