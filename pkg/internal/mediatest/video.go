package mediatest

import (
	"encoding/binary"

	"github.com/ripplemedia/ripple/pkg/av"
)

// FLV VideoTagHeader (FLV v10.1 §E.4.3.1) for AVC: FrameType(4) | CodecID(4),
// AVCPacketType, CompositionTime SI24.
const (
	avcCodecID     = 7
	frameKey       = 1
	frameInter     = 2
	avcSeqHeader   = 0
	avcNALU        = 1
	nalTypeNonIDR  = 1
	nalTypeIDR     = 5
	nalTypeSPS     = 7
	nalTypePPS     = 8
	avcProfileBase = 66
	avcLevel40     = 40
)

// VideoHeader returns an AVC sequence header packet (AVCPacketType 0) with an
// AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.2.4.1) holding one
// Baseline SPS for width×height and one PPS.
func VideoHeader(ts uint32, width, height int) *av.Packet {
	sps := SPS(width, height)
	pps := PPS()
	b := []byte{frameKey<<4 | avcCodecID, avcSeqHeader, 0, 0, 0}
	b = append(b,
		1,                      // configurationVersion
		sps[1], sps[2], sps[3], // profile, compatibility, level
		0xFC|3, // reserved + lengthSizeMinusOne: 4-byte NALU lengths
		0xE0|1, // reserved + numOfSequenceParameterSets
	)
	b = binary.BigEndian.AppendUint16(b, uint16(len(sps)))
	b = append(b, sps...)
	b = append(b, 1) // numOfPictureParameterSets
	b = binary.BigEndian.AppendUint16(b, uint16(len(pps)))
	b = append(b, pps...)
	return &av.Packet{Kind: av.KindVideo, Codec: av.CodecH264, Keyframe: true, Header: true, DTS: int64(ts), Data: b}
}

// VideoFrame returns an AVC NALU packet (AVCPacketType 1, CTS 0) holding one
// length-prefixed NAL unit: IDR (type 5) for a keyframe, non-IDR (type 1)
// otherwise, with size filler bytes derived from seed.
func VideoFrame(ts uint32, key bool, size int, seed byte) *av.Packet {
	ft, nal := byte(frameInter), byte(2<<5|nalTypeNonIDR)
	if key {
		ft, nal = frameKey, 3<<5|nalTypeIDR
	}
	b := make([]byte, 0, 5+4+1+size)
	b = append(b, ft<<4|avcCodecID, avcNALU, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(1+size))
	b = append(b, nal)
	for i := range size {
		b = append(b, 0x80|(seed+byte(i))&0x7F) // never 0: no start-code look-alikes
	}
	return &av.Packet{Kind: av.KindVideo, Codec: av.CodecH264, Keyframe: key, DTS: int64(ts), Data: b}
}

// SPS returns a Baseline-profile sequence parameter set NAL unit (ITU-T H.264
// §7.3.2.1.1) for width×height (cropped from whole macroblocks), level 4.0,
// POC type 2, no VUI.
func SPS(width, height int) []byte {
	mbW, mbH := (width+15)/16, (height+15)/16
	var w bitWriter
	w.bits(avcProfileBase, 8)
	w.bits(0xC0, 8) // constraint_set0_flag, constraint_set1_flag
	w.bits(avcLevel40, 8)
	w.ue(0) // seq_parameter_set_id
	w.ue(0) // log2_max_frame_num_minus4
	w.ue(2) // pic_order_cnt_type
	w.ue(1) // max_num_ref_frames
	w.bits(0, 1)
	w.ue(uint32(mbW - 1))
	w.ue(uint32(mbH - 1))
	w.bits(1, 1)                                        // frame_mbs_only_flag
	w.bits(1, 1)                                        // direct_8x8_inference_flag
	cropR, cropB := (mbW*16-width)/2, (mbH*16-height)/2 // CropUnit 2 for 4:2:0
	if cropR > 0 || cropB > 0 {
		w.bits(1, 1)
		w.ue(0)
		w.ue(uint32(cropR))
		w.ue(0)
		w.ue(uint32(cropB))
	} else {
		w.bits(0, 1)
	}
	w.bits(0, 1) // vui_parameters_present_flag
	return nalUnit(3<<5|nalTypeSPS, w.trailing())
}

// PPS returns a picture parameter set NAL unit (ITU-T H.264 §7.3.2.2) for
// the SPS above: CAVLC, one slice group, deblocking control present.
func PPS() []byte {
	var w bitWriter
	w.ue(0)      // pic_parameter_set_id
	w.ue(0)      // seq_parameter_set_id
	w.bits(0, 1) // entropy_coding_mode_flag
	w.bits(0, 1) // bottom_field_pic_order_in_frame_present_flag
	w.ue(0)      // num_slice_groups_minus1
	w.ue(0)      // num_ref_idx_l0_default_active_minus1
	w.ue(0)      // num_ref_idx_l1_default_active_minus1
	w.bits(0, 1) // weighted_pred_flag
	w.bits(0, 2) // weighted_bipred_idc
	w.ue(0)      // pic_init_qp_minus26 (se 0 == ue 0)
	w.ue(0)      // pic_init_qs_minus26
	w.ue(0)      // chroma_qp_index_offset
	w.bits(1, 1) // deblocking_filter_control_present_flag
	w.bits(0, 1) // constrained_intra_pred_flag
	w.bits(0, 1) // redundant_pic_cnt_present_flag
	return nalUnit(3<<5|nalTypePPS, w.trailing())
}

// nalUnit prefixes the NAL header and inserts emulation-prevention bytes
// (ITU-T H.264 §7.4.1: 0x03 after two zero bytes before a byte <= 3).
func nalUnit(header byte, rbsp []byte) []byte {
	out := []byte{header}
	zeros := 0
	for _, c := range rbsp {
		if zeros >= 2 && c <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// bitWriter writes MSB-first bits and Exp-Golomb codes (ITU-T H.264 §9.1).
type bitWriter struct {
	b    []byte
	nbit uint // bits used in the last byte (0..7; 0 = start a new byte)
}

func (w *bitWriter) bits(v uint32, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		if w.nbit == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.b[len(w.b)-1] |= 0x80 >> w.nbit
		}
		w.nbit = (w.nbit + 1) % 8
	}
}

// ue writes v as unsigned Exp-Golomb: leading zeros, then v+1 in binary.
func (w *bitWriter) ue(v uint32) {
	x := uint64(v) + 1
	n := uint(0)
	for y := x; y > 1; y >>= 1 {
		n++
	}
	w.bits(0, n)
	w.bits(uint32(x), n+1)
}

// trailing appends rbsp_trailing_bits (a one, then zeros to a byte boundary).
func (w *bitWriter) trailing() []byte {
	w.bits(1, 1)
	w.nbit = 0
	return w.b
}
