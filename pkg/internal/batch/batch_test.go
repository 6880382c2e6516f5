package batch

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const waitFor = 5 * time.Second

func TestBatchLimits(t *testing.T) {
	b := Batch{Reserved: 2}
	require.True(t, b.Empty())
	require.True(t, b.Room(10_000), "an empty batch takes anything: a huge packet goes alone")
	require.Equal(t, 2, b.Open(), "the reserved slots come first")
	for i := range MaxBufs - 1 {
		b.Add([]byte{byte(i)})
		require.False(t, b.Full(), "slice %d", i)
	}
	require.True(t, b.Room(1))
	require.False(t, b.Room(2))
	b.Add([]byte{1})
	require.True(t, b.Full(), "MaxBufs slices, the reserved ones not counted")
	require.Equal(t, MaxBufs, b.Payload)
	b.Reset()
	require.True(t, b.Empty())
	require.Zero(t, b.Payload)

	b.Add(make([]byte, MaxBytes))
	require.True(t, b.Full(), "MaxBytes")
	b.Reset()

	from := b.Open()
	for range KeepBufs + 1 {
		b.Bufs = append(b.Bufs, []byte{1, 2})
	}
	b.Counted(from)
	require.Equal(t, 2*(KeepBufs+1), b.Payload)
	b.Reset()
	require.Nil(t, b.Bufs, "a huge slice list is not kept")
}

// flushWriter records each slice written and each Flush.
type flushWriter struct {
	writes  [][]byte
	flushes int
}

func (w *flushWriter) Write(b []byte) (int, error) {
	w.writes = append(w.writes, b)
	return len(b), nil
}

func (w *flushWriter) Flush() error {
	w.flushes++
	return nil
}

// Without writev and without a buffer, each slice goes to the writer as
// it is (no copy) and its Flush follows each batch; empty slices (unfilled
// reserved slots) are skipped.
func TestOutDirect(t *testing.T) {
	fw := &flushWriter{}
	o := NewOut(fw, 0, 0)
	a, b := []byte("abc"), []byte("de")
	n, err := o.Write(net.Buffers{nil, a, b})
	require.NoError(t, err)
	require.EqualValues(t, 5, n)
	require.Len(t, fw.writes, 2)
	require.Same(t, &a[0], &fw.writes[0][0], "the slice itself, not a copy")
	require.Equal(t, 1, fw.flushes)
}

// With a buffer, a batch reaches the writer coalesced (TLS: one record
// instead of one per slice).
func TestOutBuffered(t *testing.T) {
	fw := &flushWriter{}
	o := NewOut(fw, 0, 1024)
	_, err := o.Write(net.Buffers{[]byte("abc"), []byte("de")})
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte("abcde")}, fw.writes)
}

// deadlineConn records write deadlines.
type deadlineConn struct {
	net.Conn
	deadline time.Time
	sets     int
}

func (c *deadlineConn) Write(b []byte) (int, error) { return len(b), nil }
func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.deadline, c.sets = t, c.sets+1
	return nil
}

// The write deadline moves only when less than the timeout is left, and
// always leaves at least the timeout to a write.
func TestOutArmsDeadlineRarely(t *testing.T) {
	c := &deadlineConn{}
	o := NewOut(c, time.Minute, 0)
	for range 100 {
		_, err := o.Write(net.Buffers{[]byte{1}})
		require.NoError(t, err)
		require.GreaterOrEqual(t, time.Until(c.deadline), time.Minute-time.Second)
	}
	require.Equal(t, 1, c.sets, "re-armed once per timeout/4 (netx.WriteDeadline), not per write")
}

// A final control message stops the output: later batches fail with
// ErrStopped and later control messages are dropped (RFC 6455 §5.5.1: no
// frame after a close frame).
func TestOutStop(t *testing.T) {
	fw := &flushWriter{}
	o := NewOut(fw, 0, 0)
	require.NoError(t, o.WriteControl([]byte("ping"), false))
	_, err := o.Write(net.Buffers{[]byte("media")})
	require.NoError(t, err)
	require.NoError(t, o.WriteControl([]byte("close"), true))
	_, err = o.Write(net.Buffers{[]byte("late")})
	require.ErrorIs(t, err, ErrStopped)
	require.NoError(t, o.WriteControl([]byte("pong"), false))
	require.Equal(t, [][]byte{[]byte("ping"), []byte("media"), []byte("close")}, fw.writes)
}

// On TCP a batch is one writev: every byte arrives, in order.
func TestOutTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	server, err := ln.Accept()
	require.NoError(t, err)
	o := NewOut(server, time.Minute, 1024)
	require.True(t, o.vec, "writev on TCP, no buffer")
	var want []byte
	var bufs net.Buffers
	for i := range 50 {
		p := bytes.Repeat([]byte{byte(i)}, 1000+i)
		want = append(want, p...)
		bufs = append(bufs, p)
	}
	n, err := o.Write(bufs)
	require.NoError(t, err)
	require.EqualValues(t, len(want), n)
	require.Len(t, bufs, 50, "the caller's list is not consumed")
	require.NoError(t, server.Close())
	got, err := io.ReadAll(client)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

// testFraming fills its one reserved slot with the batch's payload size
// and counts its calls.
type testFraming struct {
	sealed, written int
	hdr             [1]byte
}

func (f *testFraming) Seal(b *Batch) {
	f.sealed++
	if b.Payload > 0 {
		f.hdr[0] = byte(b.Payload)
		b.Bufs[0] = f.hdr[:]
	}
}

func (f *testFraming) Written() { f.written++ }

func TestWriterFraming(t *testing.T) {
	fw := &flushWriter{}
	f := &testFraming{}
	w := NewWriter(NewOut(fw, 0, 0), f, 1)
	require.NoError(t, w.Flush(), "nothing added: nothing written")
	require.Zero(t, f.sealed)
	require.NoError(t, w.Push(), "Push seals and writes even an empty batch")
	require.Equal(t, 1, f.sealed)
	require.Empty(t, fw.writes)

	require.NoError(t, w.Add([]byte("ab")))
	require.NoError(t, w.Add([]byte("c")))
	require.NoError(t, w.Flush())
	require.Equal(t, [][]byte{{3}, []byte("ab"), []byte("c")}, fw.writes)
	require.Equal(t, 2, f.written)
	require.EqualValues(t, 4, w.Sent(), "framing included")

	// Add writes a full batch on its own.
	fw.writes = nil
	for range MaxBufs {
		require.NoError(t, w.Add([]byte{0}))
	}
	require.Len(t, fw.writes, MaxBufs+1, "written when full, with its header")
	require.True(t, w.Batch().Empty())
}

// hubStream publishes packets to a fresh stream with one reader.
func hubStream(t *testing.T, cfg hub.Config) (*hub.Publisher, *hub.Reader, *mediatest.Generator) {
	t.Helper()
	_, pub, r, gen := hubStreamOf(t, cfg)
	return pub, r, gen
}

func hubStreamOf(t *testing.T, cfg hub.Config) (*hub.Hub, *hub.Publisher, *hub.Reader, *mediatest.Generator) {
	t.Helper()
	h := hub.New(cfg)
	t.Cleanup(h.Close)
	pub, err := h.Publish("live/x", hub.PublisherInfo{})
	require.NoError(t, err)
	r, err := h.Subscribe("live/x", hub.ReaderInfo{Protocol: "test"})
	require.NoError(t, err)
	t.Cleanup(r.Close)
	return h, pub, r, mediatest.New(mediatest.Config{FPS: 30, GOP: 30})
}

// framed collects what Drain hands over.
type framed struct {
	pkts []*av.Packet
	fail error
}

func (f *framed) Frame(p *av.Packet) error {
	f.pkts = append(f.pkts, p)
	return f.fail
}

func waitReady(t *testing.T, s *Source) {
	t.Helper()
	select {
	case <-s.Ready():
	case <-time.After(waitFor):
		t.Fatal("reader never woken")
	}
}

// Drain hands over everything queued, across several TryReads, in order,
// and reports the end of the stream only after the packets before it.
func TestSourceDrain(t *testing.T) {
	pub, r, gen := hubStream(t, hub.Config{})
	s := NewSource(r, func(err error) { t.Errorf("kicked: %v", err) })
	var sent []*av.Packet
	for range 3*ReadPackets + 5 {
		p := gen.Next()
		sent = append(sent, p)
		require.NoError(t, pub.WritePacket(p))
	}
	waitReady(t, s)
	f := &framed{}
	require.NoError(t, s.Drain(f), "queue empty: nil")
	require.Len(t, f.pkts, len(sent))
	for i := range sent {
		require.Same(t, sent[i], f.pkts[i], "packet %d: the hub's shared packet, in order", i)
	}

	last := gen.Next()
	require.NoError(t, pub.WritePacket(last))
	pub.Close()
	f.pkts = nil
	require.ErrorIs(t, s.Drain(f), io.EOF)
	require.Equal(t, []*av.Packet{last}, f.pkts, "the packets queued before the end come first")
	s.Close()
}

// A framing error stops the drain at once.
func TestSourceDrainFrameError(t *testing.T) {
	pub, r, gen := hubStream(t, hub.Config{})
	s := NewSource(r, nil)
	defer s.Close()
	for range 5 {
		require.NoError(t, pub.WritePacket(gen.Next()))
	}
	waitReady(t, s)
	boom := errors.New("boom")
	f := &framed{fail: boom}
	require.ErrorIs(t, s.Drain(f), boom)
	require.Len(t, f.pkts, 1)
}

// An evicted reader kicks at once (the writer may be blocked on a stalled
// socket and never look at Ready); the writer's own Close does not.
func TestSourceKick(t *testing.T) {
	pub, r, gen := hubStream(t, hub.Config{QueueSize: 16, MaxOverflows: 1})
	kicked := make(chan error, 1)
	s := NewSource(r, func(err error) { kicked <- err })
	defer s.Close()
	for range 200 {
		require.NoError(t, pub.WritePacket(gen.Next()))
	}
	select {
	case err := <-kicked:
		require.ErrorIs(t, err, hub.ErrSlowReader)
	case <-time.After(waitFor):
		t.Fatal("an evicted reader was not kicked")
	}

	_, r2, _ := hubStream(t, hub.Config{})
	s2 := NewSource(r2, func(err error) { t.Errorf("own Close kicked: %v", err) })
	s2.Close()
}

// The writer accounts what it writes to the source's reader, once per
// write, for the API.
func TestWriterAccountsBytes(t *testing.T) {
	h, _, r, _ := hubStreamOf(t, hub.Config{})
	w := NewWriter(NewOut(&flushWriter{}, 0, 0), nil, 0)
	w.SetSource(NewSource(r, nil))
	require.NoError(t, w.Add([]byte("hello")))
	require.NoError(t, w.Flush())
	rs := h.Readers()
	require.Len(t, rs, 1)
	require.EqualValues(t, 5, rs[0].Bytes)
	require.Same(t, r, w.Reader())
}

// 0 allocations per batch once the writer's buffers exist.
func TestWriterNoAllocs(t *testing.T) {
	w := NewWriter(NewOut(&discard{}, time.Minute, 0), &testFraming{}, 1)
	p := make([]byte, 100)
	allocs := testing.AllocsPerRun(100, func() {
		for range 10 {
			_ = w.Add(p)
		}
		_ = w.Flush()
	})
	require.Zero(t, allocs)
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// The slice list grows with the batches a player really writes: a few
// slots for a frame and its audio, at most a full batch after a join.
func TestBatchGrowsToNeed(t *testing.T) {
	b := Batch{Reserved: 2}
	for range 3 {
		b.Add([]byte{1})
	}
	b.Reset()
	require.Equal(t, 8, cap(b.Bufs), "a small batch keeps a small list")
	for !b.Full() {
		b.Add([]byte{1})
	}
	b.Bufs = append(b.Bufs, crlfForTest) // a framing's trailer
	require.LessOrEqual(t, cap(b.Bufs), b.Reserved+MaxBufs+2, "a full batch never grows the list past what it needs")
}

var crlfForTest = []byte("\r\n")
