package rtmp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
)

// Play plays name: createStream, play (start −2000 like ffmpeg: live, or
// recorded if not live), SetBufferLength; waits for NetStream.Play.Start.
func (c *ClientConn) Play(ctx context.Context, name string) error {
	if c.mode != modeIdle {
		return errors.New("rtmp: play: connection already publishing or playing")
	}
	msid, err := c.createStream(ctx)
	if err != nil {
		return err
	}
	c.mode, c.streamID = modePlaying, msid
	c.setCloseState(modePlaying, msid)
	if err := c.sendCommand(ctx, msid, "play", c.nextTxn(), nil, name, float64(-2000)); err != nil {
		return err
	}
	if err := c.send(ctx, outItem{op: opMessage, csid: csidControl,
		msg: UserControlMessage(EventSetBufferLength, msid, playBufferMillis)}); err != nil {
		return err
	}
	err = c.waitStatus(ctx, codePlayStart, "play "+name)
	c.killOnStatus(err)
	return err
}

// killOnStatus closes the connection after an error status: servers close
// it anyway (ours, nginx-rtmp), and librtmp and ffmpeg do the same.
func (c *ClientConn) killOnStatus(err error) {
	var se *StatusError
	if errors.As(err, &se) {
		c.kill(err)
	}
}

// ReadPacket returns the next metadata, sequence header or media packet of
// the played stream, in arrival order. It returns io.EOF when the server
// ends the stream (StreamEOF, NetStream.Play.UnpublishNotify or Play.Stop)
// and also when it closes the connection between two messages, which is
// how ffmpeg -listen ends a stream. Each call waits at most Timeout.
func (c *ClientConn) ReadPacket() (*av.Packet, error) {
	if c.mode != modePlaying {
		return nil, errors.New("rtmp: read packet: connection is not playing")
	}
	for {
		if len(c.pending) > 0 {
			p := c.pending[0]
			c.pending[0] = nil
			c.pending = c.pending[1:]
			return p, nil
		}
		if c.eof {
			// The stream is over: close like ffmpeg and librtmp do, so
			// the server does not wait for us.
			c.kill(io.EOF)
			return nil, io.EOF
		}
		if err := c.nc.SetReadDeadline(time.Now().Add(c.cfg.Timeout)); err != nil {
			return nil, c.ctxErr(c.ctx, err)
		}
		m, err := c.readMessage()
		if err != nil {
			return nil, c.ctxErr(c.ctx, err)
		}
		if m.TypeID == TypeUserControl {
			if ev, _, err := ParseUserControl(m.Payload); err == nil && ev == EventStreamEOF {
				c.eof = true
			}
			continue
		}
		cmd, ok, err := decodeCommandMessage(m)
		if err != nil {
			return nil, err
		}
		if ok {
			if cmd.Name != commandOnStatus {
				continue
			}
			if se := statusOf(&cmd); se != nil {
				return nil, se
			}
			switch cmd.info().String("code") {
			case codePlayUnpublish, codePlayStop:
				c.eof = true
			}
			continue
		}
		if err := c.keepMedia(m); err != nil {
			return nil, err
		}
	}
}

// keepMedia converts audio, video, metadata and aggregate messages into
// packets queued for ReadPacket. Other messages are ignored.
func (c *ClientConn) keepMedia(m *Message) error {
	switch m.TypeID {
	case TypeAggregate:
		subs, err := SplitAggregate(m)
		if err != nil {
			return err
		}
		for _, sm := range subs {
			if err := c.keepMedia(sm); err != nil {
				return err
			}
		}
		return nil
	case TypeAudio, TypeVideo:
		return c.keepTag(m.TypeID, m.Timestamp, m.Payload)
	case TypeDataAMF0:
		if isMetadataName(dataName(m.Payload)) {
			return c.keepTag(TypeDataAMF0, m.Timestamp, m.Payload)
		}
	case TypeDataAMF3:
		if len(m.Payload) > 0 && isMetadataName(dataName(m.Payload[1:])) {
			return c.keepTag(TypeDataAMF0, m.Timestamp, m.Payload[1:])
		}
	}
	return nil
}

func (c *ClientConn) keepTag(typ uint8, ts uint32, body []byte) error {
	if c.mode != modePlaying {
		return nil
	}
	p, err := flv.PacketFromTag(typ, ts, body)
	if typ == TypeDataAMF0 && (err != nil || p == nil || !flv.IsMetaData(p)) {
		return nil // other script data is not part of the stream
	}
	if err != nil {
		return fmt.Errorf("rtmp: %s message at %d ms: %w", typeName(typ), ts, err)
	}
	if p != nil {
		c.pending = append(c.pending, p)
	}
	return nil
}
