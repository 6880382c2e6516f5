// Package pipetest is what the pipeline fuzz targets (pkg/hls, pkg/rtmp,
// pkg/httpflv) share around their outputs: the publishing side, which turns
// mediatest.PipelineTags into hub packets as RTMP ingest does and knows
// which of them the hub's ingest validator accepts, and a connection that
// keeps what a writer writes. It lives apart from mediatest because it
// imports hub, whose own tests import mediatest. Test use only.
package pipetest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/ingest"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// Publisher publishes one stream of a hub as an RTMP publisher does. The
// hub must validate with ingest.New (hub.Config.Validator) and keep the
// stream through a reconnect (hub.Config.ReconnectGrace).
type Publisher struct {
	h          *hub.Hub
	key        string
	maxMessage int
	pub        *hub.Publisher
	// shadow sees the packets the hub's validator sees, so the target
	// knows which ones the stream took.
	shadow *ingest.Validator
	// Rejected counts the packets the validator refused: the stream's
	// InvalidPackets must end equal to it.
	Rejected uint64
}

// NewPublisher publishes key on h. maxMessage plays rtmp.max_message_size:
// larger tags never reach the hub.
func NewPublisher(tb testing.TB, h *hub.Hub, key string, maxMessage int) *Publisher {
	tb.Helper()
	p := &Publisher{h: h, key: key, maxMessage: maxMessage, shadow: ingest.New()}
	p.publish(tb)
	return p
}

func (p *Publisher) publish(tb testing.TB) {
	pub, err := p.h.Publish(p.key, hub.PublisherInfo{Protocol: access.ProtoRTMP})
	if err != nil {
		tb.Helper()
		tb.Fatalf("publish %s: %v", p.key, err)
	}
	p.pub = pub
}

// Publish applies tag's reconnect event (Event bit 4: the encoder
// reconnects after a network blip; the stream goes on within the reconnect
// grace, with a fresh validator), then publishes the packet RTMP ingest
// makes of the tag. It returns that packet and whether the validator
// accepted it, or nil when ingest drops the tag before the hub (too large,
// or not a packet: the chunk reader and the FLV parser refuse and count it).
func (p *Publisher) Publish(tb testing.TB, tag mediatest.Tag) (*av.Packet, bool) {
	if tag.Event&4 != 0 {
		p.pub.Close()
		p.publish(tb)
		p.shadow = ingest.New()
	}
	if len(tag.Body) > p.maxMessage {
		return nil, false
	}
	pk, err := mediatest.IngestPacket(tag)
	if err != nil || pk == nil {
		return nil, false
	}
	return pk, p.WritePacket(tb, pk)
}

// WritePacket publishes pk and returns whether the validator accepted it.
func (p *Publisher) WritePacket(tb testing.TB, pk *av.Packet) bool {
	ok := p.shadow.Check(pk) == nil
	if !ok {
		p.Rejected++
	}
	// Compared first, reported on failure only: a require call per packet
	// (t.Helper walks the stack) would dominate an execution's time.
	if err := p.pub.WritePacket(pk); err != nil {
		tb.Helper()
		tb.Fatalf("write packet: %v", err)
	}
	return ok
}

// Close ends the publisher (the stream waits out its reconnect grace).
func (p *Publisher) Close() { p.pub.Close() }

// Conn is a connection that keeps what is written to it, for a writer
// under test. Reads return io.EOF; deadlines are accepted and ignored.
type Conn struct {
	nopConn
	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool
}

var _ net.Conn = (*Conn)(nil)

func (c *Conn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	return c.buf.Write(b)
}

// Bytes returns what was written so far; the caller must not modify it.
func (c *Conn) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Bytes()
}

// Close makes later writes fail with net.ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

// nopConn is the rest of net.Conn: nothing to read, no deadlines.
type nopConn struct{}

func (nopConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (nopConn) LocalAddr() net.Addr              { return addr{} }
func (nopConn) RemoteAddr() net.Addr             { return addr{} }
func (nopConn) SetDeadline(time.Time) error      { return nil }
func (nopConn) SetReadDeadline(time.Time) error  { return nil }
func (nopConn) SetWriteDeadline(time.Time) error { return nil }

type addr struct{}

func (addr) Network() string { return "pipe" }
func (addr) String() string  { return "pipe" }

// CheckDelivered checks what the hub gave a reader: accepted packets only
// (acceptedAt maps each to its publish index), each once; first packets
// published before the subscription (metadata, headers and GOP primed at
// subscription, joinAt being the first index after it), then live ones in
// publish order; DTS per track never back.
func CheckDelivered(tb testing.TB, name string, got []*av.Packet, joinAt int, acceptedAt map[*av.Packet]int) {
	tb.Helper()
	seen := make(map[*av.Packet]bool, len(got))
	last := joinAt - 1
	for i, pk := range got {
		idx, ok := acceptedAt[pk]
		switch {
		case !ok:
			Failf(tb, "%s: packet %d (%s) was not accepted by the validator", name, i, pk.Kind)
		case seen[pk]:
			Failf(tb, "%s: packet %d delivered twice", name, i)
		case idx < joinAt && last >= joinAt:
			Failf(tb, "%s: packet %d, published before the subscription, came after live ones", name, i)
		case idx >= joinAt && idx <= last:
			Failf(tb, "%s: live packet %d out of publish order", name, i)
		}
		seen[pk] = true
		last = max(last, idx)
	}
	require.NoError(tb, mediatest.CheckTrackDTS(got), name)
}

// MediaBytes is what a packet counts against hub.Config.QueueMaxBytes.
func MediaBytes(p *av.Packet) int {
	if p.IsMedia() && !p.Header {
		return len(p.Data)
	}
	return 0
}

// Pow2 is the hub's rounding of a queue size: the power of two >= n.
func Pow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// Failf reports a broken invariant. The checks that run per packet compare
// first and call testify only on failure: every require call walks the
// stack (t.Helper), which would dominate an execution's time.
func Failf(tb testing.TB, format string, args ...any) {
	tb.Helper()
	require.FailNow(tb, fmt.Sprintf(format, args...))
}

// NoErr is require.NoError for the per-packet paths (see Failf).
func NoErr(tb testing.TB, err error) {
	if err != nil {
		tb.Helper()
		require.NoError(tb, err)
	}
}
