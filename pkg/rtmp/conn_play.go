package rtmp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// onPlay handles play(name, start, duration, reset) (RTMP 1.0 §7.2.2.1).
// Live only: start (ffmpeg −2000, librtmp −1000 or 0), duration and reset
// are accepted and ignored. A stream that is not live yet is waited for
// PlayWait, then refused with NetStream.Play.StreamNotFound.
func (c *conn) onPlay(cmd *command, msid uint32) error {
	switch {
	case !c.connected:
		return protocolErrorf("play before connect")
	case !c.validStream(msid):
		return protocolErrorf("play on stream %d before createStream", msid)
	case c.pub != nil || c.reader != nil:
		return protocolErrorf("play on a connection that is already publishing or playing")
	}
	raw, _ := cmd.stringArg(0)
	name, query := splitQuery(raw)
	query = joinQuery(c.appQuery, query)
	// ffmpeg strips ".flv" itself; other players may not.
	name = strings.TrimSuffix(name, ".flv")
	key := c.app + "/" + name
	c.playKey = key // named by the close line, even if refused
	if !hub.ValidKey(key) {
		return c.refuse(protocolErrorf("play: invalid stream key %q", key),
			onStatusMessage(msid, levelError, codePlayFailed, "invalid stream name"))
	}
	if refused, err := c.admit(access.Play, msid, key, query); refused {
		return err
	}
	// Accepted: the connect timeout stops here. The wait for a stream
	// that is not live yet is bounded by PlayWait on its own.
	if err := c.activate(); err != nil {
		return err
	}

	info := hub.ReaderInfo{Protocol: access.ProtoRTMP, RemoteAddr: c.remote, Query: query}
	r, err := c.hub.Subscribe(key, info)
	if errors.Is(err, hub.ErrStreamNotFound) {
		// An edge app or a cluster node starts its upstream pull here;
		// either way RTMP players wait PlayWait before StreamNotFound,
		// unless where the stream lives cannot be known now.
		if derr := c.hub.Demand(key, info); derr != nil && !errors.Is(derr, hub.ErrStreamNotFound) {
			return c.refuse(fmt.Errorf("%w: play %q: %w", errRefused, key, derr),
				onStatusMessage(msid, levelError, codePlayFailed, "stream "+key+" unavailable: "+derr.Error()))
		}
		wctx, cancel := context.WithTimeout(c.ctx, c.cfg.PlayWait)
		err = c.hub.WaitStream(wctx, key)
		cancel()
		switch {
		case err == nil:
			r, err = c.hub.Subscribe(key, info)
		case c.ctx.Err() != nil:
			return context.Cause(c.ctx)
		default:
			err = hub.ErrStreamNotFound
		}
	}
	if err != nil {
		return c.refuse(fmt.Errorf("%w: play %q: %w", errRefused, key, err),
			onStatusMessage(msid, levelError, codePlayNotFound, "stream "+key+" not found"))
	}
	c.reader, c.playStreamID = r, msid

	// Order matters (docs/interop.md §4): StreamBegin, Play.Reset, Play.Start,
	// |RtmpSampleAccess, then the reader's metadata, sequence headers and
	// media. librtmp discards A/V received before Play.Start.
	for _, it := range []outItem{
		{op: opMessage, csid: csidControl, msg: UserControlMessage(EventStreamBegin, msid)},
		{op: opMessage, csid: csidCommand, msg: onStatusMessage(msid, levelStatus, codePlayReset, "playing and resetting "+key)},
		{op: opMessage, csid: csidCommand, msg: onStatusMessage(msid, levelStatus, codePlayStart, "started playing "+key)},
		{op: opMessage, csid: csidData, msg: sampleAccessMessage(msid)},
		{op: opPlay, reader: r, streamID: msid},
	} {
		if err := c.w.send(c.ctx, it); err != nil {
			return err
		}
	}
	c.log.Info("play started", "stream", key)
	return nil
}

// endPlay stops playing (deleteStream/closeStream from the player) and
// ends the connection gracefully: a player that stops has nothing left to
// do on it.
func (c *conn) endPlay() error {
	if err := c.w.send(c.ctx, outItem{op: opStopPlay}); err != nil {
		return err
	}
	return c.refuse(fmt.Errorf("play %q: %w", c.playKey, errPlayStopped))
}

// errPlayStopped is the close cause when the player stops on its own.
var errPlayStopped = errors.New("rtmp: play stopped by the client")
