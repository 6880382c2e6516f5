package rtmp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
)

// Connection limits and timings.
const (
	// maxStreamsPerConn bounds createStream calls (one publish or play
	// needs one; clients that retry may create a few).
	maxStreamsPerConn = 16
	// lingerTimeout is how long a connection we end on purpose keeps
	// draining the peer after its last message, so the peer reads our final
	// onStatus instead of a TCP reset.
	lingerTimeout = 2 * time.Second
	// maxLingerBytes bounds what is discarded while lingering.
	maxLingerBytes = 1 << 20
	readBufferSize = 64 << 10
)

// errRefused marks requests we decline on purpose (busy stream, stream not
// found): logged at Info, unlike protocol violations.
var errRefused = errors.New("rtmp: request refused")

// errConnectTimeout is the close cause of a connection that neither
// published nor played within ConnectTimeout of its handshake (Warn).
var errConnectTimeout = errors.New("rtmp: connect timeout: neither publishing nor playing")

// Connection activation states (conn.state): a connection is pending from
// its handshake until its publish or play is accepted (active), or until
// ConnectTimeout ends it (expired); the first transition wins.
const (
	statePending int32 = iota
	stateActive
	stateExpired
)

// componentRTMP names a server connection's goroutines in
// ripple_panics_total{component}.
const componentRTMP = access.ProtoRTMP

// protocolErrorf reports a protocol violation by the peer (logged at Warn,
// the default level for causes closeLevel does not know).
func protocolErrorf(format string, args ...any) error {
	return fmt.Errorf("rtmp: "+format, args...)
}

// conn is one server-side RTMP connection. Its goroutine (run) reads and
// handles messages; its writer goroutine owns all writes.
type conn struct {
	s      *Server
	cfg    *ServerConfig
	hub    *hub.Hub
	nc     net.Conn
	br     *bufio.Reader
	cr     *ChunkReader
	w      *writer
	log    *slog.Logger
	remote string
	id     uint64
	// release frees the connection's slot in Server.lim (nil in tests
	// that build a conn directly).
	release func()

	// state is statePending until a publish or play is accepted; the
	// connect timer (ConnectTimeout after the handshake) ends a
	// connection still pending. Written by the connection goroutine and
	// the timer, hence atomic.
	state        atomic.Int32
	connectTimer *time.Timer

	ctx    context.Context
	cancel context.CancelCauseFunc

	causeMu sync.Mutex
	cause   error // first recorded reason the connection ends

	// Read-goroutine state.
	connected      bool
	app            string // without query
	appQuery       string
	objectEncoding float64
	streams        uint32 // stream ids 1..streams were created
	ackWindow      uint64
	lastAck        uint64
	closing        bool // a final status is queued; ignore further input
	writerStarted  bool
	malformed      uint64

	pub         *hub.Publisher
	pubKey      string
	pubStreamID uint32

	// Multitrack ingest (conn_tracks.go): the packets of the message being
	// published, the renditions of the publish, the default track's latest
	// audio sequence header (for renditions without audio of their own)
	// and the latest onMetaData body (for the renditions it describes).
	split            [flv.MaxTracks]*av.Packet
	tracks           []*trackStream
	trackSweep       time.Time
	trackDropped     uint64
	trackLimitLogged bool
	audioHeader      *av.Packet
	metaData         []byte

	reader       *hub.Reader
	playKey      string
	playStreamID uint32
}

func newConn(s *Server, nc net.Conn, id uint64) *conn {
	ctx, cancel := context.WithCancelCause(context.Background())
	remote := nc.RemoteAddr().String()
	c := &conn{
		s:         s,
		cfg:       &s.cfg,
		hub:       s.hub,
		nc:        nc,
		br:        bufio.NewReaderSize(nc, connReadBufferSize),
		log:       s.log.With("conn", id, "remote", remote),
		remote:    remote,
		id:        id,
		ctx:       ctx,
		cancel:    cancel,
		ackWindow: uint64(s.cfg.AckWindow),
	}
	c.w = newConnWriter(nc, s.cfg.WriteTimeout, s.cfg.ChunkSize, c.setCause, c.kill, c.endGracefully)
	c.w.panics, c.w.component = s.cfg.Panics, componentRTMP
	return c
}

// startConnectTimer arms ConnectTimeout once the handshake is done. The
// deadline is absolute: unlike the idle read timeout, no input re-arms it.
func (c *conn) startConnectTimer() {
	c.connectTimer = time.AfterFunc(c.cfg.ConnectTimeout, func() {
		if c.state.CompareAndSwap(statePending, stateExpired) {
			c.kill(c.connectTimeoutError())
		}
	})
}

func (c *conn) connectTimeoutError() error {
	return fmt.Errorf("%w %s after the handshake", errConnectTimeout, c.cfg.ConnectTimeout)
}

// activate marks the connection as publishing or playing, which stops the
// connect timeout. It fails once the timeout has fired: the connection is
// being closed for it.
func (c *conn) activate() error {
	if c.state.CompareAndSwap(statePending, stateActive) {
		if c.connectTimer != nil {
			c.connectTimer.Stop()
		}
		return nil
	}
	if c.state.Load() == stateActive {
		return nil
	}
	return c.connectTimeoutError()
}

// setCause records why the connection ends; the first cause wins. It is
// recorded apart from the cancellation so that a final status can still be
// flushed: once the peer reads it, it may close before we cancel, and its
// EOF must not replace the real cause in the close line.
func (c *conn) setCause(cause error) {
	c.causeMu.Lock()
	if c.cause == nil {
		c.cause = cause
	}
	c.causeMu.Unlock()
}

func (c *conn) closeCause() error {
	c.causeMu.Lock()
	defer c.causeMu.Unlock()
	return c.cause
}

// kill ends the connection now: the socket is closed so both goroutines
// unblock.
func (c *conn) kill(cause error) {
	c.setCause(cause)
	c.cancel(cause)
	c.nc.Close()
}

// endGracefully ends the connection after the writer flushed its last
// message: the reader is woken (players have no read deadline) so it can
// linger and close.
func (c *conn) endGracefully(cause error) {
	c.setCause(cause)
	c.cancel(cause)
	_ = c.nc.SetReadDeadline(time.Now())
}

// run is the connection goroutine: it owns cleanup and logs exactly one
// close line naming the cause.
func (c *conn) run() {
	defer c.s.forget(c)
	start := time.Now()
	err := c.cfg.Panics.Run(componentRTMP, c.runInner)
	c.setCause(err) // no-op if a cause was recorded first
	c.cancel(err)
	c.nc.Close()
	if c.connectTimer != nil {
		c.connectTimer.Stop()
	}
	if c.writerStarted {
		<-c.w.done
	}
	c.releaseMedia()
	c.logClosed(start)
}

// releaseMedia gives back what the connection holds in the hub: its publisher
// and renditions are closed (a dropped publisher keeps the reconnect
// grace), its reader too.
func (c *conn) releaseMedia() {
	if c.pub != nil {
		c.pub.Close()
	}
	c.endTracks(false)
	if c.reader != nil {
		c.reader.Close()
	}
}

// logClosed logs the close line. It is kept out of run, whose frame is on
// the stack of every parked connection (see readMessage).
//
//nolint:contextcheck // slog wants a context only for handler values; the conn's has ended
func (c *conn) logClosed(start time.Time) {
	cause := c.closeCause()
	if _, ok := errors.AsType[*TLSHandshakeError](cause); ok {
		// Anyone can make these (a plain RTMP client on the RTMPS port, a
		// scanner): one line a second at most.
		if n, ok := c.s.tlsLog.Allow(); ok {
			c.log.Warn("tls handshake failed", "err", cause, "suppressed", n)
		}
		return
	}
	level := closeLevel(cause)
	attrs := []any{"err", cause, "duration", time.Since(start).Round(time.Millisecond)}
	if key := c.streamKey(); key != "" {
		attrs = append(attrs, "stream", key)
	}
	if c.malformed > 0 {
		attrs = append(attrs, "dropped", c.malformed)
	}
	if c.trackDropped > 0 {
		attrs = append(attrs, "track_dropped", c.trackDropped)
	}
	if pe, ok := guard.AsPanic(cause); ok {
		attrs = append(attrs, "stack", string(pe.Stack))
	}
	c.log.Log(context.Background(), level, "conn closed", attrs...)
}

func (c *conn) streamKey() string {
	if c.pubKey != "" {
		return c.pubKey
	}
	return c.playKey
}

func (c *conn) runInner() error {
	if err := c.nc.SetDeadline(time.Now().Add(c.cfg.HandshakeTimeout)); err != nil {
		return err
	}
	// On a TLS listener (RTMPS), the TLS handshake comes first, within the
	// same HandshakeTimeout as the RTMP one.
	if hs, ok := c.nc.(tlsHandshaker); ok {
		if err := hs.HandshakeContext(c.ctx); err != nil {
			return &TLSHandshakeError{Err: err}
		}
	}
	if err := ServerHandshake(c.br, c.nc); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := c.nc.SetDeadline(time.Time{}); err != nil {
		return err
	}
	c.startConnectTimer()
	c.cr = NewChunkReader(c.br, c.cfg.MaxMessageSize)
	c.cr.SetMaxPartialBytes(PrePublishPartialBytes)
	c.writerStarted = true
	go c.w.run(c.ctx)

	playerDeadline := false
	for {
		// Idle timeout for everyone but players: a player may send
		// nothing for hours, its liveness is checked by write deadlines.
		var err error
		switch {
		case c.reader == nil:
			err = c.nc.SetReadDeadline(time.Now().Add(c.cfg.ReadTimeout))
		case !playerDeadline:
			err, playerDeadline = c.nc.SetReadDeadline(time.Time{}), true
		}
		if err != nil {
			return err
		}
		// Checked after touching the deadline: endGracefully cancels
		// first and then sets a past deadline, so either we see the
		// cancellation here or its deadline wakes the read below.
		if c.ctx.Err() != nil {
			return c.linger()
		}
		m, err := c.readMessage()
		if err != nil {
			if c.ctx.Err() != nil {
				return c.linger()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("read timeout (%s idle): %w", c.cfg.ReadTimeout, err)
			}
			return err
		}
		if c.closing {
			continue
		}
		if err := c.ack(); err != nil {
			return err
		}
		if err := c.handle(m); err != nil {
			return err
		}
	}
}

// linger runs after a graceful end: half-close so the peer sees EOF after
// our last message, then drain what it still sends (bounded in time and
// bytes) so closing does not turn into a reset that could discard that
// message on the peer's side.
func (c *conn) linger() error {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.Copy(io.Discard, io.LimitReader(c.br, maxLingerBytes))
	return context.Cause(c.ctx)
}

// ack sends an Acknowledgement every window of received bytes (RTMP 1.0
// §5.4.3), whether or not the peer announced a window: several encoders
// stall or drop without acks (docs/interop.md §2). The sequence number is the
// byte count modulo 2^32.
func (c *conn) ack() error {
	n := c.cr.BytesRead()
	if n-c.lastAck < c.ackWindow {
		return nil
	}
	c.lastAck = n
	return c.w.sendMsg(c.ctx, csidControl, AckMessage(uint32(n)))
}

// send queues one message.
func (c *conn) send(csid uint32, m *Message) error { return c.w.sendMsg(c.ctx, csid, m) }

// refuse queues msgs and then a graceful close with cause: the final
// status reaches the peer before the connection ends.
func (c *conn) refuse(cause error, msgs ...*Message) error {
	for _, m := range msgs {
		if err := c.send(csidCommand, m); err != nil {
			return err
		}
	}
	c.setCause(cause)
	if err := c.w.send(c.ctx, outItem{op: opClose, err: cause}); err != nil {
		return err
	}
	c.closing = true
	return nil
}

// handle dispatches one message (RTMP 1.0 §5.4, §7.1).
func (c *conn) handle(m *Message) error {
	switch m.TypeID {
	case TypeSetChunkSize, TypeAbort, TypeAck, TypeSetPeerBandwidth:
		// The chunk reader applied SetChunkSize and Abort itself; acks and
		// the peer's bandwidth limit need nothing from us.
		return nil
	case TypeWindowAckSize:
		n, err := ParseUint32(m.Payload)
		if err != nil {
			return protocolErrorf("window ack size: %v", err)
		}
		if n > 0 {
			c.ackWindow = uint64(n)
		}
		return nil
	case TypeUserControl:
		return c.onUserControl(m)
	case TypeCommandAMF0:
		return c.onCommand(m, m.Payload)
	case TypeCommandAMF3:
		// AMF3 command: one format byte, then AMF0 (RTMP 1.0 §7.1.1).
		if len(m.Payload) == 0 {
			return protocolErrorf("empty AMF3 command message")
		}
		return c.onCommand(m, m.Payload[1:])
	case TypeAudio, TypeVideo, TypeDataAMF0:
		return c.onMedia(m, m.TypeID, m.Payload)
	case TypeDataAMF3:
		if len(m.Payload) == 0 {
			return nil
		}
		return c.onMedia(m, TypeDataAMF0, m.Payload[1:])
	case TypeAggregate:
		subs, err := SplitAggregate(m)
		if err != nil {
			return err
		}
		for _, sm := range subs {
			switch sm.TypeID {
			case TypeAudio, TypeVideo, TypeDataAMF0:
				if err := c.onMedia(sm, sm.TypeID, sm.Payload); err != nil {
					return err
				}
			}
		}
		return nil
	}
	// Shared objects and unknown types: ignore, like FMS and nginx-rtmp.
	return nil
}

// onUserControl answers PingRequest and accepts everything else
// (SetBufferLength has 8 data bytes, others 4: RTMP 1.0 §7.1.7).
func (c *conn) onUserControl(m *Message) error {
	ev, data, err := ParseUserControl(m.Payload)
	if err != nil {
		return protocolErrorf("user control: %v", err)
	}
	if ev == EventPingRequest && len(data) >= 4 {
		ts := uint32(data[0])<<24 | uint32(data[1])<<16 | uint32(data[2])<<8 | uint32(data[3])
		return c.send(csidControl, UserControlMessage(EventPingResponse, ts))
	}
	return nil
}

// onCommand dispatches an AMF0 command (RTMP 1.0 §7.2). Unknown commands
// are ignored: clients send many optional ones, and disconnecting for them
// breaks interop (docs/interop.md §3).
func (c *conn) onCommand(m *Message, payload []byte) error {
	cmd, err := decodeCommand(payload)
	if err != nil {
		return err
	}
	switch cmd.Name {
	case "connect":
		return c.onConnect(&cmd)
	case "createStream":
		return c.onCreateStream(&cmd)
	case "publish":
		return c.onPublish(&cmd, m.StreamID)
	case "play":
		return c.onPlay(&cmd, m.StreamID)
	case "FCUnpublish":
		c.endPublish()
		return c.replyResult(&cmd)
	case "deleteStream":
		if id, ok := cmd.arg(0).(float64); ok {
			return c.endStream(uint32(id))
		}
		return nil
	case "closeStream":
		return c.endStream(m.StreamID)
	case "releaseStream", "FCPublish", "_checkbw":
		return c.replyResult(&cmd)
	case "getStreamLength":
		// ffmpeg asks before play; a live stream has no length (0).
		if cmd.TxnID == 0 {
			return nil
		}
		return c.send(csidCommand, resultMessage(cmd.TxnID, 0))
	}
	c.log.Debug("command ignored", "command", cmd.Name)
	return nil
}

// replyResult answers a command with `_result` when the client expects an
// answer (transaction id != 0); ffmpeg and librtmp track these ids.
func (c *conn) replyResult(cmd *command) error {
	if cmd.TxnID == 0 {
		return nil
	}
	return c.send(csidCommand, resultMessage(cmd.TxnID))
}

// onConnect answers connect (RTMP 1.0 §7.2.1.1, docs/interop.md §3): window
// ack size, peer bandwidth (dynamic), our chunk size, then `_result`.
func (c *conn) onConnect(cmd *command) error {
	if c.connected {
		return protocolErrorf("second connect")
	}
	obj := cmd.object()
	app, query := splitQuery(obj.String("app"))
	c.app, c.appQuery = strings.Trim(app, "/"), query
	c.objectEncoding, _ = obj.Number("objectEncoding")
	c.connected = true

	if err := c.send(csidControl, WindowAckSizeMessage(c.cfg.AckWindow)); err != nil {
		return err
	}
	if err := c.send(csidControl, SetPeerBandwidthMessage(c.cfg.AckWindow, 2)); err != nil {
		return err
	}
	if err := c.w.send(c.ctx, outItem{op: opChunkSize, n: uint32(c.cfg.ChunkSize)}); err != nil {
		return err
	}
	enhanced := wantsEnhanced(obj)
	c.log.Debug("connected", "app", c.app, "flashVer", obj.String("flashVer"), "enhanced", enhanced)
	return c.send(csidCommand, connectResult(cmd.TxnID, c.objectEncoding, enhanced))
}

// onCreateStream allocates the next message stream id (1, 2, ...).
func (c *conn) onCreateStream(cmd *command) error {
	if !c.connected {
		return protocolErrorf("createStream before connect")
	}
	if c.streams >= maxStreamsPerConn {
		return protocolErrorf("createStream: %d streams exceed limit %d", c.streams+1, maxStreamsPerConn)
	}
	c.streams++
	return c.send(csidCommand, resultMessage(cmd.TxnID, float64(c.streams)))
}

// validStream reports whether msid was created on this connection.
func (c *conn) validStream(msid uint32) bool { return msid >= 1 && msid <= c.streams }

// endStream handles deleteStream/closeStream for msid: it ends the publish
// or play on that stream.
func (c *conn) endStream(msid uint32) error {
	if c.pub != nil && msid == c.pubStreamID {
		c.endPublish()
	}
	if c.reader != nil && msid == c.playStreamID {
		return c.endPlay()
	}
	return nil
}
