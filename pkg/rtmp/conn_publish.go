package rtmp

import (
	"errors"
	"fmt"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// onPublish handles publish(name, type) on a created stream (RTMP 1.0
// §7.2.2.6). The name may carry "?query" (auth tokens); the query is kept
// apart and the stream key is app + "/" + name.
func (c *conn) onPublish(cmd *command, msid uint32) error {
	switch {
	case !c.connected:
		return protocolErrorf("publish before connect")
	case !c.validStream(msid):
		return protocolErrorf("publish on stream %d before createStream", msid)
	case c.pub != nil || c.reader != nil:
		return protocolErrorf("publish on a connection that is already publishing or playing")
	}
	raw, _ := cmd.stringArg(0)
	name, query := splitQuery(raw)
	query = joinQuery(c.appQuery, query)
	key := c.app + "/" + name
	c.pubKey = key // named by the close line, even if refused
	if !hub.ValidKey(key) {
		return c.refuse(protocolErrorf("publish: invalid stream key %q", key),
			onStatusMessage(msid, levelError, codePublishBadName, "invalid stream name"))
	}
	if refused, err := c.admit(access.Publish, msid, key, query); refused {
		return err
	}
	if err := c.activate(); err != nil {
		return err
	}
	p, err := c.hub.Publish(key, hub.PublisherInfo{
		Protocol:   access.ProtoRTMP,
		RemoteAddr: c.remote,
		Query:      query,
	})
	if err != nil {
		// Duplicate publish: "error"/BadName like nginx-rtmp; librtmp (OBS)
		// and ffmpeg then show the description and give up (docs/interop.md §3).
		code := codePublishRejected
		if errors.Is(err, hub.ErrStreamBusy) {
			code = codePublishBadName
		}
		return c.refuse(fmt.Errorf("%w: publish %q: %w", errRefused, key, err),
			onStatusMessage(msid, levelError, code, err.Error()))
	}
	c.pub, c.pubStreamID = p, msid
	c.growReadBuffer()
	c.setPartialBudget(c.cfg.MaxPartialBytes)
	if err := c.w.send(c.ctx, outItem{op: opWatch, pub: p, streamID: msid}); err != nil {
		return err
	}
	if err := c.send(csidCommand, onStatusMessage(msid, levelStatus, codePublishStart,
		key+" is now published")); err != nil {
		return err
	}
	c.log.Debug("publish started", "stream", key) // the hub logs the state change at Info
	return nil
}

// endPublish ends publishing (FCUnpublish, deleteStream, closeStream); the
// connection stays open, as the client may close it or publish again. The
// client said it stops, so the stream ends at once (hub.Publisher.End): its
// players get the end of the stream instead of waiting out the reconnect
// grace, which is for publishers whose connection dropped (docs/interop.md §3).
func (c *conn) endPublish() {
	if c.pub == nil {
		return
	}
	// Unwatch first: our own End must not look like a takeover.
	_ = c.w.send(c.ctx, outItem{op: opUnwatch})
	c.pub.End()
	c.endTracks(true)
	c.log.Debug("publish ended", "stream", c.pubKey)
	c.pub = nil
	// Media is no longer expected: back to the budget of a connection
	// that does not publish.
	c.setPartialBudget(PrePublishPartialBytes)
}

// onMedia hands an audio, video or metadata message to the hub. The chunk
// reader gave m a payload of its own, so the packet retains it: this is the
// one copy at ingest (docs/architecture.md §8.1). A multitrack message is
// split into its tracks, each with a copy of its own bytes (conn_tracks.go).
func (c *conn) onMedia(m *Message, typeID uint8, payload []byte) error {
	if c.pub == nil {
		if typeID == TypeDataAMF0 {
			return nil // stray data messages are harmless
		}
		return protocolErrorf("%s message on stream %d from a connection that is not publishing",
			typeName(typeID), m.StreamID)
	}
	if typeID == TypeDataAMF0 {
		return c.onData(m, payload)
	}
	pkts, err := flv.SplitTracks(c.split[:0], typeID, m.Timestamp, payload)
	if err != nil {
		// Drop and count a malformed body rather than dropping the
		// publisher; log only the first one (no per-packet logging).
		if c.malformed == 0 {
			c.log.Warn("malformed message dropped", "stream", c.pubKey, "type", typeName(typeID), "err", err)
		}
		c.malformed++
		return nil
	}
	err = c.publishPackets(pkts)
	clear(pkts) // the hub owns them now
	return err
}

// onData keeps stream metadata ("@setDataFrame","onMetaData" from ffmpeg
// and OBS, or a bare "onMetaData"), and gives the renditions of a
// multitrack publish the part that describes them (conn_tracks.go). Cue
// points, |RtmpSampleAccess and unparseable script data are skipped, not
// fatal: ffmpeg's timecode metadata once broke SRS that way
// (docs/interop.md §3).
func (c *conn) onData(m *Message, payload []byte) error {
	if !isMetadataName(dataName(payload)) {
		return nil
	}
	p, err := flv.PacketFromTag(TypeDataAMF0, m.Timestamp, payload)
	if err != nil || p == nil || !flv.IsMetaData(p) {
		return nil
	}
	return c.publishMeta(p)
}

func typeName(t uint8) string {
	switch t {
	case TypeAudio:
		return "audio"
	case TypeVideo:
		return "video"
	case TypeDataAMF0, TypeDataAMF3:
		return "data"
	}
	return fmt.Sprintf("type %d", t)
}
