package hub

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// tsStep is one timeline input: a packet (kind, wire) or a republish
// (kind 0), with the DTS expected for it.
type tsStep struct {
	kind av.Kind
	wire uint32
	want int64
}

const (
	V = av.KindVideo
	A = av.KindAudio
	D = av.KindData
	R = av.Kind(0) // republish
)

var timestampCases = []struct {
	name  string
	steps []tsStep
	fixes uint64
}{
	{"starts at 0", []tsStep{{V, 1000, 0}, {V, 1033, 33}, {A, 1010, 10}, {A, 1033, 33}}, 0},
	{"data rides at the current time", []tsStep{{D, 0, 0}, {V, 500, 0}, {V, 540, 40}, {D, 12345, 40}, {A, 520, 20}}, 0},
	{"audio just before video clamps at 0", []tsStep{{V, 1000, 0}, {A, 980, 0}, {A, 1003, 3}, {V, 1033, 33}}, 1},
	{"unwrap across 0xFFFFFFFF", []tsStep{
		{V, 0xFFFFFFF0, 0}, {A, 0xFFFFFFF8, 8}, {V, 0x00000010, 32}, {A, 0x00000012, 34}, {V, 0x00000030, 64},
	}, 0},
	{"second track starts after the wrap", []tsStep{{V, 0xFFFFFFE0, 0}, {V, 0x00000010, 48}, {A, 0xFFFFFFF8, 24}}, 0},
	{"small back-step clamps", []tsStep{{V, 0, 0}, {V, 40, 40}, {V, 30, 40}, {V, 80, 80}}, 1},
	{"equal DTS is fine", []tsStep{{V, 0, 0}, {V, 40, 40}, {V, 40, 40}}, 0},
	{"large back-step rebases", []tsStep{
		{V, 10000, 0}, {V, 10040, 40}, {V, 10080, 80}, {V, 0, 120}, {V, 40, 160},
	}, 1},
	{"forward jump rebases", []tsStep{
		{V, 0, 0}, {V, 40, 40}, {V, 80, 80}, {V, 100000, 120}, {V, 100040, 160},
	}, 1},
	{"jump of 3 s is real time", []tsStep{{V, 0, 0}, {V, 3000, 3000}}, 0},
	{"encoder restart keeps A/V sync", []tsStep{
		{V, 10000, 0}, {A, 10010, 10}, {V, 10040, 40}, {A, 10033, 33}, {V, 10080, 80}, {A, 10056, 56},
		{V, 0, 120}, {A, 5, 125}, {V, 40, 160}, {A, 28, 148},
	}, 2},
	{"one track's glitch does not move the other", []tsStep{
		{V, 0, 0}, {A, 0, 0}, {V, 40, 40}, {A, 23, 23},
		{V, 20040, 80}, {A, 46, 46}, {V, 20080, 120}, {A, 69, 69}, {V, 20120, 160}, {A, 92, 92},
	}, 1},
	{"late track far from the other joins now", []tsStep{
		{V, 0, 0}, {V, 40, 40}, {V, 80, 80}, {A, 3_600_000, 80}, {A, 3_600_023, 103},
	}, 1},
	{"late track with an old clock joins now", []tsStep{
		{V, 3_600_000, 0}, {V, 3_602_000, 2000}, {A, 0, 2000}, {A, 23, 2023},
	}, 1},
	{"republish continues after the last DTS", []tsStep{
		{V, 0, 0}, {A, 0, 0}, {V, 40, 40}, {A, 23, 23}, {V, 80, 80}, {A, 46, 46},
		{R, 0, 0},
		{V, 5000, 120}, {A, 4990, 110}, {V, 5040, 160}, {A, 5013, 133},
	}, 0},
	{"republish with audio before video", []tsStep{
		{V, 0, 0}, {V, 40, 40}, {A, 30, 30},
		{R, 0, 0},
		{A, 100, 80}, {V, 130, 110},
	}, 0},
}

func TestTimeline(t *testing.T) {
	for _, tc := range timestampCases {
		t.Run(tc.name, func(t *testing.T) {
			var tl timeline
			for i, st := range tc.steps {
				if st.kind == R {
					tl.republish()
					continue
				}
				require.Equal(t, st.want, tl.fix(st.kind, st.wire), "step %d: %v at wire %d", i, st.kind, st.wire)
			}
			require.Equal(t, tc.fixes, tl.fixes)
		})
	}
}

// TestTimestampsThroughHub checks the timeline end to end: a publisher
// starting just before the 32-bit wrap, then a reconnect whose encoder
// restarts at 0; the reader sees one continuous timeline.
func TestTimestampsThroughHub(t *testing.T) {
	h, _, ft := testHub(t, Config{ReconnectGrace: time.Minute})
	g := mediatest.New(mediatest.Config{StartTS: 0xFFFFFFFF - 1000})
	p := publish(t, h, "live/a")
	r := subscribe(t, h, "live/a")
	hdrs := g.Headers()
	media := g.Packets(200) // ~2.3 s: crosses the wrap
	write(t, p, hdrs...)
	write(t, p, media...)
	got := readN(t, r, len(hdrs)+len(media))
	for _, pkt := range got[:3] {
		require.Equal(t, int64(0), pkt.DTS)
	}
	gen := mediatest.New(mediatest.Config{})
	for i, pkt := range got[3:] {
		want := gen.Next().DTS
		require.Equal(t, want, pkt.DTS, "packet %d", i)
	}
	last := lastDTS(got)

	p.Close()
	require.Len(t, ft.pending(), 1)
	p2 := publish(t, h, "live/a")
	g2 := mediatest.New(mediatest.Config{})
	write(t, p2, g2.Headers()...)
	write(t, p2, g2.Packets(10)...)
	got2 := readN(t, r, 13)
	require.Greater(t, got2[3].DTS, last)
	require.LessOrEqual(t, got2[3].DTS, last+40)
	info, _ := h.Stream("live/a")
	require.Equal(t, uint64(0), info.TimestampFixes)
}

// FuzzTimeline feeds arbitrary packet/republish sequences and checks the
// invariants: DTS >= 0, never decreasing per track, steps bounded, script
// data at the current time, a new track joining near the current time.
func FuzzTimeline(f *testing.F) {
	for _, tc := range timestampCases {
		var b []byte
		for _, st := range tc.steps {
			b = append(b, byte(st.kind))
			b = binary.BigEndian.AppendUint32(b, st.wire)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var tl timeline
		last := map[av.Kind]int64{}
		seen := map[av.Kind]bool{}
		var now int64
		for ; len(b) >= 5; b = b[5:] {
			kind := av.Kind(b[0] % 4)
			wire := binary.BigEndian.Uint32(b[1:])
			if kind == R {
				tl.republish()
				continue
			}
			out := tl.fix(kind, wire)
			if out < 0 {
				t.Fatalf("negative DTS %d", out)
			}
			switch {
			case kind == D:
				if out != now {
					t.Fatalf("data at %d, now %d", out, now)
				}
			case seen[kind]:
				if out < last[kind] || out-last[kind] > maxForwardJump {
					t.Fatalf("%v: %d after %d", kind, out, last[kind])
				}
			case len(seen) > 0:
				if out-now > maxForwardJump || now-out > maxForwardJump {
					t.Fatalf("%v joins at %d, now %d", kind, out, now)
				}
			}
			if kind != D {
				seen[kind] = true
				last[kind] = out
				now = max(now, out)
			}
		}
	})
}

// A rendition shares its source's timeline: a multitrack track (on the
// source's wire clock) takes the source's offset, a transcoder's output
// (already in the source's stream times) is kept as it is.
func TestRenditionTimeline(t *testing.T) {
	h, _, _ := testHub(t, Config{})
	src := publish(t, h, "live/cam")
	vid := func(dts int64) *av.Packet {
		return &av.Packet{Kind: av.KindVideo, Codec: av.CodecH264, DTS: dts, Keyframe: true, Data: []byte{1}}
	}
	write(t, src, vid(5000), vid(5040))
	rs := subscribe(t, h, "live/cam")
	require.Equal(t, int64(40), readN(t, rs, 1)[0].DTS, "the source starts at 0 (its cached keyframe is the second)")

	for _, tc := range []struct {
		name        string
		sourceClock bool
		wire, want  int64
	}{
		{"track", true, 5040, 40},
		{"transcoder", false, 40, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := h.Publish("live/cam_"+tc.name, PublisherInfo{Protocol: "test", Source: "live/cam",
				Rendition: tc.name, SourceClock: tc.sourceClock})
			require.NoError(t, err)
			write(t, p, vid(tc.wire))
			r := subscribe(t, h, "live/cam_"+tc.name)
			require.Equal(t, tc.want, readN(t, r, 1)[0].DTS)
		})
	}
}
