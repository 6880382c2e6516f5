package ingest

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/codec/aac"
	"github.com/ripplemedia/ripple/pkg/codec/h264"
	"github.com/ripplemedia/ripple/pkg/codec/hevc"
	"github.com/ripplemedia/ripple/pkg/flv"
)

// encodeSteps packs tags as the fuzz input: per tag, 0 (video) or 1
// (audio), a UI16 length and the body.
func encodeSteps(steps []step) []byte {
	var b []byte
	for _, s := range steps {
		kind := byte(0)
		if s.tag == flv.TagAudio {
			kind = 1
		}
		b = append(b, kind)
		b = binary.BigEndian.AppendUint16(b, uint16(len(s.body)))
		b = append(b, s.body...)
	}
	return b
}

// FuzzValidator publishes a sequence of arbitrary tags. Whatever Check
// accepts must hold the invariants downstream code relies on: the
// tag walk agrees with flv, accepted AVC/HEVC records have what HLS and
// mediacommon read, accepted AAC configs parse, and mediacommon's MPEG-TS
// and fMP4 writers, driven as pkg/hls drives them, do not panic.
func FuzzValidator(f *testing.F) {
	for _, c := range cases {
		f.Add(encodeSteps(c.steps))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v := New()
		var d downstream
		for len(in) >= 3 {
			tag := flv.TagVideo
			if in[0]&1 != 0 {
				tag = flv.TagAudio
			}
			n := min(int(binary.BigEndian.Uint16(in[1:])), len(in)-3)
			body := in[3 : 3+n]
			in = in[3+n:]
			p, err := flv.PacketFromTag(tag, 0, body)
			if err != nil || p == nil {
				continue // never reaches Check
			}
			requireWalkMatchesFLV(t, p)
			if v.Check(p) != nil {
				continue
			}
			d.accept(t, p)
		}
	})
}

// downstream plays a muxer that trusts the validator, as pkg/hls does:
// the last main-track AVC/HEVC header configures it, and frames of that
// codec are split with its length size and written.
type downstream struct {
	codec      av.Codec
	lengthSize int
	params     [][]byte
}

func (d *downstream) accept(t *testing.T, p *av.Packet) {
	switch {
	case p.Kind == av.KindAudio && p.Header && p.Codec == av.CodecAAC:
		var c aac.Config
		require.NoError(t, c.Unmarshal(flv.AudioPayload(p)))
	case p.Kind == av.KindVideo && p.Header:
		d.header(t, p)
	case p.Kind == av.KindVideo && d.lengthSize != 0 && p.Codec == d.codec && !flv.IsVideoMetadata(p) && !flv.IsSequenceEnd(p):
		d.frame(t, p)
	}
}

func (d *downstream) header(t *testing.T, p *av.Packet) {
	rec := flv.VideoPayload(p)
	var codec mp4.Codec
	switch p.Codec {
	case av.CodecH264:
		var dc h264.DecoderConfig
		require.NoError(t, dc.Unmarshal(rec))
		require.NotEmpty(t, dc.SPS)
		require.NotEmpty(t, dc.PPS)
		for _, s := range append(append(dc.SPS, dc.PPS...), dc.SPSExt...) {
			require.NotEmpty(t, s)
		}
		require.GreaterOrEqual(t, len(dc.SPS[0]), 4)
		d.codec, d.lengthSize, d.params = p.Codec, dc.LengthSize, [][]byte{dc.SPS[0], dc.PPS[0]}
		codec = &mp4.CodecH264{SPS: dc.SPS[0], PPS: dc.PPS[0]}
	case av.CodecHEVC:
		var dc hevc.DecoderConfig
		require.NoError(t, dc.Unmarshal(rec))
		vps, sps, pps := dc.First(hevc.NALUVPS), dc.First(hevc.NALUSPS), dc.First(hevc.NALUPPS)
		for _, u := range [][]byte{vps, sps, pps} {
			require.GreaterOrEqual(t, len(u), 2)
		}
		d.codec, d.lengthSize, d.params = p.Codec, dc.LengthSize, [][]byte{vps, sps, pps}
		codec = &mp4.CodecH265{VPS: vps, SPS: sps, PPS: pps}
	default:
		return
	}
	// An init section that fails is an error for HLS, not a panic.
	in := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: 1, TimeScale: 90000, Codec: codec}}}
	var buf seekablebuffer.Buffer
	_ = in.Marshal(&buf)
}

func (d *downstream) frame(t *testing.T, p *av.Packet) {
	payload := flv.VideoPayload(p)
	nalus := append([][]byte(nil), d.params...)
	n := 0
	split := h264.AVCCUnits
	if d.codec == av.CodecHEVC {
		split = hevc.AVCCUnits
	}
	for u, err := range split(payload, d.lengthSize) {
		if err != nil {
			// Only a multitrack message can be split with another track's
			// length size than the one it was checked with.
			require.True(t, flv.IsMultitrack(p), "accepted frame does not split: %v", err)
			return
		}
		n++
		nalus = append(nalus, u)
	}
	require.LessOrEqual(t, n, h264.MaxNALUsPerAccessUnit)
	track := &mpegts.Track{Codec: &mpegts.CodecH264{}}
	if d.codec == av.CodecHEVC {
		track.Codec = &mpegts.CodecH265{}
	}
	w := &mpegts.Writer{W: io.Discard, Tracks: []*mpegts.Track{track}}
	require.NoError(t, w.Initialize())
	if d.codec == av.CodecHEVC {
		_ = w.WriteH265(track, 0, 0, nalus)
	} else {
		_ = w.WriteH264(track, 0, 0, nalus)
	}
	var buf seekablebuffer.Buffer
	part := fmp4.Part{Tracks: []*fmp4.PartTrack{{ID: 1, Samples: []*fmp4.Sample{{Duration: 3000, Payload: bytes.Clone(payload)}}}}}
	_ = part.Marshal(&buf)
}
