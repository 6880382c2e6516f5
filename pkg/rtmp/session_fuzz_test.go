package rtmp

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ripplemedia/ripple/pkg/amf0"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// encodeMsgs packs messages for FuzzConnHandle: type, stream id, 16-bit
// length, payload.
func encodeMsgs(msgs ...*Message) []byte {
	var b []byte
	for _, m := range msgs {
		b = append(b, m.TypeID, byte(m.StreamID))
		b = binary.BigEndian.AppendUint16(b, uint16(len(m.Payload)))
		b = append(b, m.Payload...)
	}
	return b
}

func decodeMsgs(b []byte) []*Message {
	var msgs []*Message
	for len(b) >= 4 {
		n := int(binary.BigEndian.Uint16(b[2:]))
		m := &Message{TypeID: b[0], StreamID: uint32(b[1])}
		b = b[4:]
		n = min(n, len(b))
		m.Payload = append([]byte(nil), b[:n]...)
		b = b[n:]
		msgs = append(msgs, m)
	}
	return msgs
}

func sessionSeeds(t testing.TB) [][]byte {
	cmd := func(msid uint32, vals ...any) *Message {
		return &Message{TypeID: TypeCommandAMF0, StreamID: msid, Payload: mustAMF(t, vals...)}
	}
	connect := cmd(0, "connect", 1.0, amf0.Object{{Key: "app", Value: "live"}})
	create := cmd(0, "createStream", 2.0, nil)
	gen := newGen()
	var media []*Message
	for _, p := range append(gen.Headers(), gen.Packets(6)...) {
		_, typ := mediaCSID(p.Kind)
		media = append(media, &Message{TypeID: typ, StreamID: 1, Timestamp: uint32(p.DTS), Payload: p.Data})
	}
	pub := append([]*Message{connect, create, cmd(1, "publish", 3.0, nil, "fz", "live")}, media...)
	// A multitrack publish: track 1 in messages of its own (OneTrack),
	// then tracks 0 and 1 in one message (ManyTracks).
	multi := append([]*Message(nil), pub...)
	for _, p := range append(gen.Headers()[1:2], gen.Packets(4)...) {
		if p.Kind != av.KindVideo {
			continue
		}
		p1 := p.Fork()
		p1.Track = 1
		one, err := flv.AppendMultitrack(nil, p1)
		if err != nil {
			t.Fatal(err)
		}
		both, err := flv.AppendMultitrack(nil, p, p1)
		if err != nil {
			t.Fatal(err)
		}
		multi = append(multi, &Message{TypeID: TypeVideo, StreamID: 1, Payload: one},
			&Message{TypeID: TypeVideo, StreamID: 1, Payload: both})
	}
	return [][]byte{
		encodeMsgs(multi...),
		encodeMsgs(append(multi, cmd(0, "FCUnpublish", 4.0, nil, "fz"))...),
		encodeMsgs(connect),
		encodeMsgs(pub...),
		encodeMsgs(append(pub, cmd(0, "FCUnpublish", 4.0, nil, "fz"), cmd(0, "deleteStream", 0.0, nil, 1.0))...),
		encodeMsgs(connect, create, cmd(1, "play", 3.0, nil, "fz", -2000.0), cmd(0, "deleteStream", 0.0, nil, 1.0)),
		encodeMsgs(connect, create, cmd(1, "play", 3.0, nil, "../x")),
		encodeMsgs(connect, &Message{TypeID: TypeUserControl, Payload: []byte{0, 6, 1, 2, 3, 4}},
			&Message{TypeID: TypeWindowAckSize, Payload: []byte{0, 0, 0x10, 0}}),
		encodeMsgs(connect, create, &Message{TypeID: TypeAggregate, StreamID: 1, Payload: []byte{9, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x17, 0, 0, 0, 12}}),
		encodeMsgs(&Message{TypeID: TypeCommandAMF3, Payload: append([]byte{0}, connect.Payload...)}),
	}
}

// FuzzConnHandle drives a server session's message handling (commands,
// control, publish, play, aggregates) with arbitrary messages against a
// real hub: whatever arrives, the session must return an error or keep
// going, never panic or hang, and release what it took from the hub.
func FuzzConnHandle(f *testing.F) {
	for _, s := range sessionSeeds(f) {
		f.Add(s)
	}
	h := hub.New(hub.Config{})
	defer h.Close()
	srv := NewServer(ServerConfig{PlayWait: time.Millisecond, WriteTimeout: time.Second}, h)
	defer srv.Close()
	f.Fuzz(func(t *testing.T, in []byte) {
		local, remote := net.Pipe()
		drained := make(chan struct{})
		go func() {
			_, _ = io.Copy(io.Discard, remote)
			close(drained)
		}()
		c := newConn(srv, local, 1)
		go c.w.run(c.ctx)
		for _, m := range decodeMsgs(in) {
			if err := c.handle(m); err != nil || c.closing {
				break
			}
		}
		c.kill(errWriterClosed)
		<-c.w.done
		c.releaseMedia()
		remote.Close()
		<-drained
		for _, key := range []string{"live/fz", "live/fz_t1"} {
			if _, live := h.Stream(key); live {
				t.Fatalf("stream %s still live after the session ended", key)
			}
		}
	})
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"rtmp://h/live", "rtmp://h:1935/a/b?c=d", "rtmp://[::1]/x", "rtmp:///x", "http://h/x", "rtmp://h/a/b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseURL(raw)
		if err != nil {
			return
		}
		if u.Host == "" || u.App == "" {
			t.Fatalf("ParseURL(%q) = %+v without error", raw, u)
		}
		if _, err := ParseURL(u.TCURL()); err != nil {
			t.Fatalf("tcUrl %q of %q does not parse: %v", u.TCURL(), raw, err)
		}
		_, _, _ = SplitStreamURL(raw)
	})
}
