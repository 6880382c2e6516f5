package hls

import (
	"bytes"
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/codec/aac"
	"github.com/ripplemedia/ripple/pkg/codec/h264"
	"github.com/ripplemedia/ripple/pkg/codec/hevc"
)

// videoTrack is the decoder configuration of the video track.
type videoTrack struct {
	codec      av.Codec // CodecH264 or CodecHEVC
	record     []byte   // the configuration record as received (for change detection)
	lengthSize int
	vps        []byte // HEVC only
	sps, pps   []byte
	params     [][]byte // parameter sets, prepended to keyframes in MPEG-TS
	codecStr   string   // RFC 6381 CODECS value
	// The picture size (RESOLUTION) from the SPS and the frame rate it
	// (H.264 VUI timing) or the HEVC record declares; 0 when unknown:
	// the multivariant playlist then leaves RESOLUTION out and measures
	// FRAME-RATE from the segments.
	width, height int
	fps           float64
}

// audioTrack is the decoder configuration of the (AAC) audio track.
type audioTrack struct {
	record       []byte // AudioSpecificConfig as received
	asc          mpeg4audio.AudioSpecificConfig
	sampleRate   int
	frameSamples int
	codecStr     string
}

// parseVideoConfig reads an AVC or HEVC decoder configuration record.
func parseVideoConfig(c av.Codec, record []byte) (*videoTrack, error) {
	vt := &videoTrack{codec: c, record: bytes.Clone(record)}
	switch c {
	case av.CodecH264:
		var dc h264.DecoderConfig
		if err := dc.Unmarshal(vt.record); err != nil {
			return nil, err
		}
		if len(dc.SPS) == 0 || len(dc.PPS) == 0 {
			return nil, fmt.Errorf("hls: avc config has %d sps and %d pps, want at least 1 of each", len(dc.SPS), len(dc.PPS))
		}
		// Writers index into the parameter sets (mediacommon reads the
		// NAL header of each NAL unit it is given): an empty or
		// mistyped one must not get that far. profile_idc,
		// constraint flags and level_idc follow the SPS NAL header
		// (ITU-T H.264 §7.3.2.1.1).
		if len(dc.SPS[0]) < 4 || h264.TypeOf(dc.SPS[0]) != h264.NALUSPS {
			return nil, fmt.Errorf("hls: avc config sps of %d bytes is not an sps", len(dc.SPS[0]))
		}
		if len(dc.PPS[0]) < 2 || h264.TypeOf(dc.PPS[0]) != h264.NALUPPS {
			return nil, fmt.Errorf("hls: avc config pps of %d bytes is not a pps", len(dc.PPS[0]))
		}
		vt.lengthSize, vt.sps, vt.pps = dc.LengthSize, dc.SPS[0], dc.PPS[0]
		vt.params = [][]byte{vt.sps, vt.pps}
		// RFC 6381 §3.3: avc1.PPCCLL from profile_idc, constraint flags, level_idc.
		vt.codecStr = fmt.Sprintf("avc1.%02x%02x%02x", vt.sps[1], vt.sps[2], vt.sps[3])
		// An SPS this parser cannot read still plays: only the
		// playlist attributes it would give are left out.
		var sps h264.SPS
		if sps.Unmarshal(vt.sps) == nil {
			vt.setPicture(sps.Width(), sps.Height(), sps.FrameRate())
		}
	case av.CodecHEVC:
		var dc hevc.DecoderConfig
		if err := dc.Unmarshal(vt.record); err != nil {
			return nil, err
		}
		vt.vps, vt.sps, vt.pps = dc.First(hevc.NALUVPS), dc.First(hevc.NALUSPS), dc.First(hevc.NALUPPS)
		if vt.vps == nil || vt.sps == nil || vt.pps == nil {
			return nil, fmt.Errorf("hls: hevc config lacks a vps, sps or pps")
		}
		// As for AVC: each set must at least hold its own 2-byte NAL unit
		// header of the right type (ITU-T H.265 §7.3.1.2) and some payload.
		for _, ps := range []struct {
			name string
			nalu []byte
			typ  hevc.NALUType
		}{{"vps", vt.vps, hevc.NALUVPS}, {"sps", vt.sps, hevc.NALUSPS}, {"pps", vt.pps, hevc.NALUPPS}} {
			if len(ps.nalu) < 3 || hevc.TypeOf(ps.nalu) != ps.typ {
				return nil, fmt.Errorf("hls: hevc config %s of %d bytes is not a %s", ps.name, len(ps.nalu), ps.name)
			}
		}
		vt.lengthSize = dc.LengthSize
		vt.params = [][]byte{vt.vps, vt.sps, vt.pps}
		vt.codecStr = hevcCodecString(&dc)
		// The HEVC SPS parser stops before the VUI: the record's
		// avgFrameRate (frames per 256 s, 0 unspecified) declares it.
		var sps hevc.SPS
		if sps.Unmarshal(vt.sps) == nil {
			vt.setPicture(sps.Width(), sps.Height(), float64(dc.AvgFrameRate)/256)
		}
	default:
		return nil, fmt.Errorf("hls: video codec %s not supported (h264, hevc)", c)
	}
	return vt, nil
}

// maxFrameRate bounds a declared frame rate worth announcing; beyond it
// (or at 0) the rate is measured instead.
const maxFrameRate = 1000

// setPicture keeps a plausible picture size and declared frame rate.
func (vt *videoTrack) setPicture(w, h int, fps float64) {
	if w > 0 && h > 0 {
		vt.width, vt.height = w, h
	}
	if fps > 0 && fps <= maxFrameRate {
		vt.fps = fps
	}
}

// hevcCodecString builds hvc1.<profile>.<compat>.<tier><level>.<constraints>
// per ISO/IEC 14496-15 Annex E.3.
func hevcCodecString(dc *hevc.DecoderConfig) string {
	var sb strings.Builder
	sb.WriteString("hvc1.")
	if dc.GeneralProfileSpace > 0 {
		sb.WriteByte("ABC"[min(dc.GeneralProfileSpace, 3)-1])
	}
	sb.WriteString(strconv.Itoa(int(dc.GeneralProfileIdc)))
	sb.WriteByte('.')
	sb.WriteString(strconv.FormatUint(uint64(bits.Reverse32(dc.GeneralProfileCompatibilityFlags)), 16))
	if dc.GeneralTier {
		sb.WriteString(".H")
	} else {
		sb.WriteString(".L")
	}
	sb.WriteString(strconv.Itoa(int(dc.GeneralLevelIdc)))
	var cons [6]byte
	for i := range cons {
		cons[i] = byte(dc.GeneralConstraintIndicatorFlags >> (8 * (5 - i)))
	}
	n := len(cons)
	for n > 0 && cons[n-1] == 0 {
		n--
	}
	for _, c := range cons[:n] {
		sb.WriteString("." + strings.ToUpper(strconv.FormatUint(uint64(c), 16)))
	}
	return sb.String()
}

// parseAudioConfig reads an AAC AudioSpecificConfig.
func parseAudioConfig(c av.Codec, record []byte) (*audioTrack, error) {
	if c != av.CodecAAC {
		return nil, fmt.Errorf("hls: audio codec %s not supported (aac)", c)
	}
	at := &audioTrack{record: bytes.Clone(record)}
	var cfg aac.Config
	if err := cfg.Unmarshal(at.record); err != nil {
		return nil, err
	}
	if err := at.asc.Unmarshal(at.record); err != nil {
		return nil, fmt.Errorf("hls: audio specific config: %w", err)
	}
	at.sampleRate = at.asc.SampleRate
	if at.sampleRate <= 0 {
		return nil, fmt.Errorf("hls: aac sample rate %d out of range", at.sampleRate)
	}
	at.frameSamples = cfg.FrameSamples()
	ot := int(cfg.ObjectType)
	switch {
	case cfg.PS:
		ot = 29
	case cfg.SBR:
		ot = 5
	}
	at.codecStr = "mp4a.40." + strconv.Itoa(ot)
	return at, nil
}

// codecs joins the CODECS attribute of the tracks present.
func codecs(v *videoTrack, a *audioTrack) string {
	var parts []string
	if v != nil {
		parts = append(parts, v.codecStr)
	}
	if a != nil {
		parts = append(parts, a.codecStr)
	}
	return strings.Join(parts, ",")
}

// picture is what a variant stream's video says of itself in a
// multivariant playlist (RESOLUTION, FRAME-RATE): whether there is video,
// its size and its declared frame rate, 0 when unknown.
type picture struct {
	video         bool
	width, height int
	fps           float64
}

func pictureOf(v *videoTrack) picture {
	if v == nil {
		return picture{}
	}
	return picture{video: true, width: v.width, height: v.height, fps: v.fps}
}
