package transcode

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// timelineEnv drives one rendition with packets as ffmpeg would write
// them, without ffmpeg, and reads what the hub makes of them.
type timelineEnv struct {
	t   *testing.T
	h   *hub.Hub
	l   *ladder
	o   *rendition
	run *run
	rd  *hub.Reader
}

func newTimelineEnv(t *testing.T, hcfg hub.Config, base int64) *timelineEnv {
	h := hub.New(hcfg)
	t.Cleanup(h.Close)
	log := slog.New(slog.DiscardHandler)
	e := &timelineEnv{t: t, h: h}
	e.l = &ladder{base: base, baseSet: true}
	e.o = newRendition(h, log, "live/cam", Rung{Name: "r", Video: "copy"})
	cancel := h.Watch(func(ev hub.Event) {
		if ev.Type == hub.EventPublish && ev.Key == "live/cam_r" && e.rd == nil {
			e.rd, _ = h.Subscribe(ev.Key, hub.ReaderInfo{Protocol: "test"})
		}
	})
	t.Cleanup(cancel)
	return e
}

// begin starts a run whose ffmpeg was fed from origin.
func (e *timelineEnv) begin(origin int64) {
	e.l.runs++
	e.run = &run{l: e.l, id: e.l.runs, origin: origin}
	e.o.beginRun()
}

// out hands the rendition a packet ffmpeg timed at source time ts.
func (e *timelineEnv) out(kind av.Kind, header, key bool, ts int64, data string) {
	p := &av.Packet{Kind: kind, Header: header, Keyframe: key, Codec: av.CodecH264, Data: []byte(data)}
	switch kind {
	case av.KindAudio:
		p.Codec = av.CodecAAC
	case av.KindData:
		p.Codec = av.CodecUnknown
		p.Data = []byte("\x02\x00\x0aonMetaData\x08\x00\x00\x00\x00\x00\x00\x09")
	}
	if header || kind == av.KindData {
		p.DTS = 0 // ffmpeg's FLV muxer writes headers at 0
	} else {
		p.DTS = ts - e.run.origin + tsPad
	}
	e.o.handle(p, e.run)
}

// got is one packet as the rendition's reader got it.
type got struct {
	kind   av.Kind
	header bool
	key    bool
	dts    int64
	data   string
}

func (e *timelineEnv) take() []got {
	e.t.Helper()
	if e.rd == nil {
		return nil
	}
	pkts, err := e.rd.TryRead(nil)
	require.NoError(e.t, err)
	out := make([]got, 0, len(pkts))
	for _, p := range pkts {
		g := got{kind: p.Kind, header: p.Header, key: p.Keyframe, dts: p.DTS, data: string(p.Data)}
		if p.Kind == av.KindData {
			g.data = ""
		}
		out = append(out, g)
	}
	return out
}

const (
	v = av.KindVideo
	a = av.KindAudio
	d = av.KindData
)

func TestRenditionTimeline(t *testing.T) {
	t.Run("started with its source: the source's timeline", func(t *testing.T) {
		e := newTimelineEnv(t, hub.Config{}, 0)
		e.begin(0)
		e.out(d, false, false, 0, "")
		e.out(v, true, false, 0, "sps1")
		e.out(a, true, false, 0, "asc1")
		e.out(a, false, false, -23, "priming") // before the first source frame
		e.out(a, false, false, 0, "a0")
		e.out(v, false, true, 23, "k23")
		e.out(a, false, false, 23, "a23")
		e.out(v, false, false, 63, "f63")
		require.Equal(t, []got{
			{kind: d},
			{kind: a, header: true, dts: 0, data: "asc1"},
			{kind: a, dts: 0, data: "a0"},
			{kind: v, header: true, dts: 23, data: "sps1"}, // with its track's first frame, at its time
			{kind: v, key: true, dts: 23, data: "k23"},
			{kind: a, dts: 23, data: "a23"},
			{kind: v, dts: 63, data: "f63"},
		}, e.take())
		require.Equal(t, int64(0), e.o.status().Offset)
		require.True(t, e.o.status().Live)
		require.Equal(t, uint64(2), e.o.status().Frames)

		// ffmpeg restarts, fed from the source's cached keyframe (23):
		// what was published is dropped, the video waits for a keyframe
		// after it, the same headers are not repeated.
		e.begin(23)
		e.out(d, false, false, 0, "")
		e.out(v, true, false, 0, "sps1")
		e.out(a, true, false, 0, "asc1")
		e.out(v, false, true, 23, "k23 again")
		e.out(a, false, false, 23, "a23 again")
		e.out(a, false, false, 46, "a46")
		e.out(v, false, false, 103, "f103 (no keyframe yet)")
		e.out(v, false, true, 1023, "k1023")
		e.out(v, false, false, 1063, "f1063")
		require.Equal(t, []got{
			{kind: a, dts: 46, data: "a46"},
			{kind: v, key: true, dts: 1023, data: "k1023"},
			{kind: v, dts: 1063, data: "f1063"},
		}, e.take())

		// A new decoder configuration is published before its frame.
		e.begin(1023)
		e.out(v, true, false, 0, "sps2")
		e.out(v, false, true, 2023, "k2023")
		require.Equal(t, []got{
			{kind: v, header: true, dts: 2023, data: "sps2"},
			{kind: v, key: true, dts: 2023, data: "k2023"},
		}, e.take())
		require.Equal(t, int64(0), e.o.status().Offset)
	})

	// The hub keeps a rendition's timestamps (they are its source's
	// stream times): a ladder started late is on the source's timeline too.
	t.Run("started late: still the source's timeline", func(t *testing.T) {
		e := newTimelineEnv(t, hub.Config{}, 60_023)
		e.begin(60_023)
		e.out(v, true, false, 0, "sps")
		e.out(a, false, false, 60_000, "before the base")
		e.out(v, false, true, 60_023, "k")
		e.out(a, false, false, 60_030, "a")
		require.Equal(t, []got{
			{kind: v, header: true, dts: 60_023, data: "sps"},
			{kind: v, key: true, dts: 60_023, data: "k"},
			{kind: a, dts: 60_030, data: "a"},
		}, e.take())
		require.Equal(t, int64(0), e.o.status().Offset)
	})

	t.Run("a first frame beyond the slack keeps its time", func(t *testing.T) {
		e := newTimelineEnv(t, hub.Config{}, 0)
		e.begin(0)
		e.out(v, true, false, 0, "sps")
		e.out(v, false, true, 5000, "k")
		require.Equal(t, []got{
			{kind: v, header: true, dts: 5000, data: "sps"},
			{kind: v, key: true, dts: 5000, data: "k"},
		}, e.take())
		require.Equal(t, int64(0), e.o.status().Offset)
	})

	t.Run("a busy key is tried again later, or on the next run", func(t *testing.T) {
		e := newTimelineEnv(t, hub.Config{}, 0)
		other, err := e.h.Publish("live/cam_r", hub.PublisherInfo{Protocol: "rtmp"})
		require.NoError(t, err)
		e.rd.Close()
		e.rd = nil
		e.begin(0)
		e.out(v, true, false, 0, "sps")
		e.out(v, false, true, 0, "k0")
		require.False(t, e.o.status().Live)
		other.End()
		e.out(v, false, true, 1000, "k1000 (too soon: not tried)")
		require.Nil(t, e.rd)
		e.begin(1000)
		e.out(v, true, false, 0, "sps")
		e.out(v, false, true, 2000, "k2000")
		require.True(t, e.o.status().Live)
		require.Equal(t, []got{
			{kind: v, header: true, dts: 0, data: "sps"},
			{kind: v, key: true, dts: 2000, data: "k2000"},
		}, e.take())
		require.Zero(t, e.o.status().Offset, "within the slack: still the source's timeline")
	})

	t.Run("a replaced publisher is not fought for", func(t *testing.T) {
		e := newTimelineEnv(t, hub.Config{Policy: func(string) hub.PublishPolicy { return hub.PolicyTakeover }}, 0)
		e.begin(0)
		e.out(v, true, false, 0, "sps")
		e.out(v, false, true, 0, "k0")
		_, err := e.h.Publish("live/cam_r", hub.PublisherInfo{Protocol: "rtmp"})
		require.NoError(t, err)
		e.out(v, false, true, 1000, "k1000")
		require.False(t, e.o.status().Live)
		e.begin(1000)
		e.out(v, false, true, 2000, "k2000")
		require.False(t, e.o.status().Live)
		st, ok := e.h.Stream("live/cam_r")
		require.True(t, ok)
		require.Equal(t, "rtmp", st.Publisher.Protocol)
		e.o.end() // nothing to end: the stream stays the other publisher's
		_, ok = e.h.Stream("live/cam_r")
		require.True(t, ok)
	})
}

func TestRateWindow(t *testing.T) {
	var w rateWindow
	bps, fps := w.rates(100)
	require.Zero(t, bps)
	require.Zero(t, fps)
	for s := int64(100); s < 110; s++ {
		for range 25 {
			w.add(s, 1000, true)
		}
		w.add(s, 500, false)
	}
	bps, fps = w.rates(110)
	require.Equal(t, int64(25*1000+500)*8, bps)
	require.InDelta(t, 25, fps, 0.001)
	// Young: only the complete seconds it has.
	var y rateWindow
	y.add(200, 1000, true)
	y.add(201, 1000, true)
	bps, fps = y.rates(202)
	require.Equal(t, int64(8000), bps)
	require.InDelta(t, 1, fps, 0.001)
	// Silent for a while: the rate falls to 0.
	bps, _ = w.rates(130)
	require.Zero(t, bps)
}
