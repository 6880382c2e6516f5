package hevc

import (
	"errors"
	"fmt"

	"github.com/ripplemedia/ripple/pkg/codec/internal/bits"
)

// MaxDimension bounds pic_width/height_in_luma_samples. Level 6.2 (Table
// A.8) allows sides up to sqrt(8·MaxLumaPs) ≈ 16888 samples.
const MaxDimension = 16384

// SPS holds the leading fields of a sequence parameter set (H.265
// §7.3.2.2.1) up to the bit depths: enough for profile, level, picture size
// and chroma format. Parsing stops there: the frame rate sits in the VUI,
// behind short-term reference picture sets and scaling lists, and is not
// read (DecoderConfig.AvgFrameRate or onMetaData carry it when encoders
// fill them in).
type SPS struct {
	VPSID            uint8
	MaxSubLayers     uint8 // sps_max_sub_layers_minus1 + 1
	TemporalIDNested bool

	// general_profile_tier_level (§7.3.3); sub-layer entries are skipped.
	GeneralProfileSpace              uint8
	GeneralTier                      bool
	GeneralProfileIdc                uint8
	GeneralProfileCompatibilityFlags uint32
	GeneralLevelIdc                  uint8

	ID                     uint32 // sps_seq_parameter_set_id
	ChromaFormatIdc        uint32
	SeparateColourPlane    bool
	PicWidthInLumaSamples  uint32
	PicHeightInLumaSamples uint32
	ConformanceWindow      bool
	ConfWinLeft            uint32 // in chroma sample units (§7.4.3.2.1)
	ConfWinRight           uint32
	ConfWinTop             uint32
	ConfWinBottom          uint32
	BitDepthLuma           uint32
	BitDepthChroma         uint32
}

// Unmarshal parses an SPS NAL unit, starting with its two-byte NAL header.
// It does not retain nalu.
func (s *SPS) Unmarshal(nalu []byte) error {
	*s = SPS{}
	if len(nalu) < 3 {
		return fmt.Errorf("hevc: SPS too short (%d bytes, need at least 3)", len(nalu))
	}
	if t := TypeOf(nalu); t != NALUSPS {
		return fmt.Errorf("hevc: NAL unit type %d is not an SPS (33)", t)
	}
	r := bits.NewReader(bits.RBSP(nalu[2:]))
	if err := s.parse(r); err != nil {
		if errors.Is(err, bits.ErrShort) {
			return fmt.Errorf("hevc: SPS truncated at bit %d", r.Pos())
		}
		return err
	}
	if w, h := s.Width(), s.Height(); w <= 0 || h <= 0 {
		return fmt.Errorf("hevc: SPS conformance window (left %d, right %d, top %d, bottom %d) leaves a %dx%d picture",
			s.ConfWinLeft, s.ConfWinRight, s.ConfWinTop, s.ConfWinBottom, w, h)
	}
	return nil
}

func ueMax(r *bits.Reader, name string, lo, hi uint32) (uint32, error) {
	v, err := r.UE()
	if err != nil {
		return 0, err
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("hevc: SPS %s %d out of range [%d, %d]", name, v, lo, hi)
	}
	return v, nil
}

func (s *SPS) parse(r *bits.Reader) error {
	v, err := r.Bits(8)
	if err != nil {
		return err
	}
	s.VPSID = uint8(v >> 4)
	s.MaxSubLayers = uint8(v>>1&7) + 1
	s.TemporalIDNested = v&1 == 1
	if s.MaxSubLayers > 7 {
		return fmt.Errorf("hevc: SPS sps_max_sub_layers_minus1 %d out of range [0, 6]", s.MaxSubLayers-1)
	}
	if err = s.parseProfileTierLevel(r); err != nil {
		return err
	}
	if s.ID, err = ueMax(r, "sps_seq_parameter_set_id", 0, 15); err != nil {
		return err
	}
	if s.ChromaFormatIdc, err = ueMax(r, "chroma_format_idc", 0, 3); err != nil {
		return err
	}
	if s.ChromaFormatIdc == 3 {
		if s.SeparateColourPlane, err = r.Flag(); err != nil {
			return err
		}
	}
	if s.PicWidthInLumaSamples, err = ueMax(r, "pic_width_in_luma_samples", 1, MaxDimension); err != nil {
		return err
	}
	if s.PicHeightInLumaSamples, err = ueMax(r, "pic_height_in_luma_samples", 1, MaxDimension); err != nil {
		return err
	}
	if s.ConformanceWindow, err = r.Flag(); err != nil {
		return err
	}
	if s.ConformanceWindow {
		for _, p := range []*uint32{&s.ConfWinLeft, &s.ConfWinRight, &s.ConfWinTop, &s.ConfWinBottom} {
			if *p, err = ueMax(r, "conf_win_offset", 0, MaxDimension); err != nil {
				return err
			}
		}
	}
	if v, err = ueMax(r, "bit_depth_luma_minus8", 0, 8); err != nil {
		return err
	}
	s.BitDepthLuma = v + 8
	if v, err = ueMax(r, "bit_depth_chroma_minus8", 0, 8); err != nil {
		return err
	}
	s.BitDepthChroma = v + 8
	return nil
}

// parseProfileTierLevel reads profile_tier_level(1, sps_max_sub_layers_minus1)
// (§7.3.3), keeping the general fields.
func (s *SPS) parseProfileTierLevel(r *bits.Reader) error {
	v, err := r.Bits(8)
	if err != nil {
		return err
	}
	s.GeneralProfileSpace = uint8(v >> 6)
	s.GeneralTier = v&0x20 != 0
	s.GeneralProfileIdc = uint8(v & 0x1F)
	if s.GeneralProfileCompatibilityFlags, err = r.Bits(32); err != nil {
		return err
	}
	// progressive, interlaced, non_packed, frame_only flags + 43 + 1 bits.
	if err = r.Skip(48); err != nil {
		return err
	}
	if v, err = r.Bits(8); err != nil {
		return err
	}
	s.GeneralLevelIdc = uint8(v)
	sub := int(s.MaxSubLayers) - 1
	var profilePresent, levelPresent [6]bool
	for i := range sub {
		if profilePresent[i], err = r.Flag(); err != nil {
			return err
		}
		if levelPresent[i], err = r.Flag(); err != nil {
			return err
		}
	}
	if sub > 0 {
		if err = r.Skip(2 * (8 - sub)); err != nil { // reserved_zero_2bits
			return err
		}
	}
	for i := range sub {
		if profilePresent[i] {
			if err = r.Skip(88); err != nil {
				return err
			}
		}
		if levelPresent[i] {
			if err = r.Skip(8); err != nil {
				return err
			}
		}
	}
	return nil
}

// subWH returns SubWidthC and SubHeightC (H.265 Table 6-1).
func (s SPS) subWH() (int, int) {
	if s.SeparateColourPlane {
		return 1, 1
	}
	switch s.ChromaFormatIdc {
	case 1:
		return 2, 2
	case 2:
		return 2, 1
	}
	return 1, 1
}

// Width returns the picture width after the conformance window.
func (s SPS) Width() int {
	x, _ := s.subWH()
	return int(s.PicWidthInLumaSamples) - x*(int(s.ConfWinLeft)+int(s.ConfWinRight))
}

// Height returns the picture height after the conformance window.
func (s SPS) Height() int {
	_, y := s.subWH()
	return int(s.PicHeightInLumaSamples) - y*(int(s.ConfWinTop)+int(s.ConfWinBottom))
}
