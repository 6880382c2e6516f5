// Package ingest validates media where it enters the server: decoder
// configuration records (AVC, HEVC, AV1, AAC) and the NAL unit or OBU
// framing of coded video frames are checked once, on the publisher's
// goroutine, before a packet reaches the hub. A packet that fails is
// dropped by the caller (hub.Config.Validator), so every muxer and writer
// downstream may rely on these invariants for what it receives:
//
//   - An AVC sequence header is an AVCDecoderConfigurationRecord (ISO/IEC
//     14496-15 §5.3.3.1) of version 1 with a 1-, 2- or 4-byte NALU length
//     size, at least one SPS and one PPS, every parameter set non-empty and
//     of its NAL unit type (SPS 7, PPS 8, SPS extension 13), every SPS at
//     least 4 bytes (NAL header, profile_idc, constraint flags, level_idc:
//     what an RFC 6381 codec string reads), and no count or length that
//     runs past the record. Bytes after the last parameter set are allowed.
//   - An HEVC sequence header is an HEVCDecoderConfigurationRecord (§8.3.3.1)
//     of version 1 with a valid length size whose arrays hold VPS, SPS, PPS
//     or SEI units only (the types §8.3.3.1.2 allows), each unit non-empty,
//     at least its 2-byte NAL header long and of its array's type, with at
//     least one VPS, one SPS and one PPS.
//   - An AV1 sequence start is an AV1CodecConfigurationRecord
//     (AV1-ISOBMFF §2.3) whose configOBUs are well-formed; an AV1 MPEG-2 TS
//     sequence start is an AV1 video descriptor.
//   - An AAC sequence header is a non-empty AudioSpecificConfig (ISO/IEC
//     14496-3 §1.6.2.1) that parses, with a sampling frequency from Table
//     1.16 or an explicit non-zero one and a channel configuration that is
//     not reserved.
//   - An H.264 or HEVC coded frame is a sequence of length-prefixed NAL
//     units (§5.3.2, §8.3.2) that exactly fills the payload, split with the
//     length size of its track's last valid header (see Validator), with
//     at most h264/hevc.MaxNALUsPerAccessUnit length fields; a non-empty
//     HEVC unit holds its 2-byte header. Zero-length units are allowed:
//     every splitter (pkg/codec, mediacommon) skips them.
//   - An AV1 coded frame is a sequence of OBUs (AV1 §5.3) that exactly
//     fills the payload; only the last may lack a size field
//     (AV1-ISOBMFF §2.4).
//
// In an E-RTMP v2 multitrack message every track is checked (with its own
// state), and one bad track drops the message. VP8, VP9, VVC and the audio
// formats other than AAC are not looked into; video Metadata and
// SequenceEnd carry nothing a muxer reads.
//
// The checks are structural. A record that is well-formed but carries a
// parameter set pkg/codec cannot interpret is accepted: players that get
// the stream as is may decode it, and HLS decides for itself.
package ingest

import (
	"github.com/ripplemedia/ripple/pkg/av"
)

// maxTracks is the number of E-RTMP v2 track ids (UI8).
const maxTracks = 256

// defaultLengthSize is the NALU length size assumed for frames that arrive
// before any valid sequence header of their codec on their track: the size
// every RTMP encoder writes.
const defaultLengthSize = 4

// Validator checks the packets of one publish session. Not safe for
// concurrent use: one publisher goroutine calls Check. The frame path does
// not allocate.
//
// It keeps, per video track, the codec and NALU length size of the last
// valid sequence header: frames are split with that length size, or with
// 4 bytes when the track's last valid header is of another codec or there
// is none yet. Such frames are accepted rather than dropped: the hub and
// passthrough players (RTMP, HTTP-FLV) forward them, some publishers carry
// parameter sets in-band, and HLS waits for a header anyway. An invalid
// header is dropped and does not change the state, so the frames after it
// are checked against the last valid one.
type Validator struct {
	video [maxTracks]trackState
}

type trackState struct {
	codec      av.Codec // of the last valid sequence header
	lengthSize uint8    // its NALU length size (AVC, HEVC), else 0
}

// New returns a Validator for one publish session.
func New() *Validator { return &Validator{} }

// Check reports why p must be dropped, or nil. Audio and video packets are
// checked as documented on the package; script data is left alone (flv
// checks its name at parse time). Check reads p.Data and keeps nothing of
// it.
func (v *Validator) Check(p *av.Packet) error {
	switch p.Kind {
	case av.KindVideo:
		if len(p.Data) == 0 {
			return errEmptyVideo
		}
		return v.checkVideo(p.Data)
	case av.KindAudio:
		if len(p.Data) == 0 {
			return errEmptyAudio
		}
		return checkAudio(p.Data)
	}
	return nil
}

// lengthSize returns the NALU length size for a frame of codec c on track id.
func (v *Validator) lengthSize(id uint8, c av.Codec) int {
	if s := v.video[id]; s.codec == c && s.lengthSize != 0 {
		return int(s.lengthSize)
	}
	return defaultLengthSize
}
