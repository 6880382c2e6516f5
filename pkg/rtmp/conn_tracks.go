package rtmp

import (
	"fmt"
	"strconv"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// Multitrack ingest (E-RTMP v2 "Multitrack"). An encoder that sends its own
// ABR ladder (OBS "Enhanced Broadcasting") carries several tracks on one
// RTMP stream. flv.SplitTracks splits each message into one packet per
// track. Track 0, the default track, is the published stream: a message
// that carries it alone keeps its bytes, as before multitrack messages
// were split; from a message of several tracks it is re-encoded as a
// single-track message. Every other track N becomes the rendition
// flv.TrackKey(key, N)
// ("live/cam_t1"): an ordinary hub stream this connection publishes, with
// PublisherInfo.Source and Rendition ("t1") set. A rendition
//
//   - starts on the track's first packet, admitted with the publish (no
//     admission of its own) and with a validator of its own (hub.Publish);
//   - carries the track's audio, or, while the encoder sends no audio of
//     that track (OBS sends one audio track for the whole ladder), the
//     default track's audio, from its latest sequence header on;
//   - gets onMetaData only when the publisher's describes the track (E-RTMP
//     v2 videoTrackIdInfoMap, audioTrackIdInfoMap: flv.TrackMetaData); its
//     top-level properties describe track 0;
//   - ends with the publish, the same way: End for an unpublish
//     (FCUnpublish, deleteStream, closeStream), Close when the connection
//     ends (a drop, a kick or a takeover of the stream), so the reconnect
//     grace applies and a returning encoder resumes every rendition;
//   - ends alone (End) when its track sends nothing for trackTimeout: E-RTMP
//     v2 has no message that drops a track, and a SequenceEnd may be
//     followed by a new SequenceStart (an encoder reconfiguring);
//   - stops taking packets for the rest of the publish once its publisher
//     is replaced, kicked or refused (the key is taken).
//
// At most maxTrackStreams tracks per publish have a rendition (refused
// ones included); packets of more tracks are dropped and counted
// (track_dropped in the close line), and so are those of a track whose
// rendition was refused or stopped.
const (
	maxTrackStreams = 16
	trackTimeout    = 5 * time.Second
	// trackSweepEvery is how often silent tracks are looked for (on the
	// publisher's messages: a publisher that sends nothing at all is ended
	// by ReadTimeout, its renditions with it).
	trackSweepEvery = time.Second
)

// trackStream is one rendition of a multitrack publish.
type trackStream struct {
	id  uint8
	key string
	// pub is nil once the rendition was refused, replaced or kicked: the
	// track's packets are dropped until the publish ends.
	pub      *hub.Publisher
	last     time.Time // when the track's own last packet came
	ownAudio bool      // the track has audio of its own: no shared audio
}

// publishPackets publishes the packets of one message: track 0 into the
// stream, the others into their renditions.
func (c *conn) publishPackets(pkts []*av.Packet) error {
	var now time.Time
	multi := len(c.tracks) > 0
	for _, p := range pkts {
		if p.Track != 0 {
			multi = true
			break
		}
	}
	if multi {
		now = c.s.now()
	}
	for _, p := range pkts {
		if p.Track != 0 {
			c.writeTrackPacket(p, now)
			continue
		}
		if err := c.writeMain(p); err != nil {
			return err
		}
	}
	if multi {
		c.sweepTracks(now)
	}
	return nil
}

// writeMain publishes a track-0 packet. Audio also goes to the renditions
// without audio of their own, each a packet of its own (av.Packet.Fork):
// every stream's hub rewrites the DTS of what it takes.
func (c *conn) writeMain(p *av.Packet) error {
	if p.Kind == av.KindAudio {
		if p.Header {
			c.audioHeader = p.Fork()
		}
		for _, ts := range c.tracks {
			if ts.pub != nil && !ts.ownAudio {
				c.writeTrack(ts, p.Fork())
			}
		}
	}
	if err := c.pub.WritePacket(p); err != nil {
		return fmt.Errorf("publish %q: %w", c.pubKey, err)
	}
	return nil
}

// writeTrackPacket publishes a packet of track N > 0 into its rendition,
// starting the rendition on the track's first packet.
func (c *conn) writeTrackPacket(p *av.Packet, now time.Time) {
	ts := c.trackStream(p, now)
	if ts == nil || ts.pub == nil {
		c.trackDropped++
		return
	}
	ts.last = now
	if p.Kind == av.KindAudio {
		ts.ownAudio = true
	}
	p.Track = 0 // the rendition's default track
	c.writeTrack(ts, p)
}

// trackStream returns the rendition of p's track, starting it if it is
// new; nil beyond maxTrackStreams.
func (c *conn) trackStream(p *av.Packet, now time.Time) *trackStream {
	for _, ts := range c.tracks {
		if ts.id == p.Track {
			return ts
		}
	}
	if len(c.tracks) >= maxTrackStreams {
		if !c.trackLimitLogged {
			c.trackLimitLogged = true
			c.log.Warn("track dropped", "stream", c.pubKey, "track", p.Track,
				"err", fmt.Sprintf("more than %d tracks", maxTrackStreams))
		}
		return nil
	}
	ts := &trackStream{id: p.Track, key: flv.TrackKey(c.pubKey, p.Track), last: now}
	c.tracks = append(c.tracks, ts)
	info := c.pub.Info()
	pub, err := c.hub.Publish(ts.key, hub.PublisherInfo{
		Protocol:    info.Protocol,
		RemoteAddr:  info.RemoteAddr,
		Query:       info.Query,
		Source:      c.pubKey,
		Rendition:   "t" + strconv.Itoa(int(p.Track)),
		SourceClock: true, // the tracks share the publish's clock
	})
	if err != nil {
		// At most once per track and publish (maxTrackStreams).
		c.log.Warn("track refused", "stream", c.pubKey, "track", p.Track, "err", err)
		return ts
	}
	ts.pub = pub
	c.log.Debug("track started", "stream", ts.key)
	c.writeTrackMeta(ts, p.DTS)
	if p.Kind == av.KindAudio {
		ts.ownAudio = true
	} else if c.audioHeader != nil {
		h := c.audioHeader.Fork()
		h.DTS = p.DTS
		c.writeTrack(ts, h)
	}
	return ts
}

// publishMeta publishes onMetaData into the stream and, when it describes
// them, into the renditions.
func (c *conn) publishMeta(p *av.Packet) error {
	c.metaData = p.Data
	dts := p.DTS
	if err := c.pub.WritePacket(p); err != nil {
		return fmt.Errorf("publish %q: %w", c.pubKey, err)
	}
	for _, ts := range c.tracks {
		if ts.pub != nil {
			c.writeTrackMeta(ts, dts)
		}
	}
	return nil
}

// writeTrackMeta publishes the onMetaData of a rendition at dts, if the
// publisher's latest describes its track.
func (c *conn) writeTrackMeta(ts *trackStream, dts int64) {
	if c.metaData == nil {
		return
	}
	body, ok, err := flv.TrackMetaData(c.metaData, ts.id)
	if err != nil || !ok {
		return
	}
	c.writeTrack(ts, &av.Packet{Kind: av.KindData, DTS: dts, Data: body})
}

// writeTrack hands p to a rendition's publisher. An error means the
// publish no longer owns the rendition (replaced, kicked, the hub closed):
// the track is dropped from then on; the stream goes on.
func (c *conn) writeTrack(ts *trackStream, p *av.Packet) {
	if err := ts.pub.WritePacket(p); err != nil {
		c.log.Info("track stopped", "stream", ts.key, "err", err)
		ts.pub = nil
	}
}

// sweepTracks ends the renditions whose track sent nothing for
// trackTimeout, at most every trackSweepEvery. An ended track that comes
// back starts its rendition again.
func (c *conn) sweepTracks(now time.Time) {
	if now.Sub(c.trackSweep) < trackSweepEvery {
		return
	}
	c.trackSweep = now
	kept := c.tracks[:0]
	for _, ts := range c.tracks {
		if ts.pub != nil && now.Sub(ts.last) > trackTimeout {
			ts.pub.End()
			c.log.Info("track ended", "stream", ts.key, "cause", fmt.Sprintf("no packet for %s", trackTimeout))
			continue
		}
		kept = append(kept, ts)
	}
	clear(c.tracks[len(kept):])
	c.tracks = kept
}

// endTracks ends every rendition with the publish: End for an unpublish,
// Close (the reconnect grace applies) when the connection ends.
func (c *conn) endTracks(end bool) {
	for _, ts := range c.tracks {
		switch {
		case ts.pub == nil:
		case end:
			ts.pub.End()
		default:
			ts.pub.Close()
		}
	}
	c.tracks, c.audioHeader, c.metaData, c.trackLimitLogged = nil, nil, nil, false
}
