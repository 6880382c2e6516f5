package h264

import (
	"errors"
	"fmt"

	"github.com/ripplemedia/ripple/pkg/codec/internal/bits"
)

// MaxDimension bounds the coded picture width and height in luma samples.
// Level 6.2 (Table A-1) allows at most 139264 macroblocks per frame with
// either side ≤ sqrt(8·MaxFS) ≈ 16880 samples; 16384 covers every real
// stream and keeps width·height well inside an int32.
const MaxDimension = 16384

// SPS holds the fields of a sequence parameter set (H.264 §7.3.2.1.1) that
// describe the picture: profile, level, chroma format, size, cropping and
// the VUI aspect ratio and timing (Annex E.1.1). Parsing stops after
// timing_info; the HRD and later VUI fields are not read.
type SPS struct {
	ProfileIdc      uint8
	ConstraintFlags uint8 // constraint_set0_flag..constraint_set5_flag + reserved bits
	LevelIdc        uint8
	ID              uint32 // seq_parameter_set_id

	ChromaFormatIdc     uint32 // 0 monochrome, 1 4:2:0 (default), 2 4:2:2, 3 4:4:4
	SeparateColourPlane bool
	BitDepthLuma        uint32 // 8 + bit_depth_luma_minus8
	BitDepthChroma      uint32

	Log2MaxFrameNum       uint32
	PicOrderCntType       uint32
	Log2MaxPicOrderCntLsb uint32 // only for PicOrderCntType 0
	MaxNumRefFrames       uint32

	PicWidthInMbs       uint32 // pic_width_in_mbs_minus1 + 1
	PicHeightInMapUnits uint32 // pic_height_in_map_units_minus1 + 1
	FrameMbsOnly        bool
	FrameCropping       bool
	CropLeft            uint32 // frame_crop_*_offset, in crop units (§7.4.2.1.1)
	CropRight           uint32
	CropTop             uint32
	CropBottom          uint32

	VUIPresent     bool
	AspectRatioIdc uint8  // 0 unspecified; 255 = explicit SARWidth:SARHeight
	SARWidth       uint16 // only for AspectRatioIdc 255
	SARHeight      uint16
	TimingInfo     bool
	NumUnitsInTick uint32
	TimeScale      uint32
	FixedFrameRate bool
}

// profiles whose SPS carries chroma_format_idc and bit depths (§7.3.2.1.1).
func highProfile(p uint8) bool {
	switch p {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		return true
	}
	return false
}

// Unmarshal parses an SPS NAL unit, starting with its one-byte NAL header.
// It does not retain nalu.
func (s *SPS) Unmarshal(nalu []byte) error {
	*s = SPS{}
	if len(nalu) < 4 {
		return fmt.Errorf("h264: SPS too short (%d bytes, need at least 4)", len(nalu))
	}
	if t := TypeOf(nalu); t != NALUSPS {
		return fmt.Errorf("h264: NAL unit type %d is not an SPS (7)", t)
	}
	r := bits.NewReader(bits.RBSP(nalu[1:]))
	if err := s.parse(r); err != nil {
		if errors.Is(err, bits.ErrShort) {
			return fmt.Errorf("h264: SPS truncated at bit %d", r.Pos())
		}
		return err
	}
	if w, h := s.Width(), s.Height(); w <= 0 || h <= 0 {
		return fmt.Errorf("h264: SPS frame cropping (left %d, right %d, top %d, bottom %d) leaves a %dx%d picture",
			s.CropLeft, s.CropRight, s.CropTop, s.CropBottom, w, h)
	}
	return nil
}

// ueMax reads ue(v) and checks it against an upper bound.
func ueMax(r *bits.Reader, name string, limit uint32) (uint32, error) {
	v, err := r.UE()
	if err != nil {
		return 0, err
	}
	if v > limit {
		return 0, fmt.Errorf("h264: SPS %s %d out of range [0, %d]", name, v, limit)
	}
	return v, nil
}

func (s *SPS) parse(r *bits.Reader) error {
	var v uint32
	var err error
	if v, err = r.Bits(24); err != nil {
		return err
	}
	s.ProfileIdc, s.ConstraintFlags, s.LevelIdc = uint8(v>>16), uint8(v>>8), uint8(v)
	if s.ID, err = ueMax(r, "seq_parameter_set_id", 31); err != nil {
		return err
	}
	s.ChromaFormatIdc, s.BitDepthLuma, s.BitDepthChroma = 1, 8, 8
	if highProfile(s.ProfileIdc) {
		if s.ChromaFormatIdc, err = ueMax(r, "chroma_format_idc", 3); err != nil {
			return err
		}
		if s.ChromaFormatIdc == 3 {
			if s.SeparateColourPlane, err = r.Flag(); err != nil {
				return err
			}
		}
		if v, err = ueMax(r, "bit_depth_luma_minus8", 6); err != nil {
			return err
		}
		s.BitDepthLuma = v + 8
		if v, err = ueMax(r, "bit_depth_chroma_minus8", 6); err != nil {
			return err
		}
		s.BitDepthChroma = v + 8
		if err = r.Skip(1); err != nil { // qpprime_y_zero_transform_bypass_flag
			return err
		}
		present, err := r.Flag() // seq_scaling_matrix_present_flag
		if err != nil {
			return err
		}
		if present {
			lists := 8
			if s.ChromaFormatIdc == 3 {
				lists = 12
			}
			for i := range lists {
				listPresent, err := r.Flag()
				if err != nil {
					return err
				}
				if !listPresent {
					continue
				}
				size := 16
				if i >= 6 {
					size = 64
				}
				if err = skipScalingList(r, size); err != nil {
					return err
				}
			}
		}
	}
	if v, err = ueMax(r, "log2_max_frame_num_minus4", 12); err != nil {
		return err
	}
	s.Log2MaxFrameNum = v + 4
	if s.PicOrderCntType, err = ueMax(r, "pic_order_cnt_type", 2); err != nil {
		return err
	}
	switch s.PicOrderCntType {
	case 0:
		if v, err = ueMax(r, "log2_max_pic_order_cnt_lsb_minus4", 12); err != nil {
			return err
		}
		s.Log2MaxPicOrderCntLsb = v + 4
	case 1:
		if err = r.Skip(1); err != nil { // delta_pic_order_always_zero_flag
			return err
		}
		if _, err = r.SE(); err != nil { // offset_for_non_ref_pic
			return err
		}
		if _, err = r.SE(); err != nil { // offset_for_top_to_bottom_field
			return err
		}
		n, err := ueMax(r, "num_ref_frames_in_pic_order_cnt_cycle", 255)
		if err != nil {
			return err
		}
		for range n {
			if _, err = r.SE(); err != nil { // offset_for_ref_frame[i]
				return err
			}
		}
	}
	if s.MaxNumRefFrames, err = r.UE(); err != nil {
		return err
	}
	if err = r.Skip(1); err != nil { // gaps_in_frame_num_value_allowed_flag
		return err
	}
	if v, err = ueMax(r, "pic_width_in_mbs_minus1", MaxDimension/16-1); err != nil {
		return err
	}
	s.PicWidthInMbs = v + 1
	if v, err = ueMax(r, "pic_height_in_map_units_minus1", MaxDimension/16-1); err != nil {
		return err
	}
	s.PicHeightInMapUnits = v + 1
	if s.FrameMbsOnly, err = r.Flag(); err != nil {
		return err
	}
	if !s.FrameMbsOnly {
		if s.PicHeightInMapUnits*32 > MaxDimension {
			return fmt.Errorf("h264: SPS field picture height %d exceeds maximum allowed (%d)", s.PicHeightInMapUnits*32, MaxDimension)
		}
		if err = r.Skip(1); err != nil { // mb_adaptive_frame_field_flag
			return err
		}
	}
	if err = r.Skip(1); err != nil { // direct_8x8_inference_flag
		return err
	}
	if s.FrameCropping, err = r.Flag(); err != nil {
		return err
	}
	if s.FrameCropping {
		for _, p := range []*uint32{&s.CropLeft, &s.CropRight, &s.CropTop, &s.CropBottom} {
			if *p, err = ueMax(r, "frame_crop_offset", MaxDimension); err != nil {
				return err
			}
		}
	}
	if s.VUIPresent, err = r.Flag(); err != nil {
		return err
	}
	if s.VUIPresent {
		return s.parseVUI(r)
	}
	return nil
}

// skipScalingList walks scaling_list() (§7.3.2.1.1.1) without storing it.
func skipScalingList(r *bits.Reader, size int) error {
	last, next := int32(8), int32(8)
	for range size {
		if next != 0 {
			delta, err := r.SE()
			if err != nil {
				return err
			}
			if delta < -128 || delta > 127 {
				return fmt.Errorf("h264: SPS delta_scale %d out of range [-128, 127]", delta)
			}
			next = (last + delta + 256) % 256
		}
		if next != 0 {
			last = next
		}
	}
	return nil
}

// parseVUI reads vui_parameters() (Annex E.1.1) up to timing_info.
func (s *SPS) parseVUI(r *bits.Reader) error {
	present, err := r.Flag() // aspect_ratio_info_present_flag
	if err != nil {
		return err
	}
	if present {
		v, err := r.Bits(8)
		if err != nil {
			return err
		}
		s.AspectRatioIdc = uint8(v)
		if s.AspectRatioIdc == 255 { // Extended_SAR
			if v, err = r.Bits(32); err != nil {
				return err
			}
			s.SARWidth, s.SARHeight = uint16(v>>16), uint16(v)
		}
	}
	if present, err = r.Flag(); err != nil { // overscan_info_present_flag
		return err
	}
	if present {
		if err = r.Skip(1); err != nil {
			return err
		}
	}
	if present, err = r.Flag(); err != nil { // video_signal_type_present_flag
		return err
	}
	if present {
		if err = r.Skip(4); err != nil { // video_format, video_full_range_flag
			return err
		}
		colour, err := r.Flag()
		if err != nil {
			return err
		}
		if colour {
			if err = r.Skip(24); err != nil {
				return err
			}
		}
	}
	if present, err = r.Flag(); err != nil { // chroma_loc_info_present_flag
		return err
	}
	if present {
		if _, err = r.UE(); err != nil {
			return err
		}
		if _, err = r.UE(); err != nil {
			return err
		}
	}
	if s.TimingInfo, err = r.Flag(); err != nil {
		return err
	}
	if s.TimingInfo {
		if s.NumUnitsInTick, err = r.Bits(32); err != nil {
			return err
		}
		if s.TimeScale, err = r.Bits(32); err != nil {
			return err
		}
		if s.FixedFrameRate, err = r.Flag(); err != nil {
			return err
		}
	}
	return nil
}

// cropUnits returns CropUnitX and CropUnitY (§7.4.2.1.1, Table 6-1).
func (s SPS) cropUnits() (x, y int) {
	frameFactor := 1
	if !s.FrameMbsOnly {
		frameFactor = 2
	}
	if s.SeparateColourPlane || s.ChromaFormatIdc == 0 { // ChromaArrayType 0
		return 1, frameFactor
	}
	switch s.ChromaFormatIdc {
	case 1:
		return 2, 2 * frameFactor
	case 2:
		return 2, frameFactor
	}
	return 1, frameFactor
}

// Width returns the cropped picture width in luma samples.
func (s SPS) Width() int {
	x, _ := s.cropUnits()
	return int(s.PicWidthInMbs)*16 - x*(int(s.CropLeft)+int(s.CropRight))
}

// Height returns the cropped frame height in luma samples (both fields
// for interlaced streams).
func (s SPS) Height() int {
	_, y := s.cropUnits()
	h := int(s.PicHeightInMapUnits) * 16
	if !s.FrameMbsOnly {
		h *= 2
	}
	return h - y*(int(s.CropTop)+int(s.CropBottom))
}

// FrameRate returns time_scale / (2·num_units_in_tick) (Annex E.2.1: a
// frame is two field ticks), or 0 when the VUI carries no timing info.
func (s SPS) FrameRate() float64 {
	if !s.TimingInfo || s.NumUnitsInTick == 0 {
		return 0
	}
	return float64(s.TimeScale) / (2 * float64(s.NumUnitsInTick))
}
