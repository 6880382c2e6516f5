package hls

import (
	"testing"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// FuzzSegmenter feeds arbitrary access units and timestamps (what a broken
// or hostile publisher can send once its sequence headers parsed) through
// every variant: errors are fine, panics and hangs are not. Each record of
// the input is flags (bit 0 audio, bit 1 keyframe), a DTS step, a length
// and that many payload bytes.
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
		cfg := Config{Variant: v, SegmentDuration: 500 * time.Millisecond, PartDuration: 100 * time.Millisecond, SegmentCount: 3}
		cfg.setDefaults()
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
		}
		m.mu.Lock()
		m.renderMediaLocked("")
		m.renderMultivariantLocked("x/")
		m.mu.Unlock()
	})
}

// FuzzTrackConfig parses arbitrary decoder configuration records.
func FuzzTrackConfig(f *testing.F) {
	gen := mediatest.New(mediatest.Config{})
	f.Add(byte(0), flv.VideoPayload(gen.VideoHeader()))
	f.Add(byte(2), flv.AudioPayload(gen.AudioHeader()))
	f.Add(byte(1), []byte{1, 1, 0x60, 0, 0, 0})
	f.Add(byte(2), []byte{0x12, 0x10})
	f.Fuzz(func(t *testing.T, which byte, b []byte) {
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
	f.Fuzz(func(t *testing.T, name string) {
		msn, idx, ok := m.parsePartName(name)
		if ok && m.partName(msn, idx) != name && idx >= 0 {
			// Leading zeros or a '+' sign parse to a different name; that
			// name is then simply not found.
			return
		}
	})
}
