package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/ripplemedia/ripple/pkg/amf0"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// rtmpPlayer is a minimal RTMP 1.0 player that reassembles only what it
// needs: command and control messages whole (small), the first videoKeep
// bytes of video messages, and nothing of audio. Chunk state follows RTMP
// 1.0 §5.3.1; nothing is allocated per message once the buffers have grown.
type rtmpPlayer struct {
	nc   net.Conn
	br   *bufio.Reader
	st   *PlayerStats
	w    *Window
	t0   time.Time
	name string

	chunkSize int
	read      uint64 // bytes consumed, for acknowledgements (§5.4.3)
	ackWindow uint64
	lastAck   uint64
	streamID  uint32
	playing   bool

	cs   [64]chunkStream // csid 2..63; higher ids go to more
	more map[uint32]*chunkStream
	hdr  [16]byte
	out  []byte
	cw   *rtmp.ChunkWriter
}

type chunkStream struct {
	ts, delta uint32
	length    int
	typ       uint8
	msid      uint32
	ext       bool // the last header carried an extended timestamp
	remaining int  // bytes of the current message still to read
	buf       []byte
}

// maxControlMessage bounds a command or control message we reassemble.
const maxControlMessage = 64 << 10

func (p *rtmpPlayer) stream(csid uint32) *chunkStream {
	if csid < uint32(len(p.cs)) {
		return &p.cs[csid]
	}
	if p.more == nil {
		p.more = make(map[uint32]*chunkStream)
	}
	c := p.more[csid]
	if c == nil {
		c = &chunkStream{}
		p.more[csid] = c
	}
	return c
}

func (p *rtmpPlayer) readFull(b []byte) error {
	n, err := io.ReadFull(p.br, b)
	p.read += uint64(n)
	return err
}

// readChunk reads one chunk and returns the chunk stream whose message it
// completed, or nil.
func (p *rtmpPlayer) readChunk() (*chunkStream, error) {
	if err := p.readFull(p.hdr[:1]); err != nil {
		return nil, err
	}
	fmtID := p.hdr[0] >> 6
	csid := uint32(p.hdr[0] & 0x3f)
	switch csid {
	case 0:
		if err := p.readFull(p.hdr[:1]); err != nil {
			return nil, err
		}
		csid = 64 + uint32(p.hdr[0])
	case 1:
		if err := p.readFull(p.hdr[:2]); err != nil {
			return nil, err
		}
		csid = 64 + uint32(p.hdr[0]) + uint32(p.hdr[1])<<8
	}
	c := p.stream(csid)
	hl := [4]int{11, 7, 3, 0}[fmtID]
	if err := p.readFull(p.hdr[:hl]); err != nil {
		return nil, err
	}
	var tsField uint32
	if hl > 0 {
		tsField = uint32(p.hdr[0])<<16 | uint32(p.hdr[1])<<8 | uint32(p.hdr[2])
		c.ext = tsField == 0xffffff
	}
	if hl >= 7 {
		c.length = int(p.hdr[3])<<16 | int(p.hdr[4])<<8 | int(p.hdr[5])
		c.typ = p.hdr[6]
	}
	if hl == 11 {
		c.msid = binary.LittleEndian.Uint32(p.hdr[7:11])
	}
	if c.ext { // §5.3.1.3, also repeated on type-3 chunks
		if err := p.readFull(p.hdr[:4]); err != nil {
			return nil, err
		}
		if hl > 0 {
			tsField = binary.BigEndian.Uint32(p.hdr[:4])
		}
	}
	if c.remaining == 0 { // first chunk of a message
		switch fmtID {
		case 0:
			c.ts = tsField
		case 1, 2:
			c.delta = tsField
			c.ts += tsField
		case 3:
			c.ts += c.delta
		}
		c.remaining = c.length
		c.buf = c.buf[:0]
	}
	n := min(c.remaining, p.chunkSize)
	keep := maxControlMessage
	switch c.typ {
	case rtmp.TypeVideo:
		keep = videoKeep
	case rtmp.TypeAudio:
		keep = 0
	}
	if k := min(n, keep-len(c.buf)); k > 0 {
		c.buf = slices.Grow(c.buf, k) // grows once per chunk stream, then reused
		if err := p.readFull(c.buf[len(c.buf) : len(c.buf)+k]); err != nil {
			return nil, err
		}
		c.buf = c.buf[:len(c.buf)+k]
		n -= k
		c.remaining -= k
	}
	if n > 0 {
		d, err := p.br.Discard(n)
		p.read += uint64(d)
		if err != nil {
			return nil, err
		}
		c.remaining -= n
	}
	if c.remaining > 0 {
		return nil, nil
	}
	return c, nil
}

func (p *rtmpPlayer) send(csid uint32, typ uint8, msid uint32, payload []byte) error {
	p.out = p.cw.AppendMessage(p.out[:0], csid, &rtmp.Message{TypeID: typ, StreamID: msid, Payload: payload})
	_ = p.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := p.nc.Write(p.out)
	return err
}

func (p *rtmpPlayer) command(msid uint32, vals ...any) error {
	b, err := amf0.Append(nil, vals...)
	if err != nil {
		return err
	}
	return p.send(3, rtmp.TypeCommandAMF0, msid, b)
}

// handle processes one complete message.
func (p *rtmpPlayer) handle(c *chunkStream) error {
	b := c.buf
	switch c.typ {
	case rtmp.TypeVideo:
		if !p.playing {
			return nil
		}
		s, ok := FindStampFLV(b)
		if ok || isCodedFrame(b) {
			p.st.frame(p.w, p.t0, time.Now(), s, ok)
		}
	case rtmp.TypeSetChunkSize:
		n, err := rtmp.ParseChunkSize(b)
		if err != nil {
			return err
		}
		p.chunkSize = n
	case rtmp.TypeWindowAckSize:
		n, err := rtmp.ParseUint32(b)
		if err != nil {
			return err
		}
		p.ackWindow = uint64(n)
	case rtmp.TypeUserControl:
		ev, data, err := rtmp.ParseUserControl(b)
		if err != nil {
			return err
		}
		switch ev {
		case rtmp.EventPingRequest:
			if len(data) >= 4 {
				payload := rtmp.UserControlMessage(rtmp.EventPingResponse, binary.BigEndian.Uint32(data)).Payload
				return p.send(2, rtmp.TypeUserControl, 0, payload)
			}
		case rtmp.EventStreamEOF:
			if p.playing {
				return io.EOF
			}
		}
	case rtmp.TypeCommandAMF0:
		return p.onCommand(b)
	}
	return nil
}

func (p *rtmpPlayer) onCommand(b []byte) error {
	vals, err := amf0.DecodeAll(b)
	if err != nil || len(vals) == 0 {
		return nil // not ours to judge; a real player would ignore it too
	}
	name, _ := vals[0].(string)
	switch name {
	case "_result":
		if len(vals) >= 4 {
			if txn, _ := vals[1].(float64); txn == 2 {
				id, _ := vals[3].(float64)
				p.streamID = uint32(id)
				if err := p.command(p.streamID, "play", 0.0, nil, p.name, -1000.0); err != nil {
					return err
				}
				// librtmp and ffmpeg announce a buffer length; some servers wait for it.
				return p.send(2, rtmp.TypeUserControl, 0,
					rtmp.UserControlMessage(rtmp.EventSetBufferLength, p.streamID, 3000).Payload)
			}
		}
	case "_error":
		return fmt.Errorf("rtmp: %s", describeStatus(vals))
	case "onStatus":
		code, level := statusCode(vals)
		if level == "error" || strings.Contains(code, "Failed") || strings.Contains(code, "NotFound") {
			return fmt.Errorf("rtmp: onStatus %s", code)
		}
		if code == "NetStream.Play.Start" || code == "NetStream.Play.Reset" {
			p.playing = true
		}
		if code == "NetStream.Play.UnpublishNotify" || code == "NetStream.Play.Stop" {
			return io.EOF
		}
	}
	return nil
}

func statusCode(vals []any) (code, level string) {
	for _, v := range vals {
		if o, ok := v.(amf0.Object); ok {
			if c := o.String("code"); c != "" {
				return c, o.String("level")
			}
		}
	}
	return "", ""
}

func describeStatus(vals []any) string {
	if c, _ := statusCode(vals); c != "" {
		return c
	}
	return fmt.Sprint(vals...)
}

// playRTMP plays u (rtmp://host[:port]/app/name) until ctx ends or the
// stream fails.
func playRTMP(ctx context.Context, u string, st *PlayerStats, w *Window, t0 time.Time) error {
	connectURL, name, err := rtmp.SplitStreamURL(u)
	if err != nil {
		return err
	}
	ru, err := rtmp.ParseURL(connectURL)
	if err != nil {
		return err
	}
	nc, err := dial(ctx, "tcp", ru.Host)
	if err != nil {
		return err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	p := &rtmpPlayer{nc: nc, br: bufio.NewReaderSize(nc, 32<<10), st: st, w: w, t0: t0, name: name,
		chunkSize: rtmp.DefaultChunkSize, cw: rtmp.NewChunkWriter()}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := rtmp.ClientHandshake(p.br, nc); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	_ = nc.SetDeadline(time.Time{})
	if err := p.command(0, "connect", 1.0, amf0.Object{
		{Key: "app", Value: ru.ConnectApp()}, {Key: "flashVer", Value: "LNX 9,0,124,2"},
		{Key: "tcUrl", Value: ru.TCURL()}, {Key: "fpad", Value: false},
		{Key: "capabilities", Value: 15.0}, {Key: "audioCodecs", Value: 4071.0},
		{Key: "videoCodecs", Value: 252.0}, {Key: "videoFunction", Value: 1.0},
	}); err != nil {
		return err
	}
	if err := p.command(0, "createStream", 2.0, nil); err != nil {
		return err
	}
	st.Connected = true
	for {
		c, err := p.readChunk()
		if err != nil {
			return err
		}
		if p.ackWindow > 0 && p.read-p.lastAck >= p.ackWindow/2 {
			p.lastAck = p.read
			if err := p.send(2, rtmp.TypeAck, 0, rtmp.AckMessage(uint32(p.read)).Payload); err != nil {
				return err
			}
		}
		if c == nil {
			continue
		}
		st.Bytes.Add(int64(c.length))
		if err := p.handle(c); err != nil {
			return err
		}
	}
}
