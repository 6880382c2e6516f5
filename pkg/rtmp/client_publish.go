package rtmp

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// Publish publishes name (may carry "?query") on the connection:
// releaseStream, FCPublish and createStream pipelined like OBS and ffmpeg,
// then publish, waiting for NetStream.Publish.Start. An error status from
// the server is returned as a *StatusError (e.g. NetStream.Publish.BadName).
func (c *ClientConn) Publish(ctx context.Context, name string) error {
	if c.mode != modeIdle {
		return errors.New("rtmp: publish: connection already publishing or playing")
	}
	if err := c.sendCommand(ctx, 0, "releaseStream", c.nextTxn(), nil, name); err != nil {
		return err
	}
	if err := c.sendCommand(ctx, 0, "FCPublish", c.nextTxn(), nil, name); err != nil {
		return err
	}
	msid, err := c.createStream(ctx)
	if err != nil {
		return err
	}
	if err := c.sendCommand(ctx, msid, "publish", c.nextTxn(), nil, name, "live"); err != nil {
		return err
	}
	if err := c.waitStatus(ctx, codePublishStart, "publish "+name); err != nil {
		c.killOnStatus(err)
		return err
	}
	c.mode, c.streamID = modePublishing, msid
	c.setCloseState(modePublishing, msid)
	c.pending = nil
	// A publisher still has to read: acks, pings and a server-side error
	// status (nginx-rtmp drops peers that do not answer pings).
	c.bgDone = make(chan struct{})
	go c.drain()
	return nil
}

func (c *ClientConn) createStream(ctx context.Context) (uint32, error) {
	txn := c.nextTxn()
	if err := c.sendCommand(ctx, 0, "createStream", txn, nil); err != nil {
		return 0, err
	}
	res, err := c.waitResult(ctx, txn, "createStream")
	if err != nil {
		return 0, err
	}
	id, ok := res.arg(0).(float64)
	if !ok || id < 1 || id > 1<<24 {
		return 0, fmt.Errorf("rtmp: createStream result %v is not a stream id", res.arg(0))
	}
	return uint32(id), nil
}

// drain is the publisher's background reader.
func (c *ClientConn) drain() {
	defer close(c.bgDone)
	err := c.cfg.Panics.Run(componentRelay, func() error {
		for {
			m, err := c.readMessage()
			if err != nil {
				return err
			}
			cmd, ok, err := decodeCommandMessage(m)
			if err != nil {
				return err
			}
			if ok && cmd.Name == commandOnStatus {
				if se := statusOf(&cmd); se != nil {
					return se
				}
			}
		}
	})
	c.kill(err)
}

// WritePacket sends p on the published stream. It blocks while the
// connection's queue is full (backpressure) and returns the connection's
// error once it failed. p is shared, not copied: it must not change.
//
// A packet whose Track is not 0 is sent as an E-RTMP v2 multitrack message
// of one track (OneTrack, the form OBS sends its extra tracks in), built
// in a buffer of its own (flv.AppendMultitrack: legacy AVC, HEVC, AAC and
// MP3 or E-RTMP bodies).
func (c *ClientConn) WritePacket(p *av.Packet) error {
	if p != nil && p.Track != 0 {
		return c.WriteTracks(p)
	}
	return c.writePacket(p)
}

// WriteTracks sends pkts, tracks of one timestamp (the DTS of the first),
// as one E-RTMP v2 multitrack message (flv.AppendMultitrack: OneTrack,
// ManyTracks, or ManyTracksManyCodecs; each packet is the track p.Track,
// track 0 included). The packets are only read.
func (c *ClientConn) WriteTracks(pkts ...*av.Packet) error {
	body, err := flv.AppendMultitrack(nil, pkts...)
	if err != nil {
		return fmt.Errorf("rtmp: write tracks: %w", err)
	}
	return c.writePacket(&av.Packet{Kind: pkts[0].Kind, DTS: pkts[0].DTS, Data: body})
}

func (c *ClientConn) writePacket(p *av.Packet) error {
	if c.mode != modePublishing {
		return errors.New("rtmp: write packet: connection is not publishing")
	}
	return c.send(c.ctx, outItem{op: opPacket, pkt: p, streamID: c.streamID})
}

// Forward publishes r's packets on the published stream until r ends, and
// returns r's terminal error (io.EOF, hub.ErrSlowReader, hub.ErrClosed)
// once every packet queued before it was written; the connection's error
// once it failed; or ctx's cause. The packets take the path a player's do
// (pkg/internal/batch): the connection's writer goroutine drains r and
// writes what it holds in batches, with the chunked messages shared with
// every RTMP player when the chunk size matches. count (may be nil) adds up
// the bytes written. r stays the caller's to close; after Forward returns
// because of ctx, closing r also detaches it from the writer.
func (c *ClientConn) Forward(ctx context.Context, r *hub.Reader, count *atomic.Uint64) error {
	if c.mode != modePublishing {
		return errors.New("rtmp: forward: connection is not publishing")
	}
	ended := make(chan error, 1)
	if err := c.send(ctx, outItem{op: opPlay, reader: r, streamID: c.streamID, ended: ended, count: count}); err != nil {
		return err
	}
	select {
	case err := <-ended:
		return err
	case <-c.ctx.Done():
		return context.Cause(c.ctx) //nolint:contextcheck // the conn's own end
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
