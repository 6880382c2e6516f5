package httpflv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/batch"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// benchBatch returns one second of A+V packets (30 video frames, ~43 AAC
// frames), the batch shape a player sees when it keeps up.
func benchBatch() []*av.Packet {
	g := mediatest.New(mediatest.Config{FPS: 30, GOP: 30})
	var out []*av.Packet
	for {
		pk := g.Next()
		if pk.DTS >= 1000 {
			return out
		}
		out = append(out, pk)
	}
}

func tagBytes(pkts []*av.Packet) int {
	n := 0
	for _, pk := range pkts {
		n += 15 + len(pk.Data)
	}
	return n
}

// drain reads everything from r until it fails.
func drain(r io.Reader, done chan<- struct{}) {
	_, _ = io.Copy(io.Discard, r)
	close(done)
}

// BenchmarkChunkedWriter measures the player's HTTP write path alone: one
// second of A+V as one chunk through writev on loopback TCP. Expect 0
// allocs/op.
func BenchmarkChunkedWriter(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(b, err)
	server, err := ln.Accept()
	require.NoError(b, err)
	done := make(chan struct{})
	go drain(client, done)

	// The writer reports its bytes to the player's hub reader: give it a
	// real one (it is never read here).
	hb := hub.New(hub.Config{})
	defer hb.Close()
	pub, err := hb.Publish("live/bench", hub.PublisherInfo{})
	require.NoError(b, err)
	defer pub.Close()
	r, err := hb.Subscribe("live/bench", hub.ReaderInfo{Protocol: "http-flv"})
	require.NoError(b, err)
	defer r.Close()

	pkts := benchBatch()
	w := batch.NewWriter(batch.NewOut(server, time.Minute, 0), &chunkedFraming{chunked: true}, chunkedReserved)
	w.SetSource(batch.NewSource(r, nil))
	p := &player{reader: r, w: w, hasAudio: true, hasVideo: true, started: true}
	b.SetBytes(int64(tagBytes(pkts)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.writeBatch(pkts); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	require.NoError(b, server.Close())
	<-done
	require.NoError(b, client.Close())
}

// BenchmarkWSFraming compares ways to carry one batch (1 s of A+V) with
// coder/websocket as the server: one message per batch (the batch copied
// into a player buffer, what wsWriter did before it framed batches itself;
// compare BenchmarkWSWriter), one message per tag (each tag copied), and
// one streamed message per batch through Conn.Writer (no copy by us, but a
// frame per slice: three per tag).
func BenchmarkWSFraming(b *testing.B) {
	pkts := benchBatch()
	variants := []struct {
		name  string
		write func(ctx context.Context, c *websocket.Conn, buf *[]byte) error
	}{
		{"message-per-batch", func(ctx context.Context, c *websocket.Conn, buf *[]byte) error {
			bb := (*buf)[:0]
			for _, pk := range pkts {
				hdr, tr := flv.TagParts(pk)
				bb = append(append(append(bb, hdr...), pk.Data...), tr...)
			}
			*buf = bb
			return c.Write(ctx, websocket.MessageBinary, bb)
		}},
		{"message-per-tag", func(ctx context.Context, c *websocket.Conn, buf *[]byte) error {
			for _, pk := range pkts {
				hdr, tr := flv.TagParts(pk)
				bb := append(append(append((*buf)[:0], hdr...), pk.Data...), tr...)
				*buf = bb
				if err := c.Write(ctx, websocket.MessageBinary, bb); err != nil {
					return err
				}
			}
			return nil
		}},
		{"streamed-frames-per-batch", func(ctx context.Context, c *websocket.Conn, _ *[]byte) error {
			w, err := c.Writer(ctx, websocket.MessageBinary)
			if err != nil {
				return err
			}
			for _, pk := range pkts {
				hdr, tr := flv.TagParts(pk)
				for _, s := range [][]byte{hdr, pk.Data, tr} {
					if _, err := w.Write(s); err != nil {
						return err
					}
				}
			}
			return w.Close()
		}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			conns := make(chan *websocket.Conn, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := websocket.Accept(w, r, nil)
				if err != nil {
					return
				}
				conns <- c
			}))
			defer srv.Close()
			ctx := context.Background()
			client, _, err := websocket.Dial(ctx, "ws"+srv.URL[4:], nil)
			require.NoError(b, err)
			client.SetReadLimit(-1)
			server := <-conns
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					_, r, err := client.Reader(ctx)
					if err != nil {
						return
					}
					if _, err := io.Copy(io.Discard, r); err != nil {
						return
					}
				}
			}()
			var buf []byte
			b.SetBytes(int64(tagBytes(pkts)))
			b.ReportAllocs()
			for b.Loop() {
				if err := v.write(ctx, server, &buf); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			require.NoError(b, server.CloseNow())
			<-done
			require.NoError(b, client.CloseNow())
		})
	}
}

// BenchmarkServeFLV publishes one second of A+V per op to N HTTP-FLV
// players on loopback and waits until every player has received it: the
// whole path (hub fan-out, player goroutines, writev, client reads).
func BenchmarkServeFLV(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("players=%d", n), func(b *testing.B) {
			benchServe(b, n, false)
		})
	}
	b.Run("ws/players=10", func(b *testing.B) { benchServe(b, 10, true) })
}

func benchServe(b *testing.B, players int, ws bool) {
	hb := hub.New(hub.Config{QueueSize: 4096})
	h := NewHandler(Config{}, hb)
	srv := httptest.NewServer(h)
	defer func() {
		srv.Close()
		h.Close()
		hb.Close()
	}()
	pub, err := hb.Publish("live/bench", hub.PublisherInfo{})
	require.NoError(b, err)
	defer pub.Close()
	g := mediatest.New(mediatest.Config{FPS: 30, GOP: 30})
	for _, pk := range g.Headers() {
		require.NoError(b, pub.WritePacket(pk))
	}
	// The bodies of one second, reused (each op publishes fresh packets
	// sharing these bytes, as if each had been copied once at ingest).
	shape := benchBatch()
	perOp := int64(tagBytes(shape))

	type client struct {
		want    chan int64
		reached chan struct{}
	}
	clients := make([]client, players)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, players)
	for i := range clients {
		c := client{want: make(chan int64, 1), reached: make(chan struct{}, 1)}
		clients[i] = c
		var body io.Reader
		if ws {
			wc, _, err := websocket.Dial(ctx, "ws"+srv.URL[4:]+"/live/bench.flv", nil)
			require.NoError(b, err)
			defer wc.CloseNow()
			wc.SetReadLimit(-1)
			body = websocket.NetConn(ctx, wc, websocket.MessageBinary)
		} else {
			resp, err := http.Get(srv.URL + "/live/bench.flv")
			require.NoError(b, err)
			defer resp.Body.Close()
			body = resp.Body
		}
		go func() {
			buf := make([]byte, 64<<10)
			var got int64
			first := true
			for target := range c.want {
				for got < target {
					n, err := body.Read(buf)
					if first && n >= 13 {
						got -= 13 // the FLV header
						first = false
					}
					got += int64(n)
					if err != nil {
						errc <- err
						return
					}
				}
				c.reached <- struct{}{}
			}
		}()
	}
	require.Eventually(b, func() bool {
		info, _ := hb.Stream("live/bench")
		return info.Readers == players
	}, waitFor, time.Millisecond)

	// Stream headers and metadata were primed: count them too.
	var sent int64
	for _, pk := range g.Headers() {
		sent += int64(15 + len(pk.Data))
	}
	b.SetBytes(perOp * int64(players))
	b.ReportAllocs()
	dts := int64(0)
	for b.Loop() {
		for _, s := range shape {
			pk := &av.Packet{Kind: s.Kind, Codec: s.Codec, Keyframe: s.Keyframe, Header: s.Header, DTS: dts + s.DTS, Data: s.Data}
			if err := pub.WritePacket(pk); err != nil {
				b.Fatal(err)
			}
		}
		dts += 1000
		sent += perOp
		for _, c := range clients {
			c.want <- sent
		}
		for _, c := range clients {
			select {
			case <-c.reached:
			case err := <-errc:
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	for _, c := range clients {
		close(c.want)
	}
}
