package hls

import (
	"testing"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// FuzzSegmenter feeds arbitrary access units and timestamps (what a broken
// or hostile publisher can send once its sequence headers parsed) through
// every variant: errors are fine, panics and hangs are not, and neither
// are segments or buffers over SegmentMaxBytes or a target duration over
// SegmentMaxDuration. Each record of the input is flags (bit 0 audio, bit
// 1 keyframe, bit 2 a backward step), a DTS step, a length and that many
// payload bytes.
func FuzzSegmenter(f *testing.F) {
	gen := mediatest.New(mediatest.Config{GOP: 5})
	var seed []byte
	for _, p := range gen.Packets(40) {
		var fl byte
		var payload []byte
		if p.Kind == av.KindAudio {
			fl, payload = 1, flv.AudioPayload(p)
		} else {
			payload = flv.VideoPayload(p)
			if p.Keyframe {
				fl = 2
			}
		}
		payload = payload[:min(len(payload), 255)]
		seed = append(seed, fl, 20, byte(len(payload)))
		seed = append(seed, payload...)
	}
	for v := range 3 {
		f.Add(byte(v), seed)
		f.Add(byte(v), []byte{2, 0, 4, 0, 0, 0, 9, 1, 200, 3, 1, 2, 3})
		f.Add(byte(v), []byte{2, 255, 5, 0, 0, 0, 1, 0x65, 2, 255, 6, 255, 255, 255, 255, 0x65, 0})
	}
	vt, err := parseVideoConfig(av.CodecH264, flv.VideoPayload(gen.VideoHeader()))
	if err != nil {
		f.Fatal(err)
	}
	at, err := parseAudioConfig(av.CodecAAC, flv.AudioPayload(gen.AudioHeader()))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, variant byte, in []byte) {
		v := Variant(variant % 3)
		cfg := Config{Variant: v, SegmentDuration: 500 * time.Millisecond, PartDuration: 100 * time.Millisecond, SegmentCount: 3,
			SegmentMaxBytes: 4 << 10}
		cfg = cfg.withDefaults()
		m := newMedia(testKey, v, &cfg, time.Unix(0, 0))
		s := newSegmenter(m, &cfg, nil)
		if err := s.configure(vt, at); err != nil {
			t.Fatal(err)
		}
		var dts int64
		for len(in) >= 3 {
			fl, step, n := in[0], int64(in[1]), int(in[2])
			in = in[3:]
			n = min(n, len(in))
			payload := in[:n]
			in = in[n:]
			if fl&4 != 0 {
				step = -step // back-steps too
			}
			dts += step * 10
			if fl&1 != 0 {
				_ = s.audio(dts, payload)
			} else {
				_ = s.video(dts, int32(step), fl&2 != 0, payload)
			}
			if s.c.size() > s.maxBytes {
				t.Fatalf("%d bytes buffered, limit %d", s.c.size(), s.maxBytes)
			}
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		m.renderMediaLocked("")
		m.renderMultivariantLocked("x/", "")
		if m.target > ceilSeconds(cfg.SegmentMaxDuration) {
			t.Fatalf("target duration %d", m.target)
		}
		for _, sg := range m.segments {
			if sg.size > s.maxBytes || sg.dur > cfg.SegmentMaxDuration {
				t.Fatalf("segment %s: %d bytes, %s", sg.name, sg.size, sg.dur)
			}
		}
	})
}

// FuzzTrackConfig parses arbitrary decoder configuration records.
func FuzzTrackConfig(f *testing.F) {
	gen := mediatest.New(mediatest.Config{})
	f.Add(byte(0), flv.VideoPayload(gen.VideoHeader()))
	f.Add(byte(2), flv.AudioPayload(gen.AudioHeader()))
	f.Add(byte(1), []byte{1, 1, 0x60, 0, 0, 0})
	f.Add(byte(2), []byte{0x12, 0x10})
	f.Fuzz(func(_ *testing.T, which byte, b []byte) {
		switch which % 3 {
		case 0:
			_, _ = parseVideoConfig(av.CodecH264, b)
		case 1:
			_, _ = parseVideoConfig(av.CodecHEVC, b)
		default:
			_, _ = parseAudioConfig(av.CodecAAC, b)
		}
	})
}

// FuzzParsePartName parses arbitrary file names of a request path.
func FuzzParsePartName(f *testing.F) {
	m := &media{epoch: "abc"}
	for _, s := range []string{"abc-1.2.m4s", "abc-1.m4s", "abc-init1.mp4", "abc-18446744073709551616.0.m4s", "abc-1.-1.m4s", "x-1.1.m4s"} {
		f.Add(s)
	}
	f.Fuzz(func(_ *testing.T, name string) {
		msn, idx, ok := m.parsePartName(name)
		if ok && m.partName(msn, idx) != name && idx >= 0 {
			// Leading zeros or a '+' sign parse to a different name; that
			// name is then simply not found.
			return
		}
	})
}

// Records of a FuzzMuxer input: op, step, length (2 bytes, big endian),
// body. op bits 0-1 pick the FLV tag type (0 and 3 video, 1 audio, 2
// script data), bit 2 makes the DTS step negative, bit 3 multiplies it by
// 100 (gaps and jumps).
const (
	fuzzOpVideo = 0
	fuzzOpAudio = 1
	fuzzOpData  = 2
	fuzzOpNeg   = 4
	fuzzOpBig   = 8
)

// fuzzRecords encodes packets as FuzzMuxer records.
func fuzzRecords(pkts []*av.Packet) []byte {
	var out []byte
	var last int64
	for _, p := range pkts {
		op := byte(fuzzOpVideo)
		switch p.Kind {
		case av.KindAudio:
			op = fuzzOpAudio
		case av.KindData:
			op = fuzzOpData
		}
		step := p.DTS - last
		if step < 0 {
			op |= fuzzOpNeg
			step = -step
		}
		if step > 255 {
			op |= fuzzOpBig
			step /= 100
		}
		last = p.DTS
		body := p.Data
		if p.Kind == av.KindData {
			body = flv.AppendSetDataFrame(nil, p.Data)
		}
		out = append(out, op, byte(min(step, 255)), byte(len(body)>>8), byte(len(body)))
		out = append(out, body...)
	}
	return out
}

// fuzzSeeds are FuzzMuxer's seed inputs (also committed under
// testdata/fuzz/FuzzMuxer), the three former crash inputs among them.
func fuzzSeeds(tb testing.TB) map[string][]byte {
	t := tb
	gen := func(c mediatest.Config) *mediatest.Generator { return mediatest.New(c) }
	seeds := map[string][]byte{}

	g := gen(mediatest.Config{GOP: 3, KeySize: 24, FrameSz: 8, AudioSz: 6})
	seeds["av"] = fuzzRecords(append(g.Headers(), g.Packets(40)...))

	g = gen(mediatest.Config{NoAudio: true, GOP: 3, KeySize: 24, FrameSz: 8})
	pkts := []*av.Packet{avcHeader(t, 0, 4, mediatest.SPS(320, 240), []byte{})}
	seeds["crash-empty-pps"] = fuzzRecords(append(pkts, g.Packets(8)...))

	g = gen(mediatest.Config{GOP: 3, KeySize: 24, FrameSz: 8, AudioSz: 6})
	pkts = []*av.Packet{g.AudioHeader()}
	for range 20 {
		pkts = append(pkts, g.NextAudio())
	}
	pkts = append(pkts, avcHeader(t, 470, 4, truncatedSPS(), mediatest.PPS()))
	pkts = append(pkts, g.Packets(20)...)
	seeds["crash-audio-then-bad-sps"] = fuzzRecords(pkts)

	g = gen(mediatest.Config{GOP: 3, KeySize: 24, FrameSz: 8, AudioSz: 6})
	pkts = []*av.Packet{g.VideoHeader()}
	for range 12 {
		pkts = append(pkts, g.NextVideo())
	}
	pkts = append(pkts, hevcHeader(t, 400, 6), g.AudioHeader())
	for i := range 15 {
		pkts = append(pkts, hevcFrame(t, uint32(400+i*33), i%3 == 0), g.NextAudio())
	}
	seeds["crash-hevc-switch-truncated-sps"] = fuzzRecords(pkts)

	pkts = []*av.Packet{hevcHeader(t, 0, 0)}
	for i := range 15 {
		pkts = append(pkts, hevcFrame(t, uint32(i*33), i%3 == 0))
	}
	pkts = append(pkts, mediatest.VideoHeader(500, 640, 480)) // HEVC back to AVC
	g = gen(mediatest.Config{NoAudio: true, GOP: 3, KeySize: 24, FrameSz: 8, StartTS: 500})
	seeds["hevc-then-avc"] = fuzzRecords(append(pkts, g.Packets(15)...))

	pkts = []*av.Packet{avcHeader(t, 0, 1, mediatest.SPS(320, 240), mediatest.PPS())}
	for i := range 25 {
		pkts = append(pkts, avcFrame(t, uint32(i*40), i == 0, 1, []byte{0x65 - byte(min(i, 1))*0x24}, []byte{0x41}, []byte{0x41, 1, 2}))
	}
	seeds["keyframeless-length-size-1"] = fuzzRecords(pkts)
	return seeds
}

// FuzzMuxer feeds arbitrary FLV tag sequences (sequence headers valid,
// truncated or with empty parameter sets, codec switches, frames,
// keyframe flags, timestamps going anywhere) through the muxer's packet
// path, flv.PacketFromTag then muxer.handle, for every variant: no panic,
// the buffered bytes and every segment within SegmentMaxBytes, every
// segment, part and init section parses back with mediacommon, and the
// target duration within SegmentMaxDuration.
func FuzzMuxer(f *testing.F) {
	for v := range 3 {
		f.Add(byte(v), fuzzSeeds(f)["av"])
	}
	f.Fuzz(fuzzMuxer)
}

func fuzzMuxer(t *testing.T, variant byte, in []byte) {
	fx := newMuxFixture(t, Variant(variant%3), hub.StreamInfo{}, func(c *Config) {
		c.SegmentDuration, c.PartDuration = 500*time.Millisecond, 100*time.Millisecond
		c.SegmentMaxBytes = 16 << 10
	})
	var ts uint32
	for len(in) >= 4 {
		op, step, n := in[0], uint32(in[1]), int(in[2])<<8|int(in[3])
		in = in[4:]
		n = min(n, len(in))
		body := in[:n:n]
		in = in[n:]
		if op&fuzzOpBig != 0 {
			step *= 100
		}
		if op&fuzzOpNeg != 0 {
			ts -= step
		} else {
			ts += step
		}
		tag := flv.TagVideo
		switch op & 3 {
		case fuzzOpAudio:
			tag = flv.TagAudio
		case fuzzOpData:
			tag = flv.TagScript
		}
		p, err := flv.PacketFromTag(tag, ts, body)
		if err != nil || p == nil {
			continue
		}
		// What the hub reports about the stream's tracks.
		switch p.Kind {
		case av.KindVideo:
			fx.info.HasVideo = true
			if p.Header || fx.info.VideoCodec == av.CodecUnknown {
				fx.info.VideoCodec = p.Codec
			}
		case av.KindAudio:
			fx.info.HasAudio = true
			if p.Header || fx.info.AudioCodec == av.CodecUnknown {
				fx.info.AudioCodec = p.Codec
			}
		}
		fx.mx.handle(p)
		if b := int64(fx.buffered()); b > fx.cfg.SegmentMaxBytes {
			t.Fatalf("%d bytes buffered, limit %d", b, fx.cfg.SegmentMaxBytes)
		}
	}
	fx.checkFiles(t)
	md := fx.media()
	md.mu.Lock()
	md.renderMediaLocked("x/")
	md.renderMultivariantLocked("x/", "a=b")
	md.mu.Unlock()
}
