package httpflv

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/amf0"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
)

func TestTrackGate(t *testing.T) {
	now := time.Unix(1000, 0)
	young := hub.StreamInfo{Since: now.Add(-100 * time.Millisecond)}
	old := func(v, a bool) hub.StreamInfo {
		return hub.StreamInfo{Since: now.Add(-time.Minute), HasVideo: v, HasAudio: a}
	}
	type step struct {
		pkts    []*av.Packet
		expired bool
		ready   bool
	}
	cases := []struct {
		name         string
		info         hub.StreamInfo
		steps        []step
		wantA, wantV bool
	}{
		{"primed A+V", old(true, true), []step{
			{pkts: []*av.Packet{metaPacket(metaAV...), videoSeq(0), audioSeq(0), videoKey(0), audioFrame(10)}, ready: true},
		}, true, true},
		{"young video-only announced", young, []step{
			{pkts: []*av.Packet{metaPacket(metaV...)}},
			{pkts: []*av.Packet{videoSeq(0)}, ready: true},
		}, false, true},
		{"young audio-only announced", young, []step{
			{pkts: []*av.Packet{metaPacket(metaA...), audioSeq(0)}, ready: true},
		}, true, false},
		{"young A+V announced waits for audio", young, []step{
			{pkts: []*av.Packet{metaPacket(metaAV...), videoSeq(0), videoKey(0)}},
			{pkts: []*av.Packet{audioSeq(0)}, ready: true},
		}, true, true},
		{"young A+V announced, audio never comes", young, []step{
			{pkts: []*av.Packet{metaPacket(metaAV...), videoSeq(0), videoKey(0)}},
			{expired: true, ready: true},
		}, false, true},
		{"young no metadata waits for hold", young, []step{
			{pkts: []*av.Packet{videoSeq(0), videoKey(0)}},
			{pkts: []*av.Packet{videoInter(40)}},
			{expired: true, ready: true},
		}, false, true},
		{"young metadata without tracks says nothing", young, []step{
			{pkts: []*av.Packet{metaPacket(metaTitle...), audioSeq(0)}},
			{expired: true, ready: true},
		}, true, false},
		{"old stream video-only by hub view", old(true, false), []step{
			{pkts: []*av.Packet{videoSeq(0), videoKey(0)}, ready: true},
		}, false, true},
		{"old stream hub saw audio the metadata forgot", old(true, true), []step{
			{pkts: []*av.Packet{metaPacket(metaV...), videoSeq(0), videoKey(0)}},
			{pkts: []*av.Packet{audioSeq(0)}, ready: true},
		}, true, true},
		{"hasAudio false overrides audiocodecid", young, []step{
			{pkts: []*av.Packet{metaPacket(append([]amf0.Property{{Key: "hasAudio", Value: false}}, metaAV...)...), videoSeq(0)}, ready: true},
		}, false, true},
		{"expired with nothing yet decides on first media", young, []step{
			{expired: true},
			{pkts: []*av.Packet{metaPacket(metaAV...)}, expired: true},
			{pkts: []*av.Packet{audioSeq(0)}, expired: true, ready: true},
		}, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newTrackGate(tc.info, now)
			for i, s := range tc.steps {
				for _, p := range s.pkts {
					g.observe(p)
				}
				require.Equal(t, s.ready, g.ready(s.expired), "step %d", i)
			}
			a, v := g.flags()
			require.Equal(t, tc.wantA, a, "audio flag")
			require.Equal(t, tc.wantV, v, "video flag")
		})
	}
}

func TestTrackGatePacketBound(t *testing.T) {
	g := newTrackGate(hub.StreamInfo{Since: time.Now()}, time.Now())
	g.observe(metaPacket(metaAV...))
	g.observe(videoSeq(0))
	for i := 0; g.packets < holdMaxPackets-1; i++ {
		g.observe(videoInter(int64(i)))
		require.False(t, g.ready(false))
	}
	g.observe(videoInter(1000))
	require.True(t, g.ready(false), "the packet bound ends the wait for the announced audio")
	a, v := g.flags()
	require.False(t, a)
	require.True(t, v)
}

func TestTrackGateDataOnly(t *testing.T) {
	g := newTrackGate(hub.StreamInfo{Since: time.Now()}, time.Now())
	for g.packets < holdMaxPackets-1 {
		g.observe(metaPacket(metaV...))
		require.False(t, g.ready(true), "no media yet")
	}
	g.observe(metaPacket(metaV...))
	require.True(t, g.ready(true))
	a, v := g.flags()
	require.False(t, a)
	require.True(t, v, "goes with what the metadata announced")
}

var metadataCases = []struct {
	name         string
	body         []byte
	video, audio bool
	ok           bool
}{
	{"ecma A+V", metaPacket(metaAV...).Data, true, true, true},
	{"ecma video", metaPacket(metaV...).Data, true, false, true},
	{"ecma audio", metaPacket(metaA...).Data, false, true, true},
	{"title only", metaPacket(metaTitle...).Data, false, false, false},
	{"booleans", metaPacket(amf0.Property{Key: "hasVideo", Value: true}, amf0.Property{Key: "hasAudio", Value: false}).Data, true, false, true},
	{"non-bool hasAudio falls back to codec id", metaPacket(amf0.Property{Key: "hasAudio", Value: 1.0}, amf0.Property{Key: "audiocodecid", Value: 10.0}).Data, false, true, true},
	{"object", mustAMF("onMetaData", amf0.Object{{Key: "videocodecid", Value: 12.0}}), true, false, true},
	{"other name", mustAMF("onCuePoint", amf0.Object{{Key: "videocodecid", Value: 7.0}}), false, false, false},
	{"name only", mustAMF("onMetaData"), false, false, false},
	{"not an array", mustAMF("onMetaData", "x"), false, false, false},
	{"truncated", metaPacket(metaAV...).Data[:20], false, false, false},
	{"empty", nil, false, false, false},
}

func mustAMF(vals ...any) []byte {
	b, err := amf0.Append(nil, vals...)
	if err != nil {
		panic(err)
	}
	return b
}

func metadataTracks(body []byte) (video, audio, ok bool) {
	return flv.MetaTracks(&av.Packet{Kind: av.KindData, Data: body})
}

func TestMetadataTracks(t *testing.T) {
	for _, tc := range metadataCases {
		t.Run(tc.name, func(t *testing.T) {
			v, a, ok := metadataTracks(tc.body)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.video, v, "video")
			require.Equal(t, tc.audio, a, "audio")
		})
	}
}

// TestTrackGateParsesMetadataOnce: many players joining one stream share
// its metadata packet; only the first gate may decode it.
func TestTrackGateParsesMetadataOnce(t *testing.T) {
	p := metaPacket(metaAV...)
	for range 3 {
		g := newTrackGate(hub.StreamInfo{Since: time.Now()}, time.Now())
		g.observe(p)
		require.True(t, g.expectKnown)
		require.True(t, g.expectA && g.expectV)
	}
	cached := p.Encoded(av.SlotMetaInfo, func(*av.Packet) []byte {
		t.Fatal("metadata summary was not cached by the gate")
		return nil
	})
	require.Len(t, cached, 1)
}

func FuzzMetadataTracks(f *testing.F) {
	for _, tc := range metadataCases {
		f.Add(tc.body)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, a, ok := metadataTracks(b)
		if !ok && (v || a) {
			t.Fatalf("tracks %v/%v reported for unusable metadata", v, a)
		}
	})
}
