package rtmp

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/amf0"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// TestConnectReply checks the messages answering connect, in order
// (docs/interop.md §3): WindowAckSize, SetPeerBandwidth (dynamic),
// SetChunkSize, then _result.
func TestConnectReply(t *testing.T) {
	env := startServer(t, ServerConfig{ChunkSize: 8192, AckWindow: 1_000_000}, hub.Config{})
	r := dialRaw(t, env.addr)
	r.handshake(t)
	r.command(t, 0, "connect", 1, amf0.Object{{Key: "app", Value: "live"}})

	m, err := r.cr.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, TypeWindowAckSize, m.TypeID)
	require.Equal(t, []byte{0, 0x0F, 0x42, 0x40}, m.Payload)
	m, err = r.cr.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, TypeSetPeerBandwidth, m.TypeID)
	require.Equal(t, []byte{0, 0x0F, 0x42, 0x40, 2}, m.Payload)
	m, err = r.cr.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, TypeSetChunkSize, m.TypeID)
	require.Equal(t, 8192, r.cr.ChunkSize())
	m, err = r.cr.ReadMessage()
	require.NoError(t, err)
	c, err := decodeCommand(m.Payload)
	require.NoError(t, err)
	require.Equal(t, "_result", c.Name)
	require.Equal(t, 1.0, c.TxnID)
	require.Equal(t, codeConnectSuccess, c.info().String("code"))
	_, ok := c.object().Get("fourCcList")
	require.False(t, ok)
}

func TestConnectEnhanced(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{})
	r := dialRaw(t, env.addr)
	r.handshake(t)
	res := r.connect(t, amf0.Property{Key: "fourCcList", Value: amf0.StrictArray{"hvc1", "av01"}})
	list, ok := res.object().Get("fourCcList")
	require.True(t, ok)
	require.Contains(t, list, "hvc1")
	require.Contains(t, list, "av01")
}

// TestAMF3Command: type 17 is a format byte followed by AMF0.
func TestAMF3Command(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{})
	r := dialRaw(t, env.addr)
	r.handshake(t)
	m, err := commandMessage(0, "connect", 1, amf0.Object{{Key: "app", Value: "live"}, {Key: "objectEncoding", Value: 3.0}})
	require.NoError(t, err)
	m.TypeID = TypeCommandAMF3
	m.Payload = append([]byte{0}, m.Payload...)
	r.send(t, csidCommand, m)
	res := r.expectCommand(t, "_result", 1)
	enc, _ := res.info().Number("objectEncoding")
	require.Equal(t, 3.0, enc)
}

// TestOptionalCommands: ffmpeg and OBS pipeline these; each gets a
// `_result` (or nothing), never a disconnect, and unknown commands are
// ignored.
func TestOptionalCommands(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{})
	r := dialRaw(t, env.addr)
	r.handshake(t)
	r.connect(t)
	r.command(t, 0, "releaseStream", 2, nil, "cam1")
	r.command(t, 0, "FCPublish", 3, nil, "cam1")
	r.command(t, 0, "someVendorThing", 4, nil, "x")
	r.command(t, 0, "_checkbw", 5, nil)
	r.command(t, 0, "getStreamLength", 6, nil, "cam1")
	r.expectCommand(t, "_result", 2)
	r.expectCommand(t, "_result", 3)
	r.expectCommand(t, "_result", 5)
	res := r.expectCommand(t, "_result", 6)
	require.Equal(t, []any{0.0}, res.Args)
	require.Equal(t, uint32(1), r.createStream(t, 7))
	require.Equal(t, uint32(2), r.createStream(t, 8))
}

// TestAckAndPing: the server acknowledges every window of received bytes
// although the publisher announced none, and answers pings.
func TestAckAndPing(t *testing.T) {
	const window = 10_000
	env := startServer(t, ServerConfig{AckWindow: window}, hub.Config{})
	r := dialRaw(t, env.addr)
	r.handshake(t)
	r.connect(t)
	r.send(t, csidControl, UserControlMessage(EventPingRequest, 0xCAFEBABE))
	m := r.expectMessage(t, TypeUserControl)
	ev, data, err := ParseUserControl(m.Payload)
	require.NoError(t, err)
	require.Equal(t, EventPingResponse, ev)
	require.Equal(t, uint32(0xCAFEBABE), binary.BigEndian.Uint32(data))

	// SetBufferLength (8 data bytes) is accepted silently.
	r.send(t, csidControl, UserControlMessage(EventSetBufferLength, 1, 3000))

	id := r.createStream(t, 2)
	r.command(t, id, "publish", 3, nil, "acked", "live")
	require.Equal(t, codePublishStart, r.expectStatus(t).String("code"))
	body := append([]byte{0x27, 1, 0, 0, 0}, bytes.Repeat([]byte{1}, 3000)...)
	for range 5 {
		r.send(t, csidVideo, &Message{TypeID: TypeVideo, StreamID: id, Payload: body})
	}
	m = r.expectMessage(t, TypeAck)
	seq := binary.BigEndian.Uint32(m.Payload)
	require.GreaterOrEqual(t, seq, uint32(window))
}

// TestAggregatePublish: an aggregate message is split into its
// sub-messages, which reach players as ordinary packets.
func TestAggregatePublish(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{})
	r := dialRaw(t, env.addr)
	r.handshake(t)
	r.connect(t)
	id := r.createStream(t, 2)
	r.command(t, id, "publish", 3, nil, "agg", "live")
	require.Equal(t, codePublishStart, r.expectStatus(t).String("code"))

	play := env.player(t, "agg")
	gen := newGen()
	pkts := append(gen.Headers(), gen.Packets(4)...)
	var agg []byte
	for _, p := range pkts {
		typ := TypeAudio
		switch p.Kind {
		case av.KindVideo:
			typ = TypeVideo
		case av.KindData:
			typ = TypeDataAMF0
		}
		ts := uint32(p.DTS)
		agg = append(agg, typ, byte(len(p.Data)>>16), byte(len(p.Data)>>8), byte(len(p.Data)),
			byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24), 0, 0, 0)
		agg = append(agg, p.Data...)
		agg = binary.BigEndian.AppendUint32(agg, uint32(11+len(p.Data)))
	}
	r.send(t, csidVideo, &Message{TypeID: TypeAggregate, StreamID: id, Payload: agg})
	for i, want := range pkts {
		got, err := play.ReadPacket()
		require.NoError(t, err)
		samePacket(t, want, got, i)
	}
}

// TestSetDataFrameMetadata: "@setDataFrame" is stripped, so players get
// "onMetaData" (mpegts.js looks only for that name); other data messages
// are not forwarded.
func TestSetDataFrameMetadata(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{})
	r := dialRaw(t, env.addr)
	r.handshake(t)
	r.connect(t)
	id := r.createStream(t, 2)
	r.command(t, id, "publish", 3, nil, "meta", "live")
	require.Equal(t, codePublishStart, r.expectStatus(t).String("code"))
	play := env.player(t, "meta")

	cue, err := amf0.Append(nil, "onCuePoint", amf0.Object{{Key: "name", Value: "x"}})
	require.NoError(t, err)
	r.send(t, csidData, &Message{TypeID: TypeDataAMF0, StreamID: id, Payload: cue})
	meta, err := amf0.Append(nil, "@setDataFrame", "onMetaData", amf0.ECMAArray{{Key: "width", Value: 640.0}})
	require.NoError(t, err)
	r.send(t, csidData, &Message{TypeID: TypeDataAMF0, StreamID: id, Payload: meta})

	p, err := play.ReadPacket()
	require.NoError(t, err)
	require.Equal(t, av.KindData, p.Kind)
	require.Equal(t, "onMetaData", dataName(p.Data))
	vals, err := amf0.DecodeAll(p.Data)
	require.NoError(t, err)
	require.Equal(t, amf0.ECMAArray{{Key: "width", Value: 640.0}}, vals[1])
}

// TestUnpublishKeepsConnection: FCUnpublish/deleteStream end the publish
// (players get EOF) without closing the publisher's connection.
func TestUnpublishKeepsConnection(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{})
	r := dialRaw(t, env.addr)
	r.handshake(t)
	r.connect(t)
	id := r.createStream(t, 2)
	r.command(t, id, "publish", 3, nil, "unpub", "live")
	require.Equal(t, codePublishStart, r.expectStatus(t).String("code"))
	play := env.player(t, "unpub")
	r.command(t, 0, "FCUnpublish", 4, nil, "unpub")
	r.command(t, 0, "deleteStream", 0, nil, float64(id))
	r.expectCommand(t, "_result", 4)
	_, err := play.ReadPacket()
	require.ErrorIs(t, err, io.EOF)
	// Still connected: a new stream can be created.
	require.Equal(t, uint32(2), r.createStream(t, 5))
}
