package record

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/ac3"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg1audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/codec/aac"
	"github.com/ripplemedia/ripple/pkg/codec/av1"
	"github.com/ripplemedia/ripple/pkg/codec/h264"
	"github.com/ripplemedia/ripple/pkg/codec/hevc"
	"github.com/ripplemedia/ripple/pkg/flv"
)

// videoTimescale is the timescale of every video track (the MPEG clock).
const videoTimescale = 90000

// mp4Track is one track of an fMP4 recording: its sample entry and how
// its samples are timed and framed.
type mp4Track struct {
	codec     av.Codec
	mp4       mp4.Codec
	timescale uint32
	// lengthSize is the NALU length size of H.264/HEVC samples as the
	// stream carries them; samples are rewritten to 4 bytes if it differs.
	lengthSize int
	// samples returns the duration of an audio packet's payload in
	// timescale units, 0 if unknown.
	samples func(payload []byte) int
}

var (
	errNoConfig    = errors.New("record: no decoder configuration")
	errUnsupported = errors.New("record: codec cannot go in fmp4")
)

// videoTrack builds the video track of codec c from its sequence header
// payload hdr (nil: none seen); key is the payload of the keyframe a file
// starts with (AV1 may carry its sequence header there only).
func videoTrack(c av.Codec, hdr, key []byte) (*mp4Track, error) {
	t := &mp4Track{codec: c, timescale: videoTimescale}
	switch c {
	case av.CodecH264:
		if hdr == nil {
			return nil, errNoConfig
		}
		var dc h264.DecoderConfig
		if err := dc.Unmarshal(hdr); err != nil {
			return nil, err
		}
		if len(dc.SPS) == 0 || len(dc.PPS) == 0 || len(dc.SPS[0]) < 4 || h264.TypeOf(dc.SPS[0]) != h264.NALUSPS ||
			len(dc.PPS[0]) < 2 || h264.TypeOf(dc.PPS[0]) != h264.NALUPPS {
			return nil, errors.New("record: avc config lacks a usable sps or pps")
		}
		t.lengthSize = dc.LengthSize
		t.mp4 = &mp4.CodecH264{SPS: dc.SPS[0], PPS: dc.PPS[0]}
	case av.CodecHEVC:
		if hdr == nil {
			return nil, errNoConfig
		}
		var dc hevc.DecoderConfig
		if err := dc.Unmarshal(hdr); err != nil {
			return nil, err
		}
		vps, sps, pps := dc.First(hevc.NALUVPS), dc.First(hevc.NALUSPS), dc.First(hevc.NALUPPS)
		if len(vps) < 3 || len(sps) < 3 || len(pps) < 3 {
			return nil, errors.New("record: hevc config lacks a usable vps, sps or pps")
		}
		t.lengthSize = dc.LengthSize
		t.mp4 = &mp4.CodecH265{VPS: vps, SPS: sps, PPS: pps}
	case av.CodecAV1:
		var seq []byte
		if hdr != nil {
			var dc av1.DecoderConfig
			if err := dc.Unmarshal(hdr); err != nil {
				return nil, err
			}
			seq = av1SequenceHeader(dc.ConfigOBUs)
		}
		if seq == nil {
			seq = av1SequenceHeader(key)
		}
		if seq == nil {
			return nil, errors.New("record: av1 sequence header not found")
		}
		t.mp4 = &mp4.CodecAV1{SequenceHeader: seq}
	default:
		return nil, fmt.Errorf("%w: video %s (h264, hevc, av1; flv carries any)", errUnsupported, c)
	}
	return t, nil
}

// av1SequenceHeader returns the first sequence header OBU of obus as
// mediacommon wants it: header without obu_has_size_field, then payload
// (a new slice).
func av1SequenceHeader(obus []byte) []byte {
	for off := 0; off < len(obus); {
		var o av1.OBU
		if o.Unmarshal(obus[off:]) != nil {
			return nil
		}
		if o.Type == av1.OBUSequenceHeader {
			h := []byte{obus[off] &^ 0x02}
			if o.Extension {
				h = append(h, obus[off+1])
			}
			return append(h, o.Payload...)
		}
		off += o.Len
	}
	return nil
}

// audioTrack builds the audio track of codec c from its sequence header
// payload hdr (nil: none seen), or for codecs without one from frame, the
// payload of an audio packet, and tag, that packet's FLV tag body.
func audioTrack(c av.Codec, hdr, frame, tag []byte) (*mp4Track, error) {
	t := &mp4Track{codec: c}
	switch c {
	case av.CodecAAC:
		if hdr == nil {
			return nil, errNoConfig
		}
		var cfg aac.Config
		if err := cfg.Unmarshal(hdr); err != nil {
			return nil, err
		}
		var asc mpeg4audio.AudioSpecificConfig
		if err := asc.Unmarshal(hdr); err != nil {
			return nil, fmt.Errorf("record: audio specific config: %w", err)
		}
		if asc.SampleRate <= 0 {
			return nil, fmt.Errorf("record: aac sample rate %d out of range", asc.SampleRate)
		}
		t.mp4, t.timescale = &mp4.CodecMPEG4Audio{Config: asc}, uint32(asc.SampleRate)
		n := cfg.FrameSamples()
		t.samples = func([]byte) int { return n }
	case av.CodecOpus:
		ch := 0
		// OpusHead (RFC 7845 §5.1): "OpusHead", version, channel count.
		if len(hdr) >= 10 && string(hdr[:8]) == "OpusHead" {
			ch = int(hdr[9])
		} else if len(frame) > 0 {
			ch = 1 + int(frame[0]>>2&1) // TOC stereo flag (RFC 6716 §3.1)
		}
		if ch < 1 || ch > 2 {
			return nil, fmt.Errorf("%w: opus with %d channels", errUnsupported, ch)
		}
		t.mp4, t.timescale = &mp4.CodecOpus{ChannelCount: ch}, 48000
		t.samples = func(b []byte) int { return int(opus.PacketDuration2(b)) }
	case av.CodecMP3:
		var h mpeg1audio.FrameHeader
		if err := h.Unmarshal(frame); err != nil {
			return nil, fmt.Errorf("record: mp3 frame header: %w", err)
		}
		ch := 2
		if h.ChannelMode == mpeg1audio.ChannelModeMono {
			ch = 1
		}
		t.mp4, t.timescale = &mp4.CodecMPEG1Audio{SampleRate: h.SampleRate, ChannelCount: ch}, uint32(h.SampleRate)
		t.samples = mp3Samples
	case av.CodecAC3:
		var si ac3.SyncInfo
		if err := si.Unmarshal(frame); err != nil {
			return nil, fmt.Errorf("record: ac-3 sync info: %w", err)
		}
		var bsi ac3.BSI
		if err := bsi.Unmarshal(frame[5:]); err != nil {
			return nil, fmt.Errorf("record: ac-3 bsi: %w", err)
		}
		t.mp4 = &mp4.CodecAC3{
			SampleRate: si.SampleRate(), ChannelCount: bsi.ChannelCount(),
			Fscod: si.Fscod, Bsid: bsi.Bsid, Bsmod: bsi.Bsmod, Acmod: bsi.Acmod, LfeOn: bsi.LfeOn,
			BitRateCode: si.Frmsizecod >> 1,
		}
		t.timescale = uint32(si.SampleRate())
		size := si.FrameSize()
		t.samples = func(b []byte) int { return 1536 * max(1, len(b)/size) }
	case av.CodecPCM:
		// Legacy SoundFormat 0 or 3 (FLV v10.1 §E.4.2.1): the flags of the
		// tag's first byte give rate, size and channels.
		if len(tag) == 0 {
			return nil, errNoConfig
		}
		flags := tag[0]
		if flags&0x02 == 0 {
			return nil, fmt.Errorf("%w: 8-bit pcm", errUnsupported)
		}
		rate := [4]int{5512, 11025, 22050, 44100}[flags>>2&3]
		ch := 1 + int(flags&1)
		t.mp4, t.timescale = &mp4.CodecLPCM{LittleEndian: true, BitDepth: 16, SampleRate: rate, ChannelCount: ch}, uint32(rate)
		t.samples = func(b []byte) int { return len(b) / (2 * ch) }
	default:
		return nil, fmt.Errorf("%w: audio %s (aac, opus, mp3, ac3, 16-bit pcm; flv carries any)", errUnsupported, c)
	}
	return t, nil
}

// mp3Samples counts the samples of the MPEG audio frames in b.
func mp3Samples(b []byte) int {
	var h mpeg1audio.FrameHeader
	if h.Unmarshal(b) != nil {
		return 0
	}
	n := h.SampleCount()
	if l := h.FrameLen(); l > 0 && len(b) > l {
		n *= (len(b) + l/2) / l
	}
	return n
}

// needsHeader reports whether packets of codec c are undecodable without
// its sequence header (so a file cannot start before one).
func needsHeader(c av.Codec) bool {
	switch c {
	case av.CodecH264, av.CodecHEVC, av.CodecAV1, av.CodecVP9, av.CodecAAC:
		return true
	}
	return false
}

// videoPayload and audioPayload are the codec payloads fMP4 samples and
// track configurations are made of.
func videoPayload(p *av.Packet) []byte { return flv.VideoPayload(p) }
func audioPayload(p *av.Packet) []byte { return flv.AudioPayload(p) }

// avccTo4 rewrites an AVCC/HVCC access unit with lengthSize-byte NALU
// lengths to 4-byte lengths (a new slice).
func avccTo4(au []byte, lengthSize int) ([]byte, error) {
	out := make([]byte, 0, len(au)+len(au)/2)
	for len(au) > 0 {
		if len(au) < lengthSize {
			return nil, errors.New("record: nalu length truncated")
		}
		var n int
		for i := range lengthSize {
			n = n<<8 | int(au[i])
		}
		au = au[lengthSize:]
		if n > len(au) {
			return nil, fmt.Errorf("record: nalu length %d exceeds the %d bytes left", n, len(au))
		}
		out = binary.BigEndian.AppendUint32(out, uint32(n))
		out = append(out, au[:n]...)
		au = au[n:]
	}
	return out, nil
}

// av1Sample drops the temporal delimiters an AV1 access unit starts with
// (AV1-ISOBMFF §2.4 keeps them out of samples). It does not copy.
func av1Sample(tu []byte) []byte {
	for len(tu) > 0 {
		var o av1.OBU
		if o.Unmarshal(tu) != nil || o.Type != av1.OBUTemporalDelimiter || o.Len >= len(tu) {
			return tu
		}
		tu = tu[o.Len:]
	}
	return tu
}
