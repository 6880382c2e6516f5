package mediatest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
)

// Pipeline fuzzing (docs/hardening.md §2). Every output package has a
// FuzzPipeline target that feeds the same input through the same ingest
// path: PipelineTags decodes the fuzz bytes into FLV tags, IngestPacket
// turns each into the packet RTMP ingest would publish, a hub publisher
// with the ingest validator takes it, and hub readers feed the package's
// output. The targets share the input format and the seeds (PipelineSeeds)
// so a corpus entry of one target means the same stream to the others.
//
// Input format: a sequence of records, one tag each.
//
//	ctrl       1 byte
//	             bits 0-1  tag type: 0 video (9), 1 audio (8), 2 script data (18),
//	                       3 the type is the next byte (any value)
//	             bits 2-3  timestamp: 0 +d, 1 −d, 2 +d<<16 (relative to the previous
//	                       tag's, uint32 arithmetic: wraps past 2^32), 3 absolute
//	             bit  4    the body length has 3 bytes (else 2)
//	             bits 5-7  Event: 3 bits the target interprets (see Tag.Event)
//	[type]     1 byte, if the type bits are 3
//	timestamp  2 bytes d, or 4 bytes absolute; big-endian
//	length     2 or 3 bytes, big-endian
//	body       length bytes (fewer if the input ends first)
//
// The first tag's timestamp is relative to 0. Decoding stops at the first
// incomplete record header, after MaxPipelineTags tags, or once the bodies
// reach MaxPipelineBytes (the last body is cut to fit), so one input costs
// bounded memory and time whatever its length.
const (
	MaxPipelineTags  = 256
	MaxPipelineBytes = 256 << 10 // tag body bytes, all tags together
)

// Record control byte fields.
const (
	ctrlTypeMask  = 0x03
	ctrlTypeRaw   = 0x03
	ctrlTSShift   = 2
	ctrlTSMask    = 0x03
	ctrlLong      = 0x10
	ctrlEventBits = 5

	tsPlus     = 0
	tsMinus    = 1
	tsPlusHigh = 2 // d << 16
	tsAbsolute = 3

	maxBodyLen = 1<<24 - 1 // a 3-byte length
)

// Tag is one FLV tag of a pipeline input.
type Tag struct {
	Type      uint8  // flv.TagVideo, TagAudio, TagScript, or any other value
	Timestamp uint32 // wire timestamp, ms
	Body      []byte // the tag body (an RTMP message payload)
	// Event is 3 bits (0–7) a target interprets at this tag, before it is
	// published: a reader joining, a reader stalling, an origin switch.
	// Each FuzzPipeline target documents its meaning; the tag itself is
	// unaffected. Seeds mostly carry 0.
	Event uint8
}

// PipelineTags decodes a fuzz input into at most MaxPipelineTags tags with at
// most MaxPipelineBytes of bodies (see the format above). The bodies alias
// data (capacity-limited: appending to one cannot overwrite the next); data
// must not change while the tags are in use.
func PipelineTags(data []byte) []Tag {
	var out []Tag
	var ts uint32
	budget := MaxPipelineBytes
	for len(out) < MaxPipelineTags && len(data) > 0 && budget > 0 {
		ctrl := data[0]
		data = data[1:]
		t := Tag{Event: ctrl >> ctrlEventBits}
		switch ctrl & ctrlTypeMask {
		case 0:
			t.Type = flv.TagVideo
		case 1:
			t.Type = flv.TagAudio
		case 2:
			t.Type = flv.TagScript
		default:
			if len(data) < 1 {
				return out
			}
			t.Type = data[0]
			data = data[1:]
		}
		mode := ctrl >> ctrlTSShift & ctrlTSMask
		if mode == tsAbsolute {
			if len(data) < 4 {
				return out
			}
			ts = binary.BigEndian.Uint32(data)
			data = data[4:]
		} else {
			if len(data) < 2 {
				return out
			}
			d := uint32(binary.BigEndian.Uint16(data))
			data = data[2:]
			switch mode {
			case tsPlus:
				ts += d
			case tsMinus:
				ts -= d
			case tsPlusHigh:
				ts += d << 16
			}
		}
		t.Timestamp = ts
		var n int
		if ctrl&ctrlLong != 0 {
			if len(data) < 3 {
				return out
			}
			n = int(data[0])<<16 | int(data[1])<<8 | int(data[2])
			data = data[3:]
		} else {
			if len(data) < 2 {
				return out
			}
			n = int(binary.BigEndian.Uint16(data))
			data = data[2:]
		}
		n = min(n, len(data), budget)
		t.Body = data[:n:n]
		data = data[n:]
		budget -= n
		out = append(out, t)
	}
	return out
}

// AppendPipelineTag appends the record of t to dst, its timestamp relative
// to prevTS (the previous tag's, 0 for the first): PipelineTags decodes it
// back into t. A body longer than 1<<24-1 bytes is cut to that length.
func AppendPipelineTag(dst []byte, t Tag, prevTS uint32) []byte {
	ctrl := (t.Event & 7) << ctrlEventBits
	switch t.Type {
	case flv.TagVideo:
	case flv.TagAudio:
		ctrl |= 1
	case flv.TagScript:
		ctrl |= 2
	default:
		ctrl |= ctrlTypeRaw
	}
	d := t.Timestamp - prevTS
	var mode byte
	switch {
	case d <= 0xFFFF:
		mode = tsPlus
	case -d <= 0xFFFF:
		mode, d = tsMinus, -d
	case d&0xFFFF == 0:
		mode, d = tsPlusHigh, d>>16
	default:
		mode, d = tsAbsolute, t.Timestamp
	}
	ctrl |= mode << ctrlTSShift
	body := t.Body[:min(len(t.Body), maxBodyLen)]
	if len(body) > 0xFFFF {
		ctrl |= ctrlLong
	}
	dst = append(dst, ctrl)
	if ctrl&ctrlTypeMask == ctrlTypeRaw {
		dst = append(dst, t.Type)
	}
	if mode == tsAbsolute {
		dst = binary.BigEndian.AppendUint32(dst, d)
	} else {
		dst = binary.BigEndian.AppendUint16(dst, uint16(d))
	}
	if ctrl&ctrlLong != 0 {
		dst = append(dst, byte(len(body)>>16), byte(len(body)>>8), byte(len(body)))
	} else {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(body)))
	}
	return append(dst, body...)
}

// EncodePipeline encodes tags as a pipeline input, stopping where
// PipelineTags would (MaxPipelineTags tags, MaxPipelineBytes of bodies; a
// tag that would pass the byte budget is left out with the rest), so the
// input decodes back into exactly the tags it holds.
func EncodePipeline(tags []Tag) []byte {
	var b []byte
	var prev uint32
	budget := MaxPipelineBytes
	for i, t := range tags {
		if i == MaxPipelineTags || budget == 0 || len(t.Body) > budget {
			break
		}
		budget -= len(t.Body)
		b = AppendPipelineTag(b, t, prev)
		prev = t.Timestamp
	}
	return b
}

// IngestPacket returns the packet RTMP ingest publishes for t (pkg/rtmp,
// conn_publish.go): flv.PacketFromTag, script data only when it is
// onMetaData (after an optional @setDataFrame). It returns nil, nil for
// what ingest ignores (zero-length audio and video bodies, video command
// frames, other or malformed script data), and the flv error for a body
// flv rejects (RTMP ingest drops that packet; a relay source ends its
// origin session). The packet retains t.Body.
func IngestPacket(t Tag) (*av.Packet, error) {
	if t.Type == flv.TagScript {
		p, err := flv.PacketFromTag(t.Type, t.Timestamp, t.Body)
		if err != nil || p == nil || !flv.IsMetaData(p) {
			return nil, nil
		}
		return p, nil
	}
	// As RTMP ingest: a multitrack message is split and only track 0
	// stays on the stream (the other tracks are renditions of their own).
	pkts, err := flv.SplitTracks(nil, t.Type, t.Timestamp, t.Body)
	if err != nil {
		return nil, err
	}
	for _, p := range pkts {
		if p.Track == 0 {
			return p, nil
		}
	}
	return nil, nil
}

// CheckTrackDTS checks the DTS a hub reader delivered, in delivery order:
// never negative, and never going back within each track (video, audio,
// script data) among frames and metadata. Sequence headers are left out:
// a late joiner gets the latest header ahead of the cached GOP, which may
// be older than it.
func CheckTrackDTS(pkts []*av.Packet) error {
	var last [4]int64
	var seen [4]bool
	for i, p := range pkts {
		if p.DTS < 0 {
			return fmt.Errorf("packet %d (%s): DTS %d is negative", i, p.Kind, p.DTS)
		}
		if p.Header {
			continue
		}
		k := int(p.Kind) & 3
		if seen[k] && p.DTS < last[k] {
			return fmt.Errorf("packet %d (%s): DTS %d after %d", i, p.Kind, p.DTS, last[k])
		}
		last[k], seen[k] = p.DTS, true
	}
	return nil
}

// TagOf returns the tag an FLV writer makes of p: flv.TagTypeOf(p.Kind),
// uint32(p.DTS) and p.Data (shared, not copied).
func TagOf(p *av.Packet) Tag {
	return Tag{Type: flv.TagTypeOf(p.Kind), Timestamp: uint32(p.DTS), Body: p.Data}
}

// PipelineSeeds returns the seed inputs of the FuzzPipeline targets, each
// within the input bounds: the encoded PipelineCases.
func PipelineSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	cases := PipelineCases(tb)
	out := make([][]byte, 0, len(cases))
	for _, c := range cases {
		out = append(out, EncodePipeline(c.Tags))
	}
	return out
}

// PipelineCase is one named seed stream.
type PipelineCase struct {
	Name string
	Tags []Tag
}

// seedBytes keeps the seeds made from real clips small: the fuzzer mutates
// (and every target re-runs) each seed, and a slice of a clip exercises
// what the whole clip does.
const seedBytes = 12 << 10

// PipelineCases returns the seed streams of PipelineSeeds, named: slices of
// the clip of media/ and the (E-RTMP) FLVs of pkg/flv/testdata as they are
// on disk, mediatest's generator (A/V, video only, audio only, wrapping
// timestamps, events), and crafted hostile sequences.
func PipelineCases(tb testing.TB) []PipelineCase {
	tb.Helper()
	var cs []PipelineCase
	add := func(name string, tags []Tag) { cs = append(cs, PipelineCase{Name: name, Tags: tags}) }

	// Real encoder output: the start of the clip, and a late start at its
	// second keyframe (2 s) after the stream's headers.
	clip := LoadFLVTags(tb, RepoPath(tb, "media/h264_aac_gop2s.flv"))
	add("clip start", within(clip, seedBytes))
	var heads []Tag
	second := 0
	for i, t := range clip {
		if len(t.Body) > 0 && (t.Type == flv.TagScript || isSeqHeader(t)) {
			heads = append(heads, t)
		}
		if t.Type == flv.TagVideo && len(t.Body) > 1 && t.Body[0]>>4 == 1 && t.Body[1] == 1 && t.Timestamp >= 2000 {
			second = i
			break
		}
	}
	add("clip from second keyframe", within(append(heads, clip[second:]...), seedBytes))
	for _, name := range []string{"h264_aac.flv", "hevc_legacy12.flv", "hevc_opus_ertmp.flv"} {
		add("flv testdata "+name, within(LoadFLVTags(tb, RepoPath(tb, "pkg/flv/testdata/"+name)), seedBytes))
	}

	// Generated streams: small frames, so many GOPs fit.
	small := Config{FPS: 25, GOP: 10, KeySize: 300, FrameSz: 60, AudioSz: 30}
	add("generated av", generated(small, 200))
	vo, ao := small, small
	vo.NoAudio, ao.NoVideo = true, true
	add("generated video only", generated(vo, 120))
	add("generated audio only", generated(ao, 120))
	wrap := small
	wrap.StartTS = 0xFFFFFC00 // wraps after about a second
	add("generated wrap", generated(wrap, 160))

	// Events on a generated stream: targets schedule readers joining and
	// origin switches on them.
	ev := generated(small, 240)
	for i := range ev {
		if i > 0 && i%37 == 0 {
			ev[i].Event = uint8(i/37) & 7
		}
	}
	add("generated with events", ev)

	for _, c := range hostileCases() {
		add(c.Name, c.Tags)
	}
	return cs
}

// within returns the leading tags whose bodies add up to at most n bytes.
func within(tags []Tag, n int) []Tag {
	for i, t := range tags {
		if n -= len(t.Body); n < 0 {
			return tags[:i]
		}
	}
	return tags
}

// isSeqHeader reports a legacy AVC/HEVC or AAC sequence header tag.
func isSeqHeader(t Tag) bool {
	b := t.Body
	switch t.Type {
	case flv.TagVideo:
		return len(b) > 1 && (b[0]&0x0F == avcCodecID || b[0]&0x0F == 12 /* legacy HEVC */) && b[1] == 0
	case flv.TagAudio:
		return len(b) > 1 && b[0]>>4 == aacFormat && b[1] == aacSeqHeader
	}
	return false
}

// generated returns a mediatest stream (headers, then n packets) as tags.
func generated(cfg Config, n int) []Tag {
	g := New(cfg)
	var out []Tag
	for _, p := range append(g.Headers(), g.Packets(n)...) {
		out = append(out, TagOf(p))
	}
	return out
}

// LoadFLVTags reads the tags of an FLV file as they are, unlike LoadFLV,
// which parses them: legacy HEVC, @setDataFrame and the tags flv ignores
// stay for the pipeline's own PacketFromTag to meet.
func LoadFLVTags(tb testing.TB, path string) []Tag {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("mediatest: %v", err)
	}
	defer f.Close()
	r := flv.NewReader(f)
	if _, err := r.ReadHeader(); err != nil {
		tb.Fatalf("mediatest: %s: %v", path, err)
	}
	var out []Tag
	for {
		t, err := r.ReadTag()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatalf("mediatest: %s: %v", path, err)
		}
		out = append(out, Tag{Type: t.Type, Timestamp: t.Timestamp, Body: t.Body})
	}
}

// RepoPath returns the path of rel (slash-separated, from the module root:
// "media/x.flv") for a test running in any package directory.
func RepoPath(tb testing.TB, rel string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("mediatest: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, filepath.FromSlash(rel))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("mediatest: no go.mod above the working directory")
		}
		dir = parent
	}
}
