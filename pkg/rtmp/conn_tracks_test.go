package rtmp

import (
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/amf0"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/ingest"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// fakeClock is the server's clock in the track timeout tests.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time           { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration)  { c.ns.Add(int64(d)) }
func (c *fakeClock) install() func(s *Server) { return func(s *Server) { s.now = c.Now } }

// validated makes every publisher's validator the one pkg/server sets.
func validated() func() hub.PacketValidator {
	return func() hub.PacketValidator { return ingest.New() }
}

// ladderKeys are the streams of a three-track publish of live/cam.
var ladderKeys = []string{"live/cam", "live/cam_t1", "live/cam_t2"}

// ladder publishes a three-track ladder the way an encoder does: track 0
// at 320x240 with AAC audio, tracks 1 (160x120) and 2 (96x64) video only,
// in OneTrack messages (OBS: track 0 as plain messages, the others as
// multitrack messages of one track) or in ManyTracks messages (every
// video timestamp one message of the three tracks). want holds what each
// stream must carry, in order.
type ladder struct {
	t    *testing.T
	pub  *ClientConn
	many bool
	gens [3]*mediatest.Generator
	want [3][]*av.Packet
}

func newLadder(t *testing.T, pub *ClientConn, many bool) *ladder {
	l := &ladder{t: t, pub: pub, many: many}
	l.gens[0] = mediatest.New(mediatest.Config{GOP: 15, KeySize: 3000, FrameSz: 600})
	l.gens[1] = mediatest.New(mediatest.Config{GOP: 15, KeySize: 1500, FrameSz: 300, Width: 160, Height: 120, NoAudio: true})
	l.gens[2] = mediatest.New(mediatest.Config{GOP: 15, KeySize: 700, FrameSz: 150, Width: 96, Height: 64, NoAudio: true})
	return l
}

// sendVideo sends one video packet of each track in tracks (the same
// timestamp; tracks[0] must be 0 in ManyTracks form).
func (l *ladder) sendVideo(pkts [3]*av.Packet, tracks ...int) {
	l.t.Helper()
	var many []*av.Packet
	for _, i := range tracks {
		p := pkts[i]
		l.want[i] = append(l.want[i], p)
		q := p.Fork() // the client shares what it sends: keep p for comparing
		q.Track = uint8(i)
		if l.many {
			many = append(many, q)
			continue
		}
		require.NoError(l.t, l.pub.WritePacket(q))
	}
	if l.many {
		require.NoError(l.t, l.pub.WriteTracks(many...))
	}
}

// sendAudio sends a track-0 audio packet, which every rendition shares.
func (l *ladder) sendAudio(p *av.Packet) {
	l.t.Helper()
	for i := range l.want {
		l.want[i] = append(l.want[i], p)
	}
	require.NoError(l.t, l.pub.WritePacket(p))
}

// headers sends onMetaData (track 0 only), the three video sequence
// headers and the AAC header.
func (l *ladder) headers() {
	l.t.Helper()
	meta := l.gens[0].Metadata()
	l.want[0] = append(l.want[0], meta)
	require.NoError(l.t, l.pub.WritePacket(meta))
	l.sendVideo([3]*av.Packet{l.gens[0].VideoHeader(), l.gens[1].VideoHeader(), l.gens[2].VideoHeader()}, 0, 1, 2)
	l.sendAudio(l.gens[0].AudioHeader())
}

// frames sends n packets of track 0's generator (video and audio in DTS
// order), each video frame with the same frame of the listed tracks.
func (l *ladder) frames(n int, tracks ...int) {
	l.t.Helper()
	for range n {
		p := l.gens[0].Next()
		if p.Kind == av.KindAudio {
			l.sendAudio(p)
			continue
		}
		pkts := [3]*av.Packet{p}
		for _, i := range tracks[1:] {
			pkts[i] = l.gens[i].NextVideo()
		}
		l.sendVideo(pkts, tracks...)
	}
}

// readLadder reads len(want) packets from an RTMP player and compares them
// with want: the headers (replayed by the hub at join, in its order) as a
// set, then everything else in order, byte for byte.
func readLadder(t *testing.T, play *ClientConn, want []*av.Packet, headers int) {
	t.Helper()
	var gotHeaders []*av.Packet
	for range headers {
		p, err := play.ReadPacket()
		require.NoError(t, err)
		gotHeaders = append(gotHeaders, p)
	}
	for _, w := range want[:headers] {
		found := false
		for _, g := range gotHeaders {
			if g.Kind == w.Kind && string(g.Data) == string(w.Data) {
				found = true
			}
		}
		require.True(t, found, "%s header not replayed", w.Kind)
	}
	for i, w := range want[headers:] {
		got, err := play.ReadPacket()
		require.NoError(t, err, "packet %d", i)
		samePacket(t, w, got, i)
		require.Zero(t, got.Track)
	}
}

// TestMultitrackPublish: a three-track publish makes live/cam (track 0:
// the bytes the encoder sent, onMetaData, its headers) and the renditions
// live/cam_t1 and live/cam_t2 (each its own video, legacy AVC as track 0
// had, with its own sequence header, and the shared AAC audio), each
// validated and described as a rendition of live/cam. When the publish
// ends, every rendition ends the same way: a dropped connection or a kick
// keeps the reconnect grace, an unpublish ends them at once.
func TestMultitrackPublish(t *testing.T) {
	for _, form := range []struct {
		name string
		many bool
	}{{"one track messages", false}, {"many tracks messages", true}} {
		for _, end := range []struct {
			name  string
			stop  func(env *testEnv, pub *ClientConn)
			grace bool
		}{
			{"drop", func(_ *testEnv, pub *ClientConn) { pub.Abort() }, true},
			{"kick", func(env *testEnv, _ *ClientConn) { require.NoError(t, env.hub.KickPublisher("live/cam")) }, true},
			{"unpublish", func(_ *testEnv, pub *ClientConn) { require.NoError(t, pub.Close()) }, false},
		} {
			t.Run(form.name+"/"+end.name, func(t *testing.T) {
				env := startServer(t, ServerConfig{}, hub.Config{ReconnectGrace: graceForever, Validator: validated()})
				events := watchEvents(t, env.hub)
				c, err := Dial(testCtx(t), env.url, ClientConfig{Timeout: testTimeout})
				require.NoError(t, err)
				t.Cleanup(func() { c.Close() })
				require.NoError(t, c.Publish(testCtx(t), "cam?token=abc"))
				l := newLadder(t, c, form.many)
				l.headers()
				keys := ladderKeys
				var players [3]*ClientConn
				for i, key := range keys {
					env.waitLive(t, key)
					players[i] = env.player(t, strings.TrimPrefix(key, "live/"))
				}
				l.frames(120, 0, 1, 2)

				readLadder(t, players[0], l.want[0], 3)
				readLadder(t, players[1], l.want[1], 2)
				readLadder(t, players[2], l.want[2], 2)

				for i, key := range keys {
					info, ok := env.hub.Stream(key)
					require.True(t, ok)
					require.Zero(t, info.InvalidPackets, "%s: %s", key, info.LastInvalid)
					require.Equal(t, av.CodecH264, info.VideoCodec)
					require.Equal(t, av.CodecAAC, info.AudioCodec)
					vh := l.want[i][0] // after onMetaData on track 0
					if i == 0 {
						vh = l.want[i][1]
					}
					require.Equal(t, vh.Data, info.VideoHeader.Data, key) // legacy AVC, as sent
					require.Equal(t, access.ProtoRTMP, info.Publisher.Protocol)
					require.Equal(t, "token=abc", info.Publisher.Query)
					require.Equal(t, c.nc.LocalAddr().String(), info.Publisher.RemoteAddr)
					if i == 0 {
						require.Empty(t, info.Publisher.Source)
						require.Empty(t, info.Publisher.Rendition)
						require.NotNil(t, info.MetaData)
					} else {
						require.Equal(t, "live/cam", info.Publisher.Source)
						require.Equal(t, "t"+string(rune('0'+i)), info.Publisher.Rendition)
						require.Nil(t, info.MetaData, "onMetaData describes track 0")
					}
				}

				end.stop(env, c)
				for _, key := range keys {
					waitEventType(t, events, hub.EventUnpublish, key)
				}
				if !end.grace {
					for i, key := range keys {
						_, err := players[i].ReadPacket()
						require.ErrorIs(t, err, io.EOF, key)
					}
					return
				}
				for _, key := range keys {
					info, ok := env.hub.Stream(key)
					require.True(t, ok, "%s kept for the reconnect grace", key)
					require.False(t, info.Publishing)
				}
				// The encoder comes back: every stream resumes, with its
				// players.
				again := env.publisher(t, "cam")
				l.pub = again
				l.headers()
				for _, key := range keys {
					waitEventType(t, events, hub.EventPublish, key)
				}
			})
		}
	}
}

// TestMultitrackTrackTimeout: a track that stops ends its rendition only,
// after trackTimeout without a packet; when it comes back, its rendition
// starts again.
func TestMultitrackTrackTimeout(t *testing.T) {
	clock := &fakeClock{}
	clock.Advance(time.Hour)
	env := startServer(t, ServerConfig{}, hub.Config{ReconnectGrace: graceForever, Validator: validated()}, clock.install())
	events := watchEvents(t, env.hub)
	pub := env.publisher(t, "cam")
	l := newLadder(t, pub, false)
	l.headers()
	keys := ladderKeys
	var players [3]*ClientConn
	for i, key := range keys {
		env.waitLive(t, key)
		players[i] = env.player(t, strings.TrimPrefix(key, "live/"))
	}
	l.frames(10, 0, 1, 2)
	readLadder(t, players[2], l.want[2], 2)

	// Tracks 0 and 1 go on in steps of half a second, each step read back
	// from live/cam_t1 (so the server handled it at that time); track 2
	// is silent.
	read := len(l.want[1])
	readLadder(t, players[1], l.want[1], 2)
	step := func() {
		clock.Advance(500 * time.Millisecond)
		n := len(l.want[1])
		for len(l.want[1]) == n || l.want[1][len(l.want[1])-1].Kind != av.KindVideo {
			l.frames(1, 0, 1)
		}
		for _, w := range l.want[1][read:] {
			got, err := players[1].ReadPacket()
			require.NoError(t, err)
			require.Equal(t, w.Data, got.Data)
		}
		read = len(l.want[1])
	}
	for range int(trackTimeout/(500*time.Millisecond)) + 2 {
		step()
	}
	waitEventType(t, events, hub.EventStreamEnd, "live/cam_t2")
	for {
		_, err := players[2].ReadPacket()
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
			break
		}
	}
	for _, key := range keys[:2] {
		info, ok := env.hub.Stream(key)
		require.True(t, ok)
		require.True(t, info.Publishing, key)
	}
	line := logLine(t, env.logs.String(), `msg="track ended"`)
	require.Contains(t, line, `stream=live/cam_t2 cause="no packet for 5s"`)

	// Track 2 is back: a new live/cam_t2, with the shared audio header.
	l.sendVideo([3]*av.Packet{2: l.gens[2].VideoHeader()}, 2)
	waitEventType(t, events, hub.EventPublish, "live/cam_t2")
	back := env.player(t, "cam_t2")
	var kinds []av.Kind
	for range 2 {
		p, err := back.ReadPacket()
		require.NoError(t, err)
		require.True(t, p.Header)
		kinds = append(kinds, p.Kind)
	}
	require.ElementsMatch(t, []av.Kind{av.KindVideo, av.KindAudio}, kinds)
}

// TestMultitrackHostileMessages: malformed multitrack messages (sizes past
// the end, too many tracks, a track twice) are dropped whole with one log
// line; the connection and every stream go on. Tracks beyond
// maxTrackStreams, a rendition whose key another publisher holds and a
// kicked rendition drop their own packets only.
func TestMultitrackHostileMessages(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{ReconnectGrace: graceForever, Validator: validated()})
	events := watchEvents(t, env.hub)
	env.publisher(t, "cam_t2") // holds the key of track 2
	env.waitLive(t, "live/cam_t2")
	pub := env.publisher(t, "cam")
	l := newLadder(t, pub, false)
	l.headers()
	env.waitLive(t, "live/cam_t1")
	main := env.player(t, "cam")
	t1 := env.player(t, "cam_t1")

	var seventeen []byte
	for i := range 17 {
		seventeen = append(seventeen, byte(i+3), 0, 0, 1, 0xA)
	}
	for _, m := range []struct {
		kind av.Kind
		body []byte
	}{
		{av.KindVideo, []byte{0x96, 0x13, 'a', 'v', '0', '1', 3, 0, 0, 9, 1}},                    // size past the end
		{av.KindVideo, append([]byte{0x96, 0x13, 'a', 'v', '0', '1'}, seventeen...)},             // 17 tracks
		{av.KindVideo, []byte{0x96, 0x13, 'a', 'v', '0', '1', 3, 0, 0, 1, 0xA, 3, 0, 0, 1, 0xB}}, // track 3 twice
		{av.KindVideo, []byte{0x96, 0x11, 'a', 'v', 'c', '1', 4, 0, 0, 2, 0, 0}},                 // CTS cut short
		{av.KindAudio, []byte{0x95, 0x11, 'm', 'p', '4', 'a', 5, 0xFF, 0xFF, 0xFF, 0}},           // size past the end
	} {
		require.NoError(t, pub.WritePacket(&av.Packet{Kind: m.kind, Data: m.body}))
	}
	// Tracks 3..18 (16 new tracks, one beyond the limit with t1) and a
	// frame of the taken track 2.
	for id := 3; id <= 18; id++ {
		p := l.gens[1].VideoHeader()
		p.Track = uint8(id)
		require.NoError(t, pub.WritePacket(p))
	}
	l.frames(40, 0, 1, 2)
	l.want[2] = nil

	readLadder(t, main, l.want[0], 3)
	readLadder(t, t1, l.want[1], 2)
	// t1, the refused t2 and 3..16 make maxTrackStreams.
	for id := 3; id <= 16; id++ {
		waitEventType(t, events, hub.EventPublish, flv.TrackKey("live/cam", uint8(id)))
	}
	for _, key := range []string{"live/cam_t17", "live/cam_t18"} {
		_, ok := env.hub.Stream(key)
		require.False(t, ok, "%s beyond the limit", key)
	}
	info, _ := env.hub.Stream("live/cam_t2")
	require.Equal(t, "", info.Publisher.Source, "the other publisher keeps its key")
	require.Zero(t, info.Packets)

	// A kicked rendition stays stopped; the others go on.
	require.NoError(t, env.hub.KickPublisher("live/cam_t1"))
	l.frames(20, 0, 1)
	readLadder(t, main, l.want[0][len(l.want[0])-20:], 0)

	require.NoError(t, pub.Close())
	line := env.logs.waitClosed(t, "stream=live/cam ")
	require.Contains(t, line, "dropped=5")
	require.Contains(t, line, "track_dropped=")
	logs := env.logs.String()
	require.Equal(t, 1, strings.Count(logs, "malformed message dropped"), logs)
	require.Equal(t, 1, strings.Count(logs, `msg="track dropped"`))
	require.Equal(t, 1, strings.Count(logs, `msg="track refused"`))
	require.Contains(t, logLine(t, logs, `msg="track stopped"`), `stream=live/cam_t1 err="hub: publisher kicked"`)
	require.Contains(t, logLine(t, logs, `msg="track refused"`), `stream=live/cam track=2 err="hub: stream already published"`)
}

// logLine returns the first log line containing s.
func logLine(t *testing.T, logs, s string) string {
	t.Helper()
	for line := range strings.Lines(logs) {
		if strings.Contains(line, s) {
			return line
		}
	}
	t.Fatalf("no log line with %s", s)
	return ""
}

// TestMultitrackMetaData: a rendition gets the onMetaData the publisher's
// describes it with (E-RTMP v2 videoTrackIdInfoMap), at its start and on
// every update; the stream keeps the publisher's own.
func TestMultitrackMetaData(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{Validator: validated()})
	pub := env.publisher(t, "cam")
	meta := func(width float64) *av.Packet {
		b, err := amf0.Append(nil, "onMetaData", amf0.ECMAArray{
			{Key: "width", Value: 320.0}, {Key: "height", Value: 240.0}, {Key: "videocodecid", Value: 7.0},
			{Key: "videoTrackIdInfoMap", Value: amf0.Object{{Key: "1", Value: amf0.Object{{Key: "width", Value: width}, {Key: "height", Value: 120.0}}}}},
		})
		require.NoError(t, err)
		return &av.Packet{Kind: av.KindData, Data: b}
	}
	require.NoError(t, pub.WritePacket(meta(160)))
	l := newLadder(t, pub, false)
	l.sendVideo([3]*av.Packet{l.gens[0].VideoHeader(), l.gens[1].VideoHeader()}, 0, 1)
	env.waitLive(t, "live/cam_t1")
	play := env.player(t, "cam_t1")
	width := func() float64 {
		for {
			p, err := play.ReadPacket()
			require.NoError(t, err)
			if p.Kind == av.KindData {
				m, err := flv.ParseMetaData(p.Data)
				require.NoError(t, err)
				require.Equal(t, 120.0, m.Height)
				return m.Width
			}
		}
	}
	require.Equal(t, 160.0, width())
	require.NoError(t, pub.WritePacket(meta(200)))
	l.frames(3, 0, 1)
	require.Equal(t, 200.0, width())
	info, _ := env.hub.Stream("live/cam")
	m, err := flv.ParseMetaData(info.MetaData.Data)
	require.NoError(t, err)
	require.Equal(t, 320.0, m.Width)
}
