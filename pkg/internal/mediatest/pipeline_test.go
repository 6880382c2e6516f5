package mediatest

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
)

// pipelineCodecCases feeds TestPipelineRoundTrip and FuzzPipelineTags:
// tags that need every record form (each timestamp mode, a raw tag type, a
// 3-byte length, events).
var pipelineCodecCases = []struct {
	name string
	tags []Tag
}{
	{"empty", nil},
	{"one video tag", []Tag{{Type: flv.TagVideo, Timestamp: 40, Body: []byte{0x17, 1, 0, 0, 0}}}},
	{"types", []Tag{
		{Type: flv.TagAudio, Timestamp: 0, Body: []byte{0xAF, 1}},
		{Type: flv.TagScript, Timestamp: 0, Body: []byte{2, 0, 0}},
		{Type: 0, Timestamp: 0, Body: []byte{1}},
		{Type: 3, Timestamp: 0},
		{Type: 0xFF, Timestamp: 0, Body: []byte{}},
	}},
	{"timestamp modes", []Tag{
		{Type: flv.TagVideo, Timestamp: 0xFFFF},               // +d, maximal
		{Type: flv.TagVideo, Timestamp: 0},                    // −d
		{Type: flv.TagVideo, Timestamp: 0xFFFF0000},           // −d wrapping below 0
		{Type: flv.TagVideo, Timestamp: 0x0000FFFF},           // +d wrapping past 2^32
		{Type: flv.TagVideo, Timestamp: 0x1234FFFF},           // +d<<16
		{Type: flv.TagVideo, Timestamp: 0x12345678},           // absolute
		{Type: flv.TagVideo, Timestamp: 0x12345678 - 0x10000}, // −d<<16 (as +d<<16, wrapping)
		{Type: flv.TagVideo, Timestamp: 0x80000000},
		{Type: flv.TagVideo, Timestamp: 0x7FFFFFFF},
	}},
	{"events", []Tag{
		{Type: flv.TagVideo, Event: 1, Body: []byte{1}},
		{Type: flv.TagAudio, Event: 7, Body: []byte{2}},
		{Type: 0x42, Event: 5, Body: []byte{3}},
	}},
	{"long body", []Tag{
		{Type: flv.TagVideo, Timestamp: 5, Body: bytes.Repeat([]byte{7}, 0x10000)},
		{Type: flv.TagAudio, Timestamp: 6, Body: bytes.Repeat([]byte{8}, 0xFFFF)},
	}},
}

func TestPipelineRoundTrip(t *testing.T) {
	for _, tc := range pipelineCodecCases {
		t.Run(tc.name, func(t *testing.T) {
			requireTags(t, tc.tags, PipelineTags(EncodePipeline(tc.tags)))
			// AppendPipelineTag is the record EncodePipeline writes.
			var b []byte
			var prev uint32
			for _, tg := range tc.tags {
				b = AppendPipelineTag(b, tg, prev)
				prev = tg.Timestamp
			}
			require.Equal(t, EncodePipeline(tc.tags), b)
		})
	}
}

func TestPipelineSeedsRoundTrip(t *testing.T) {
	cases := PipelineCases(t)
	seeds := PipelineSeeds(t)
	require.Len(t, seeds, len(cases))
	names := map[string]bool{}
	for i, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			require.False(t, names[c.Name], "duplicate case name")
			names[c.Name] = true
			require.NotEmpty(t, c.Tags)
			require.LessOrEqual(t, len(c.Tags), MaxPipelineTags, "the whole case fits the input bounds")
			requireTags(t, c.Tags, PipelineTags(seeds[i]))
			var media int
			for _, tg := range c.Tags {
				if p, err := IngestPacket(tg); err == nil && p != nil && p.IsMedia() {
					media++
				}
			}
			require.Positive(t, media, "the seed publishes media")
		})
	}
}

func TestPipelineTagsDecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want []Tag
	}{
		{"empty", nil, nil},
		{"ctrl only", []byte{0x00}, nil},
		{"timestamp cut", []byte{0x00, 0x01}, nil},
		{"length cut", []byte{0x00, 0x00, 0x01, 0x00}, nil},
		{"raw type missing", []byte{0x03}, nil},
		{"absolute cut", []byte{0x0C, 1, 2, 3}, nil},
		{"long length cut", []byte{0x10, 0, 0, 0, 1}, nil},
		{"body cut by the end of input", []byte{0x01, 0x00, 0x10, 0x00, 0x05, 0xAF, 0x01},
			[]Tag{{Type: flv.TagAudio, Timestamp: 0x10, Body: []byte{0xAF, 0x01}}}},
		{"minus wraps", []byte{0x04, 0x00, 0x01, 0x00, 0x00},
			[]Tag{{Type: flv.TagVideo, Timestamp: 0xFFFFFFFF, Body: []byte{}}}},
		{"high steps", []byte{0x08, 0x00, 0x02, 0x00, 0x00, 0x08, 0xFF, 0xFF, 0x00, 0x00},
			[]Tag{{Type: flv.TagVideo, Timestamp: 0x20000, Body: []byte{}}, {Type: flv.TagVideo, Timestamp: 0x10000, Body: []byte{}}}},
		{"event bits and raw type", []byte{0xE3, 0x2A, 0x00, 0x00, 0x00, 0x01, 0x09},
			[]Tag{{Type: 0x2A, Event: 7, Body: []byte{0x09}}}},
		{"trailing partial record", []byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x02},
			[]Tag{{Type: flv.TagScript, Body: []byte{}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireTags(t, tc.want, PipelineTags(tc.in))
		})
	}
}

func TestPipelineTagsBounds(t *testing.T) {
	t.Run("tag count", func(t *testing.T) {
		tags := make([]Tag, MaxPipelineTags+10)
		for i := range tags {
			tags[i] = Tag{Type: flv.TagAudio, Timestamp: uint32(i), Body: []byte{byte(i)}}
		}
		var b []byte
		for i, tg := range tags {
			b = AppendPipelineTag(b, tg, uint32(max(i-1, 0)))
		}
		requireTags(t, tags[:MaxPipelineTags], PipelineTags(b))
		requireTags(t, tags[:MaxPipelineTags], PipelineTags(EncodePipeline(tags)))
	})
	t.Run("body bytes", func(t *testing.T) {
		big := bytes.Repeat([]byte{1}, 100<<10)
		tags := []Tag{{Type: flv.TagVideo, Body: big}, {Type: flv.TagVideo, Body: big}, {Type: flv.TagVideo, Body: big}}
		var b []byte
		for _, tg := range tags {
			b = AppendPipelineTag(b, tg, 0)
		}
		got := PipelineTags(b)
		require.Len(t, got, 3)
		require.Len(t, got[2].Body, MaxPipelineBytes-200<<10, "the last body is cut to the budget")
		require.Len(t, PipelineTags(EncodePipeline(tags)), 2, "EncodePipeline leaves out what would not fit")
		// Once the budget is spent, decoding stops.
		b = AppendPipelineTag(b, Tag{Type: flv.TagAudio}, 0)
		require.Len(t, PipelineTags(b), 3)
	})
	t.Run("bodies are capacity limited", func(t *testing.T) {
		in := EncodePipeline([]Tag{{Type: flv.TagVideo, Body: []byte{1, 2}}, {Type: flv.TagVideo, Body: []byte{3}}})
		got := PipelineTags(in)
		require.Equal(t, len(got[0].Body), cap(got[0].Body))
	})
}

func TestIngestPacket(t *testing.T) {
	meta := New(Config{}).Metadata().Data
	for _, tc := range []struct {
		name    string
		tag     Tag
		kind    av.Kind // 0: no packet
		wantErr bool
	}{
		{"video", Tag{Type: flv.TagVideo, Body: avcKeyBody(1)}, av.KindVideo, false},
		{"audio", Tag{Type: flv.TagAudio, Body: aacFrameBody(1)}, av.KindAudio, false},
		{"metadata", Tag{Type: flv.TagScript, Body: meta}, av.KindData, false},
		{"set data frame", Tag{Type: flv.TagScript, Body: cat([]byte("\x02\x00\x0d@setDataFrame"), meta)}, av.KindData, false},
		{"other script data", Tag{Type: flv.TagScript, Body: []byte("\x02\x00\x0aonTextData")}, 0, false},
		{"malformed script data", Tag{Type: flv.TagScript, Body: []byte{0}}, 0, false},
		{"zero-length video", Tag{Type: flv.TagVideo}, 0, false},
		{"video command", Tag{Type: flv.TagVideo, Body: []byte{0x57, 0}}, 0, false},
		{"malformed video", Tag{Type: flv.TagVideo, Body: []byte{0x17, 1}}, 0, true},
		{"unknown tag type", Tag{Type: 0x0F, Body: []byte{1}}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := IngestPacket(tc.tag)
			if tc.wantErr {
				require.Error(t, err)
				require.Nil(t, p)
				return
			}
			require.NoError(t, err)
			if tc.kind == 0 {
				require.Nil(t, p)
				return
			}
			require.NotNil(t, p)
			require.Equal(t, tc.kind, p.Kind)
			if tc.kind == av.KindData {
				require.True(t, flv.IsMetaData(p))
			}
		})
	}
}

func TestCheckTrackDTS(t *testing.T) {
	v := func(dts int64) *av.Packet { return &av.Packet{Kind: av.KindVideo, DTS: dts} }
	a := func(dts int64) *av.Packet { return &av.Packet{Kind: av.KindAudio, DTS: dts} }
	hdr := func(dts int64) *av.Packet { return &av.Packet{Kind: av.KindVideo, Header: true, DTS: dts} }
	for _, tc := range []struct {
		name string
		pkts []*av.Packet
		ok   bool
	}{
		{"empty", nil, true},
		{"interleaved", []*av.Packet{v(0), a(10), v(40), a(30), v(40)}, true},
		{"video back", []*av.Packet{v(0), v(40), v(39)}, false},
		{"audio back", []*av.Packet{a(23), v(0), a(0)}, false},
		{"negative", []*av.Packet{v(-1)}, false},
		{"header ahead of its gop", []*av.Packet{hdr(500), v(400), v(440)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckTrackDTS(tc.pkts)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

// FuzzPipelineTags: any input decodes within the bounds, and re-encoding
// what it decodes to gives the same tags.
func FuzzPipelineTags(f *testing.F) {
	for _, tc := range pipelineCodecCases {
		f.Add(EncodePipeline(tc.tags))
	}
	for _, s := range PipelineSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		tags := PipelineTags(in)
		require.LessOrEqual(t, len(tags), MaxPipelineTags)
		n := 0
		for _, tg := range tags {
			n += len(tg.Body)
			require.LessOrEqual(t, tg.Event, uint8(7))
		}
		require.LessOrEqual(t, n, MaxPipelineBytes)
		requireTags(t, tags, PipelineTags(EncodePipeline(tags)))
	})
}

// requireTags compares tag lists, treating nil and empty bodies alike.
func requireTags(t *testing.T, want, got []Tag) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		// Compare first: a require call per field would dominate the fuzz
		// target's time (each walks the stack for t.Helper).
		if w.Type != g.Type || w.Timestamp != g.Timestamp || w.Event != g.Event || !bytes.Equal(w.Body, g.Body) {
			require.Equal(t, w, g, "tag %d", i)
			require.True(t, bytes.Equal(w.Body, g.Body), "tag %d body: %x != %x", i, w.Body, g.Body)
		}
	}
}
