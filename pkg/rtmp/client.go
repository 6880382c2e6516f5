package rtmp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/amf0"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
)

// Client defaults.
const (
	DefaultClientTimeout = 10 * time.Second
	clientFlashVer       = "FMLE/3.0 (compatible; Ripple)"
	// playBufferMillis is the buffer length we announce after play
	// (librtmp and ffmpeg send one too; some servers wait for it).
	playBufferMillis = 3000
)

// ErrClientClosed is returned by ClientConn methods after Close.
var ErrClientClosed = errors.New("rtmp: client connection closed")

// ClientConfig configures Dial.
type ClientConfig struct {
	Logger *slog.Logger // nil: discard
	// ChunkSize is our outgoing chunk size, announced before connect like
	// OBS does. Default 4096, clamped to [128, 65536].
	ChunkSize int
	// Timeout bounds each step (dial+handshake, connect, publish, play)
	// when the context has no earlier deadline, each write, and each
	// ReadPacket wait. Default 10s.
	Timeout time.Duration
	// MaxMessageSize bounds one incoming message. Default 8 MiB.
	MaxMessageSize int
	// MaxPartialBytes bounds the bytes held in messages the server has not
	// finished sending (all chunk streams together). Default 2 ×
	// MaxMessageSize.
	MaxPartialBytes int
	// TLS configures rtmps:// connections; nil: the system roots. Dial
	// works on a copy: an empty ServerName becomes the URL's host (SNI and
	// certificate verification) and MinVersion is at least TLS 1.2.
	TLS *tls.Config
	// InsecureSkipVerify accepts any certificate from an rtmps:// server
	// (tests, self-signed servers): the connection is encrypted but not
	// authenticated.
	InsecureSkipVerify bool
	// Panics recovers and counts panics of the connection's goroutines
	// (its writer and a publisher's background reader), under component
	// "relay": a panic ends only this connection, whose calls then return
	// the *guard.PanicError. nil still recovers, counting nothing.
	Panics *guard.Recorder
}

// componentRelay names a client connection's goroutines in
// ripple_panics_total{component}: relays are its users.
const componentRelay = access.ProtoRelay

type clientMode uint8

const (
	modeIdle clientMode = iota
	modePublishing
	modePlaying
)

// ClientConn is an RTMP client connection that publishes or plays one
// stream (relays and tests). Publish/Play, ReadPacket and WritePacket must
// not be called concurrently with each other; Close may be called from any
// goroutine.
type ClientConn struct {
	cfg ClientConfig
	log *slog.Logger
	url URL
	nc  net.Conn // the RTMP byte stream: raw, or TLS over raw
	raw net.Conn // the TCP connection
	br  *bufio.Reader
	cr  *ChunkReader
	w   *writer

	ctx    context.Context
	cancel context.CancelCauseFunc

	txn       float64
	mode      clientMode
	streamID  uint32
	ackWindow uint64
	lastAck   uint64
	pending   []*av.Packet // received during Play before Play.Start / from aggregates
	eof       bool

	bgDone    chan struct{} // background reader of a publisher
	closeOnce sync.Once

	// mu guards what Close reads while Publish/Play may be setting it.
	mu          sync.Mutex
	closeMode   clientMode
	closeStream uint32
}

// Dial connects to rawURL (rtmp[s]://host[:port]/app[/...][?query]): TCP,
// TLS for rtmps:// (see ClientConfig.TLS), handshake, SetChunkSize, then
// connect, waiting for its `_result`. ctx and Timeout bound all of it up to
// connect's answer. The whole path is the app; pass the stream name to
// Publish or Play.
func Dial(ctx context.Context, rawURL string, cfg ClientConfig) (*ClientConn, error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = DefaultOutChunkSize
	}
	cfg.ChunkSize = min(max(cfg.ChunkSize, 128), maxOutChunkSize)
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultClientTimeout
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.MaxPartialBytes <= 0 {
		cfg.MaxPartialBytes = 2 * cfg.MaxMessageSize
	}

	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(dctx, "tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("rtmp: dial %s: %w", u.Host, err)
	}
	nc := raw
	if u.TLS {
		tc := tls.Client(raw, cfg.tlsConfig(u))
		if err := tc.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("rtmp: tls handshake with %s: %w", u.Host, err)
		}
		nc = tc
	}
	cctx, ccancel := context.WithCancelCause(context.Background())
	c := &ClientConn{
		cfg:       cfg,
		log:       cfg.Logger.With("proto", access.ProtoRTMP, "remote", u.Host),
		url:       u,
		nc:        nc,
		raw:       raw,
		br:        bufio.NewReaderSize(nc, readBufferSize),
		ctx:       cctx,
		cancel:    ccancel,
		ackWindow: DefaultAckWindow,
	}
	if err := c.dial(dctx); err != nil {
		ccancel(err)
		raw.Close()
		if c.w != nil {
			<-c.w.done
		}
		return nil, err
	}
	return c, nil
}

// tlsConfig is the TLS configuration of a connection to u.
func (cfg *ClientConfig) tlsConfig(u URL) *tls.Config {
	var tc *tls.Config
	if cfg.TLS != nil {
		tc = cfg.TLS.Clone()
	} else {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" {
		tc.ServerName = u.ServerName()
	}
	tc.MinVersion = max(tc.MinVersion, tls.VersionTLS12)
	if cfg.InsecureSkipVerify {
		tc.InsecureSkipVerify = true //nolint:gosec // asked for: tests and self-signed servers
	}
	return tc
}

func (c *ClientConn) dial(ctx context.Context) error {
	stop := c.deadlineFrom(ctx)
	err := ClientHandshake(c.br, c.nc)
	stop()
	if err != nil {
		return fmt.Errorf("rtmp: handshake with %s: %w", c.url.Host, c.ctxErr(ctx, err))
	}
	c.cr = NewChunkReader(c.br, c.cfg.MaxMessageSize)
	c.cr.SetMaxPartialBytes(c.cfg.MaxPartialBytes)
	// The client writer never serves hub readers, but a relay pushes hub
	// packets: the shared header cache applies when parameters match.
	c.w = newWriter(c.nc, c.cfg.Timeout, c.cfg.ChunkSize, func(error) {}, c.kill, c.endWriter)
	c.w.panics, c.w.component = c.cfg.Panics, componentRelay
	go c.w.run(c.ctx) //nolint:contextcheck // the writer lives as long as the conn, not the dial

	if err := c.w.send(ctx, outItem{op: opChunkSize, n: uint32(c.cfg.ChunkSize)}); err != nil {
		return err
	}
	txn := c.nextTxn()
	fourCCs := make(amf0.StrictArray, len(videoFourCCs))
	for i, f := range videoFourCCs {
		fourCCs[i] = f
	}
	obj := amf0.Object{
		{Key: "app", Value: c.url.ConnectApp()},
		{Key: "type", Value: "nonprivate"},
		{Key: "flashVer", Value: clientFlashVer},
		{Key: "tcUrl", Value: c.url.TCURL()},
		{Key: "fpad", Value: false},
		{Key: "capabilities", Value: float64(15)},
		{Key: "audioCodecs", Value: float64(4071)},
		{Key: "videoCodecs", Value: float64(252)},
		{Key: "videoFunction", Value: float64(1)},
		// E-RTMP: accept enhanced tags for these codecs when playing.
		{Key: "fourCcList", Value: fourCCs},
	}
	if err := c.sendCommand(ctx, 0, "connect", txn, obj); err != nil {
		return err
	}
	_, err = c.waitResult(ctx, txn, "connect")
	return err
}

func (c *ClientConn) nextTxn() float64 {
	c.txn++
	return c.txn
}

// kill ends the connection now (writer failure or a fatal read error). It
// closes the TCP connection itself: a TLS close_notify could wait on a
// dead peer.
func (c *ClientConn) kill(cause error) {
	c.cancel(cause)
	c.raw.Close()
}

// endWriter is the writer's graceful end (after Close flushed).
func (c *ClientConn) endWriter(cause error) { c.cancel(cause) }

// ctxErr prefers the context's error when ctx ended (the read deadline was
// forced by deadlineFrom).
func (c *ClientConn) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if c.ctx.Err() != nil {
		return context.Cause(c.ctx) //nolint:contextcheck // the conn's own end
	}
	// The read deadline taken from ctx can fire just before ctx itself.
	var ne net.Error
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) && errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return err
}

// deadlineFrom sets the socket deadline from ctx (or Timeout) and makes ctx
// cancellation interrupt blocked I/O. The returned func undoes both.
func (c *ClientConn) deadlineFrom(ctx context.Context) (stop func()) {
	d, ok := ctx.Deadline()
	if t := time.Now().Add(c.cfg.Timeout); !ok || t.Before(d) {
		d = t
	}
	_ = c.nc.SetReadDeadline(d) // fails only once closed, which the read reports
	fired := make(chan struct{})
	stopAfter := context.AfterFunc(ctx, func() {
		_ = c.nc.SetReadDeadline(time.Now())
		close(fired)
	})
	return func() {
		if !stopAfter() {
			<-fired // it ran: wait so it cannot land after our reset
		}
		_ = c.nc.SetReadDeadline(time.Time{})
	}
}

// sendCommand queues a command on message stream msid.
func (c *ClientConn) sendCommand(ctx context.Context, msid uint32, name string, txn float64, vals ...any) error {
	m, err := commandMessage(msid, name, txn, vals...)
	if err != nil {
		return err
	}
	return c.send(ctx, outItem{op: opMessage, csid: csidCommand, msg: m})
}

func (c *ClientConn) send(ctx context.Context, it outItem) error {
	if c.ctx.Err() != nil {
		// Ended (a failed write, a panic, Close): say so at once rather
		// than queueing into a writer that is gone while there is room.
		return context.Cause(c.ctx) //nolint:contextcheck // the conn's own end
	}
	if err := c.w.send(ctx, it); err != nil {
		if c.ctx.Err() != nil {
			return context.Cause(c.ctx) //nolint:contextcheck // the conn's own end
		}
		return err
	}
	return nil
}

// readMessage reads the next message, handling protocol control inline:
// acknowledgements every window, window size changes and pings. It returns
// every other message.
func (c *ClientConn) readMessage() (*Message, error) {
	for {
		m, err := c.cr.ReadMessage()
		if err != nil {
			return nil, err
		}
		if n := c.cr.BytesRead(); n-c.lastAck >= c.ackWindow {
			c.lastAck = n
			if err := c.send(c.ctx, outItem{op: opMessage, csid: csidControl, msg: AckMessage(uint32(n))}); err != nil {
				return nil, err
			}
		}
		switch m.TypeID {
		case TypeSetChunkSize, TypeAbort, TypeAck, TypeSetPeerBandwidth:
			continue
		case TypeWindowAckSize:
			if n, err := ParseUint32(m.Payload); err == nil && n > 0 {
				c.ackWindow = uint64(n)
			}
			continue
		case TypeUserControl:
			ev, data, err := ParseUserControl(m.Payload)
			if err != nil {
				return nil, err
			}
			if ev == EventPingRequest && len(data) >= 4 {
				ts := uint32(data[0])<<24 | uint32(data[1])<<16 | uint32(data[2])<<8 | uint32(data[3])
				if err := c.send(c.ctx, outItem{op: opMessage, csid: csidControl,
					msg: UserControlMessage(EventPingResponse, ts)}); err != nil {
					return nil, err
				}
				continue
			}
		}
		return m, nil
	}
}

// decodeCommandMessage decodes m if it is a command message; ok is false otherwise.
func decodeCommandMessage(m *Message) (cmd command, ok bool, err error) {
	var p []byte
	switch m.TypeID {
	case TypeCommandAMF0:
		p = m.Payload
	case TypeCommandAMF3:
		if len(m.Payload) == 0 {
			return command{}, false, nil
		}
		p = m.Payload[1:]
	default:
		return command{}, false, nil
	}
	cmd, err = decodeCommand(p)
	return cmd, err == nil, err
}

// waitResult reads until the `_result` or `_error` for txn. Other commands
// (onBWDone, _result for pipelined calls, onStatus) are skipped, media is
// kept for ReadPacket.
func (c *ClientConn) waitResult(ctx context.Context, txn float64, what string) (*command, error) {
	var res *command
	err := c.readUntil(ctx, func(cmd *command) (bool, error) {
		if (cmd.Name == commandResult || cmd.Name == commandError) && cmd.TxnID == txn {
			if se := statusOf(cmd); se != nil {
				return true, fmt.Errorf("rtmp: %s: %w", what, se)
			}
			res = cmd
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// waitStatus reads until an onStatus whose code is want (success) or whose
// level is "error".
func (c *ClientConn) waitStatus(ctx context.Context, want, what string) error {
	return c.readUntil(ctx, func(cmd *command) (bool, error) {
		if cmd.Name != commandOnStatus {
			return false, nil
		}
		if se := statusOf(cmd); se != nil {
			return true, fmt.Errorf("rtmp: %s: %w", what, se)
		}
		return cmd.info().String("code") == want, nil
	})
}

// readUntil reads messages until fn says done, within ctx and Timeout.
func (c *ClientConn) readUntil(ctx context.Context, fn func(*command) (bool, error)) error {
	stop := c.deadlineFrom(ctx)
	defer stop()
	for {
		m, err := c.readMessage()
		if err != nil {
			return fmt.Errorf("rtmp: read from %s: %w", c.url.Host, c.ctxErr(ctx, err))
		}
		cmd, ok, err := decodeCommandMessage(m)
		if err != nil {
			return err
		}
		if !ok {
			if err := c.keepMedia(m); err != nil {
				return err
			}
			continue
		}
		if done, err := fn(&cmd); done || err != nil {
			return err
		}
	}
}

func (c *ClientConn) setCloseState(m clientMode, msid uint32) {
	c.mu.Lock()
	c.closeMode, c.closeStream = m, msid
	c.mu.Unlock()
}

// StreamID returns the message stream id the server assigned (0 before
// Publish or Play).
func (c *ClientConn) StreamID() uint32 { return c.streamID }

// Abort ends the connection at once without deleteStream: the server sees
// a dropped connection, so a publisher's stream keeps its reconnect grace
// there (a relay stopped by its server's shutdown or reload, whose stream
// may come back within it). Close after Abort does nothing. Idempotent;
// safe from any goroutine.
func (c *ClientConn) Abort() {
	c.closeOnce.Do(func() {
		c.kill(ErrClientClosed)
		<-c.w.done
		if c.bgDone != nil {
			<-c.bgDone
		}
	})
}

// Close ends the connection. A publisher or player first sends
// deleteStream (flushed within Timeout), so the server ends the stream
// cleanly. Idempotent; safe from any goroutine.
//
//nolint:contextcheck // Close takes no context, like io.Closer: Timeout bounds the goodbye
func (c *ClientConn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		mode, msid := c.closeMode, c.closeStream
		c.mu.Unlock()
		if c.ctx.Err() == nil {
			ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
			// Transaction id 0: no reply expected (RTMP 1.0 §7.2.2.3).
			if mode != modeIdle {
				_ = c.sendCommand(ctx, 0, "deleteStream", 0, nil, float64(msid))
			}
			_ = c.w.send(ctx, outItem{op: opClose, err: ErrClientClosed}) // best effort: kill follows
			select {
			case <-c.w.done:
				if c.nc != c.raw {
					// Flushed: end TLS with close_notify, so the server
					// reads a clean end of stream (tls.Conn bounds the
					// alert's write itself).
					_ = c.nc.Close()
				}
			case <-ctx.Done():
			}
			cancel()
		}
		c.kill(ErrClientClosed)
		<-c.w.done
		if c.bgDone != nil {
			<-c.bgDone
		}
	})
	return nil
}
