package rtmp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/batch"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// recordConn is a net.Conn that keeps every byte written.
type recordConn struct {
	net.Conn
	buf bytes.Buffer
}

func (c *recordConn) Write(b []byte) (int, error)      { return c.buf.Write(b) }
func (c *recordConn) SetWriteDeadline(time.Time) error { return nil }

// failRecorder collects the errors a writer's fail callback gets, from any
// goroutine (AfterEnd runs it in its own).
type failRecorder struct {
	mu   sync.Mutex
	errs []error
	ch   chan error
}

func newFailRecorder() *failRecorder { return &failRecorder{ch: make(chan error, 8)} }

func (f *failRecorder) fail(err error) {
	f.mu.Lock()
	f.errs = append(f.errs, err)
	f.mu.Unlock()
	f.ch <- err
}

// playHub returns a hub with a live stream "live/w" carrying the
// generator's headers, its publisher, and a reader subscribed after them.
func playHub(t *testing.T, hcfg hub.Config, gen *mediatest.Generator) (*hub.Hub, *hub.Publisher, *hub.Reader) {
	t.Helper()
	h := hub.New(hcfg)
	t.Cleanup(h.Close)
	pub, err := h.Publish("live/w", hub.PublisherInfo{})
	require.NoError(t, err)
	for _, p := range gen.Headers() {
		require.NoError(t, pub.WritePacket(p))
	}
	r, err := h.Subscribe("live/w", hub.ReaderInfo{})
	require.NoError(t, err)
	return h, pub, r
}

// waitReady waits for the reader's wake-up, as the writer's select does.
func waitReady(t *testing.T, r *hub.Reader) {
	t.Helper()
	select {
	case <-r.Ready():
	case <-time.After(testTimeout):
		t.Fatal("reader never became ready")
	}
}

// readMessages parses the chunk stream a writer produced at chunkSize.
func readMessages(t *testing.T, b []byte, chunkSize int) []*Message {
	t.Helper()
	cr := NewChunkReader(bufio.NewReader(bytes.NewReader(b)), 0)
	cr.chunkSize = chunkSize
	var out []*Message
	for {
		m, err := cr.ReadMessage()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, m)
	}
}

// Everything the reader has queued when Ready fires leaves in one write:
// metadata, sequence headers and the media up to the flush point, framed
// with the shared chunk headers.
func TestWriterDrainsReaderInOneWrite(t *testing.T) {
	gen := newGen()
	_, pub, r := playHub(t, hub.Config{}, gen)
	sent := gen.Packets(8) // a few video frames and their audio
	for _, p := range sent {
		require.NoError(t, pub.WritePacket(p))
	}

	nc := &recordConn{}
	fails := newFailRecorder()
	w := newConnWriter(nc, time.Second, DefaultOutChunkSize, func(error) {}, fails.fail, func(error) {})
	w.cw.SetChunkSize(DefaultOutChunkSize)
	w.startPlay(r, 1, nil, nil)
	defer w.stopPlay()

	waitReady(t, r)
	require.NoError(t, w.drainPlay())
	require.NoError(t, w.flush())
	require.EqualValues(t, 1, w.flushes, "one writev per wake-up")
	require.Zero(t, r.Stats().Queued)

	msgs := readMessages(t, nc.buf.Bytes(), DefaultOutChunkSize)
	want := append(gen.Headers(), sent...)
	require.Len(t, msgs, len(want))
	for i, m := range msgs {
		require.Equal(t, want[i].Data, m.Payload, "message %d", i)
		require.EqualValues(t, 1, m.StreamID)
	}
	require.Empty(t, fails.errs)
}

// A join replays the GOP cache at once: more than one batch holds, so the
// writer writes it in several writes of at most batch.MaxBufs slices, still
// draining the reader completely on one wake-up.
func TestWriterDrainsLargeBacklogInBatches(t *testing.T) {
	gen := newGen()
	_, pub, r := playHub(t, hub.Config{}, gen)
	sent := gen.Packets(300)
	for _, p := range sent {
		require.NoError(t, pub.WritePacket(p))
	}
	nc := &recordConn{}
	w := newConnWriter(nc, time.Second, DefaultOutChunkSize, func(error) {}, func(error) {}, func(error) {})
	w.cw.SetChunkSize(DefaultOutChunkSize)
	w.startPlay(r, 1, nil, nil)
	defer w.stopPlay()

	waitReady(t, r)
	require.NoError(t, w.drainPlay())
	require.NoError(t, w.flush())
	require.Zero(t, r.Stats().Queued)
	require.Greater(t, w.flushes, uint64(1))
	require.LessOrEqual(t, cap(w.bw.Batch().Bufs), batch.MaxBufs+1, "batch buffer stays bounded")

	msgs := readMessages(t, nc.buf.Bytes(), DefaultOutChunkSize)
	want := append(gen.Headers(), sent...)
	require.Len(t, msgs, len(want))
	for i, m := range msgs {
		require.Equal(t, want[i].Data, m.Payload, "message %d", i)
	}
}

// The end of the stream is written after the packets still queued:
// StreamEOF and Play.UnpublishNotify, then ErrStreamEnded. It is not a
// failure: the AfterEnd callback leaves io.EOF to the writer.
func TestWriterPlayEOFAfterQueuedPackets(t *testing.T) {
	gen := newGen()
	_, pub, r := playHub(t, hub.Config{}, gen)
	sent := gen.Packets(4)
	for _, p := range sent {
		require.NoError(t, pub.WritePacket(p))
	}
	pub.Close() // ReconnectGrace 0: the stream ends now
	select {
	case <-r.Done():
	case <-time.After(testTimeout):
		t.Fatal("reader did not end")
	}

	nc := &recordConn{}
	fails := newFailRecorder()
	w := newConnWriter(nc, time.Second, DefaultOutChunkSize, func(error) {}, fails.fail, func(error) {})
	w.cw.SetChunkSize(DefaultOutChunkSize)
	w.startPlay(r, 1, nil, nil)
	defer w.stopPlay()

	require.ErrorIs(t, w.drainPlay(), ErrStreamEnded)
	require.NoError(t, w.flush())
	msgs := readMessages(t, nc.buf.Bytes(), DefaultOutChunkSize)
	n := len(gen.Headers()) + len(sent)
	require.Len(t, msgs, n+2)
	require.Equal(t, sent[len(sent)-1].Data, msgs[n-1].Payload)
	require.Equal(t, TypeUserControl, msgs[n].TypeID)
	require.Equal(t, TypeCommandAMF0, msgs[n+1].TypeID)
	require.Contains(t, string(msgs[n+1].Payload), codePlayUnpublish)

	// The AfterEnd callback ran (the reader had ended) and did nothing.
	select {
	case err := <-fails.ch:
		t.Fatalf("end of stream failed the connection: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
}

// A reader ended from outside (evicted or kicked) fails the connection
// through AfterEnd, without the writer looking at Ready: a writer blocked
// on a stalled socket is cut off at once. Stopping the play ourselves does
// not, and leaves no goroutine behind.
func TestWriterPlayEndedFromOutside(t *testing.T) {
	t.Run("kicked", func(t *testing.T) {
		h, _, r := playHub(t, hub.Config{}, newGen())
		fails := newFailRecorder()
		w := newConnWriter(&recordConn{}, time.Second, DefaultOutChunkSize, func(error) {}, fails.fail, func(error) {})
		w.startPlay(r, 1, nil, nil)
		defer w.stopPlay()
		require.True(t, h.KickReader(r.ID()))
		select {
		case err := <-fails.ch:
			require.ErrorIs(t, err, hub.ErrClosed)
			require.Contains(t, err.Error(), `play "live/w"`)
		case <-time.After(testTimeout):
			t.Fatal("kick did not fail the connection")
		}
	})
	t.Run("evicted", func(t *testing.T) {
		gen := mediatest.New(mediatest.Config{NoAudio: true, GOP: 1})
		h, pub, r := playHub(t, hub.Config{QueueSize: 4, MaxOverflows: 1}, gen)
		fails := newFailRecorder()
		w := newConnWriter(&recordConn{}, time.Second, DefaultOutChunkSize, func(error) {}, fails.fail, func(error) {})
		w.startPlay(r, 1, nil, nil)
		defer w.stopPlay()
		// Nobody drains the reader: it overflows and is evicted.
		for i := 0; ; i++ {
			require.NoError(t, pub.WritePacket(gen.Next()))
			if info, _ := h.Stream("live/w"); info.Evicted > 0 {
				break
			}
			require.Less(t, i, 100, "reader never evicted")
		}
		select {
		case err := <-fails.ch:
			require.ErrorIs(t, err, hub.ErrSlowReader)
		case <-time.After(testTimeout):
			t.Fatal("eviction did not fail the connection")
		}
	})
	t.Run("stopped", func(t *testing.T) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		_, _, r := playHub(t, hub.Config{}, newGen())
		fails := newFailRecorder()
		w := newConnWriter(&recordConn{}, time.Second, DefaultOutChunkSize, func(error) {}, fails.fail, func(error) {})
		w.startPlay(r, 1, nil, nil)
		w.stopPlay()
		require.ErrorIs(t, r.Err(), hub.ErrClosed)
		require.Nil(t, w.play)
		select {
		case err := <-fails.ch:
			t.Fatalf("our own stop failed the connection: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	})
}

// publishUntil publishes 64 KiB keyframes to a player that never reads
// until done reports true (checked after each packet) or testTimeout.
func publishUntil(t *testing.T, pub *ClientConn, done func() bool) {
	t.Helper()
	gen := mediatest.New(mediatest.Config{NoAudio: true, GOP: 1, KeySize: 64 << 10})
	deadline := time.Now().Add(testTimeout)
	for !done() {
		require.NoError(t, pub.WritePacket(gen.Next()))
		require.True(t, time.Now().Before(deadline), "condition never met")
	}
}

// A player that stops reading while its writer is blocked on the socket is
// closed as soon as the hub evicts it, not at the write deadline (a minute
// here): AfterEnd closes the socket under the blocked write.
func TestEvictedPlayerClosedWhileWriteBlocked(t *testing.T) {
	env := startServer(t, ServerConfig{WriteTimeout: time.Minute}, hub.Config{QueueSize: 16, MaxOverflows: 1})
	pub := env.publisher(t, "cam1")
	env.player(t, "cam1") // never reads
	publishUntil(t, pub, func() bool {
		info, ok := env.hub.Stream("live/cam1")
		return ok && info.Evicted > 0
	})
	start := time.Now()
	line := env.logs.waitClosed(t, "stream=live/cam1", "reader evicted")
	require.Contains(t, line, "level=WARN")
	require.Less(t, time.Since(start), testTimeout)
	env.requireServes(t)
}

// A stalled player the hub never evicts (its overflows are too far apart)
// is still cut by the write deadline, although the writer re-arms it only
// every WriteTimeout/4.
func TestStalledPlayerCutByWriteDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	env := startServer(t, ServerConfig{WriteTimeout: timeout},
		hub.Config{QueueSize: 16, MaxOverflows: hub.MaxOverflowsLimit, OverflowWindow: time.Nanosecond})
	pub := env.publisher(t, "cam1")
	env.player(t, "cam1") // never reads
	var line string
	publishUntil(t, pub, func() bool {
		l, ok := env.logs.pollClosed("i/o timeout")
		line = l
		return ok
	})
	require.Contains(t, line, "stream=live/cam1")
	require.Contains(t, line, "level=WARN")
	info, _ := env.hub.Stream("live/cam1")
	require.Zero(t, info.Evicted)
	env.requireServes(t)
}

// BenchmarkWriterDrain is the per-player cost of one packet through the
// play path: the hub wakes 100 playing writers, each drains its reader and
// writes one batch. Packets are reused, so the shared chunk headers are
// built once per pool entry: allocs/op must be 0, also at the smallest
// chunk size (128: a keyframe takes ~100 slices, more than a batch).
func BenchmarkWriterDrain(b *testing.B) {
	for _, cs := range []int{DefaultOutChunkSize, DefaultChunkSize} {
		b.Run(fmt.Sprintf("chunk=%d", cs), func(b *testing.B) { benchWriterDrain(b, cs) })
	}
}

func benchWriterDrain(b *testing.B, chunkSize int) {
	const players = 100
	h := hub.New(hub.Config{MaxOverflows: hub.MaxOverflowsLimit})
	defer h.Close()
	pub, err := h.Publish("live/bench", hub.PublisherInfo{})
	if err != nil {
		b.Fatal(err)
	}
	gen := newGen()
	for _, p := range gen.Headers() {
		if err := pub.WritePacket(p); err != nil {
			b.Fatal(err)
		}
	}
	ws := make([]*writer, players)
	for i := range ws {
		r, err := h.Subscribe("live/bench", hub.ReaderInfo{})
		if err != nil {
			b.Fatal(err)
		}
		ws[i] = newConnWriter(discardConn{}, time.Minute, chunkSize, func(error) {}, func(error) {}, func(error) {})
		ws[i].cw.SetChunkSize(chunkSize)
		ws[i].bw = unbuffered(ws[i])
		ws[i].startPlay(r, 1, nil, nil)
	}
	defer func() {
		for _, w := range ws {
			w.stopPlay()
		}
	}()
	const poolSize = 1024
	pool := gen.Packets(poolSize)
	wires := make([]int64, poolSize)
	for i, p := range pool {
		wires[i] = p.DTS
	}
	cycle := wires[poolSize-1] + 23
	drain := func() {
		for _, w := range ws {
			if err := w.drainPlay(); err != nil {
				b.Fatal(err)
			}
			if err := w.flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	step := func(i int) {
		p := pool[i%poolSize]
		p.DTS = int64(uint32(wires[i%poolSize] + int64(i/poolSize)*cycle))
		if err := pub.WritePacket(p); err != nil {
			b.Fatal(err)
		}
		drain()
	}
	drain() // headers
	for i := range poolSize {
		step(i) // builds each pool packet's shared headers once
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := poolSize; b.Loop(); i++ {
		step(i)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*players), "ns/player-packet")
}

// A shared chunked message is one slice: a large keyframe joins the batch
// in progress instead of having it written first for the 2n+1 slices a
// message framed by this connection alone would take.
func TestSharedMessageNeedsOneSlice(t *testing.T) {
	w := newConnWriter(&recordConn{}, time.Second, DefaultChunkSize, func(error) {}, func(error) {}, func(error) {})
	w.cw.SetChunkSize(DefaultChunkSize) // 128: a 100 KB frame is 800 chunks
	for i := range batch.MaxBufs - 2 {
		require.NoError(t, w.addPacket(&av.Packet{Kind: av.KindAudio, DTS: int64(i), Data: make([]byte, 10)}, 1))
	}
	key := &av.Packet{Kind: av.KindVideo, Keyframe: true, DTS: 40, Data: make([]byte, 100<<10)}
	require.NoError(t, w.addPacket(key, 1))
	require.Zero(t, w.flushes, "the keyframe joined the batch")
	require.Len(t, w.bw.Batch().Bufs, batch.MaxBufs-1)

	// Framed by this connection alone (another stream id), it does not fit.
	require.NoError(t, w.addPacket(key, 2))
	require.EqualValues(t, 1, w.flushes, "the batch was written first")
}
