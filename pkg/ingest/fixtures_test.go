package ingest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// fixtures returns every media file the validator must accept: the clips
// of media/, the FLV goldens of pkg/flv (legacy and E-RTMP HEVC, Opus,
// ModEx, Metadata, SequenceEnd) and this package's MP4s (AV1 from three
// encoders, HEVC with SEI arrays and B-frames, sliced H.264 4:2:2 10-bit).
func fixtures(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"../../media/*.flv", "../../media/*.mp4", "../flv/testdata/*.flv", "testdata/*.mp4"} {
		m, err := filepath.Glob(pattern)
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.GreaterOrEqual(t, len(files), 14)
	return files
}

func loadFixture(t testing.TB, path string) []*av.Packet {
	if strings.HasSuffix(path, ".flv") {
		return mediatest.LoadFLV(t, path)
	}
	return mp4Packets(t, path)
}

// TestFixtures: zero false positives on real encoders' output.
func TestFixtures(t *testing.T) {
	for _, path := range fixtures(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			pkts := loadFixture(t, path)
			v := New()
			var headers, frames int
			for i, p := range pkts {
				require.NoError(t, v.Check(p), "packet %d (%s %s header=%t)", i, p.Kind, p.Codec, p.Header)
				if p.Header {
					headers++
				} else if p.IsMedia() {
					frames++
				}
			}
			require.Positive(t, headers)
			require.Positive(t, frames)
		})
	}
}

// TestGenerated: mediatest's synthetic streams pass too.
func TestGenerated(t *testing.T) {
	g := mediatest.New(mediatest.Config{})
	v := New()
	for _, p := range append(g.Headers(), g.Packets(300)...) {
		require.NoError(t, v.Check(p))
	}
}

// TestWalkMatchesFLV holds the tag walk of this package to flv's: for
// every packet, the first track's payload is the one flv.VideoPayload or
// AudioPayload returns, and flv's header claims match the packet type.
func TestWalkMatchesFLV(t *testing.T) {
	for _, path := range fixtures(t) {
		for _, p := range loadFixture(t, path) {
			requireWalkMatchesFLV(t, p)
		}
	}
	for _, c := range cases {
		for _, s := range c.steps {
			p, err := flv.PacketFromTag(s.tag, 0, s.body)
			require.NoError(t, err)
			requireWalkMatchesFLV(t, p)
		}
	}
}

func requireWalkMatchesFLV(t *testing.T, p *av.Packet) {
	t.Helper()
	payload, pt, ok := walkFirst(p)
	if !ok {
		return // command frames, unknown legacy codecs
	}
	var want []byte
	if p.Kind == av.KindVideo {
		want = flv.VideoPayload(p)
	} else {
		want = flv.AudioPayload(p)
	}
	require.Equal(t, want, payload, "payload of %x", p.Data[:min(len(p.Data), 16)])
	if p.Header {
		require.True(t, pt == ptSequenceStart || (p.Kind == av.KindVideo && pt == ptMPEG2TSSequenceStart), "header with packet type %d", pt)
	}
	if p.Keyframe {
		require.True(t, pt == ptCodedFrames || pt == ptCodedFramesX, "keyframe with packet type %d", pt)
	}
}

// walkFirst returns the first track's codec payload and packet type as the
// validator's tag walk sees them, mirroring what flv exposes.
func walkFirst(p *av.Packet) (payload []byte, pt uint8, ok bool) {
	b := p.Data
	if len(b) == 0 || !p.IsMedia() {
		return nil, 0, false
	}
	if p.Kind == av.KindAudio {
		switch b[0] >> 4 {
		case soundFormatAAC:
			if b[1] == 0 {
				return b[2:], ptSequenceStart, true
			}
			return b[2:], ptCodedFrames, true
		case soundFormatExHeader:
		default:
			return b[1:], ptCodedFrames, true
		}
		pos, pt, err := skipModEx("audio", b, 1, b[0]&0x0F)
		if err != nil {
			return nil, 0, false
		}
		ts, pt, err := newTracks("audio", b, pos, pt, ptAudioMultitrack)
		if err != nil {
			return nil, 0, false
		}
		tr, ok, err := ts.next()
		return tr.data, pt, ok && err == nil
	}
	if b[0]&0x80 == 0 {
		switch b[0] & 0x0F {
		case codecIDAVC, codecIDHEVC:
			return b[5:], b[1], b[0]>>4&7 != frameCommand
		}
		return b[1:], ptCodedFrames, b[0]>>4&7 != frameCommand
	}
	pos, pt, err := skipModEx("video", b, 1, b[0]&0x0F)
	if err != nil || (b[0]>>4&7 == frameCommand && pt != ptMetadata) {
		return nil, 0, false
	}
	ts, pt, err := newTracks("video", b, pos, pt, ptVideoMultitrack)
	if err != nil {
		return nil, 0, false
	}
	tr, ok, err := ts.next()
	if !ok || err != nil {
		return nil, 0, false
	}
	if pt == ptCodedFrames {
		switch string([]byte{byte(tr.fourCC >> 24), byte(tr.fourCC >> 16), byte(tr.fourCC >> 8), byte(tr.fourCC)}) {
		case "avc1", "hvc1", "vvc1":
			return tr.data[3:], pt, true
		}
	}
	return tr.data, pt, true
}
