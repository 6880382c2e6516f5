package aac

import (
	"errors"
	"fmt"

	"github.com/ripplemedia/ripple/pkg/codec/internal/bits"
)

// Config is an AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1).
//
// SBR/PS signalling (§1.6.5.2) is folded into SBR, PS and
// ExtensionSampleRate, so ObjectType is always the core codec (LC for
// HE-AAC). Both explicit forms are read: hierarchical (audioObjectType 5 or
// 29 first) and backward-compatible (the 0x2b7 sync extension after
// GASpecificConfig, with extension object type 5; SyncExtension records
// which form to write back). ffmpeg's AAC encoder always writes the sync
// extension with sbrPresentFlag 0. Implicit signalling (SBR data found only
// in the bitstream) cannot be seen here.
type Config struct {
	ObjectType    ObjectType // core audio object type, 1–95
	SampleRate    int        // core sampling frequency in Hz
	ChannelConfig uint8      // channelConfiguration, 0–15; 0 = defined by a PCE (not parsed)

	SBR                 bool // explicit SBR (audioObjectType 5 or 29)
	PS                  bool // explicit parametric stereo (audioObjectType 29)
	ExtensionSampleRate int  // SBR output rate, when SBR
	// ExtensionChannelConfig is present only for SBR/PS over ER BSAC (22).
	ExtensionChannelConfig uint8

	// GASpecificConfig (§4.4.1) for the general-audio object types.
	FrameLengthFlag    bool // 960-sample frames instead of 1024
	DependsOnCoreCoder bool
	CoreCoderDelay     uint16 // 14 bits
	ExtensionFlag      bool   // the fields it announces are not parsed

	// SyncExtension marks backward-compatible signalling: a 0x2b7 sync
	// extension with extension object type 5 follows GASpecificConfig and
	// carries SBR (sbrPresentFlag), ExtensionSampleRate and PS (0x548).
	SyncExtension bool
}

// Sync extension types (§1.6.2.1).
const (
	syncExtensionSBR = 0x2b7
	syncExtensionPS  = 0x548
)

// gaObjectType reports the object types whose specific config is
// GASpecificConfig (§1.6.2.1 switch).
func gaObjectType(t ObjectType) bool {
	switch t {
	case 1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23:
		return true
	}
	return false
}

// Unmarshal parses an AudioSpecificConfig. It does not retain b. Bits after
// the fields described on Config are ignored.
func (c *Config) Unmarshal(b []byte) error {
	*c = Config{}
	r := bits.NewReader(b)
	if err := c.parse(r); err != nil {
		if errors.Is(err, bits.ErrShort) {
			return fmt.Errorf("aac: audio specific config truncated at bit %d of %d", r.Pos(), len(b)*8)
		}
		return err
	}
	return nil
}

func readObjectType(r *bits.Reader) (ObjectType, error) {
	v, err := r.Bits(5)
	if err != nil {
		return 0, err
	}
	if v == 31 { // audioObjectTypeExt
		ext, err := r.Bits(6)
		if err != nil {
			return 0, err
		}
		v = 32 + ext
	}
	if v == 0 {
		return 0, errors.New("aac: audio object type 0 (null) invalid")
	}
	return ObjectType(v), nil
}

func readSampleRate(r *bits.Reader) (int, error) {
	idx, err := r.Bits(4)
	if err != nil {
		return 0, err
	}
	switch {
	case idx == 15:
		f, err := r.Bits(24)
		if err != nil {
			return 0, err
		}
		if f == 0 {
			return 0, errors.New("aac: explicit sampling frequency 0 invalid")
		}
		return int(f), nil
	case int(idx) >= len(sampleRates):
		return 0, fmt.Errorf("aac: sampling frequency index %d reserved", idx)
	}
	return sampleRates[idx], nil
}

func (c *Config) parse(r *bits.Reader) error {
	var err error
	if c.ObjectType, err = readObjectType(r); err != nil {
		return err
	}
	if c.SampleRate, err = readSampleRate(r); err != nil {
		return err
	}
	v, err := r.Bits(4)
	if err != nil {
		return err
	}
	c.ChannelConfig = uint8(v)
	if c.ObjectType == ObjectTypeSBR || c.ObjectType == ObjectTypePS {
		c.SBR = true
		c.PS = c.ObjectType == ObjectTypePS
		if c.ExtensionSampleRate, err = readSampleRate(r); err != nil {
			return err
		}
		if c.ObjectType, err = readObjectType(r); err != nil {
			return err
		}
		if c.ObjectType == ObjectTypeSBR || c.ObjectType == ObjectTypePS {
			return fmt.Errorf("aac: core audio object type %d nested in SBR/PS signalling", c.ObjectType)
		}
		if c.ObjectType == 22 {
			if v, err = r.Bits(4); err != nil {
				return err
			}
			c.ExtensionChannelConfig = uint8(v)
		}
	}
	if !gaObjectType(c.ObjectType) {
		return nil
	}
	if c.FrameLengthFlag, err = r.Flag(); err != nil {
		return err
	}
	if c.DependsOnCoreCoder, err = r.Flag(); err != nil {
		return err
	}
	if c.DependsOnCoreCoder {
		if v, err = r.Bits(14); err != nil {
			return err
		}
		c.CoreCoderDelay = uint16(v)
	}
	if c.ExtensionFlag, err = r.Flag(); err != nil {
		return err
	}
	if c.SBR || c.ChannelConfig == 0 || c.ExtensionFlag || r.Left() < 16 {
		// Hierarchical signalling already seen, or a PCE / extension
		// fields (not parsed) sit between here and the sync extension.
		return nil
	}
	return c.parseSyncExtension(r)
}

// parseSyncExtension reads backward-compatible SBR/PS signalling. Anything
// but a 0x2b7 extension of object type 5 is ignored.
func (c *Config) parseSyncExtension(r *bits.Reader) error {
	v, err := r.Bits(11)
	if err != nil || v != syncExtensionSBR {
		return nil
	}
	ext, err := readObjectType(r)
	if err != nil || ext != ObjectTypeSBR {
		return nil
	}
	if c.SBR, err = r.Flag(); err != nil {
		c.SBR = false
		return nil
	}
	c.SyncExtension = true
	if !c.SBR {
		return nil
	}
	if c.ExtensionSampleRate, err = readSampleRate(r); err != nil {
		return err
	}
	if r.Left() >= 12 {
		if v, _ = r.Bits(11); v == syncExtensionPS {
			c.PS, _ = r.Flag()
		}
	}
	return nil
}

// Marshal encodes c. Channel configuration 0 is rejected: the program
// config element it requires is not modelled.
func (c Config) Marshal() ([]byte, error) {
	if c.ObjectType == 0 || c.ObjectType > 95 {
		return nil, fmt.Errorf("aac: audio object type %d out of range [1, 95]", c.ObjectType)
	}
	if c.ObjectType == ObjectTypeSBR || c.ObjectType == ObjectTypePS {
		return nil, fmt.Errorf("aac: audio object type %d must be expressed with the SBR/PS flags", c.ObjectType)
	}
	if c.ChannelConfig == 0 || c.ChannelConfig > 15 {
		return nil, fmt.Errorf("aac: channel configuration %d out of range [1, 15]", c.ChannelConfig)
	}
	if c.PS && !c.SBR {
		return nil, errors.New("aac: PS requires SBR")
	}
	if c.CoreCoderDelay >= 1<<14 {
		return nil, fmt.Errorf("aac: core coder delay %d exceeds maximum allowed (16383)", c.CoreCoderDelay)
	}
	if c.SyncExtension && (!gaObjectType(c.ObjectType) || c.ExtensionFlag) {
		return nil, fmt.Errorf("aac: sync extension after audio object type %d with extension flag %t not supported", c.ObjectType, c.ExtensionFlag)
	}
	hierarchical := c.SBR && !c.SyncExtension
	w := bits.NewWriter(make([]byte, 0, 8))
	switch {
	case hierarchical && c.PS:
		writeObjectType(w, ObjectTypePS)
	case hierarchical:
		writeObjectType(w, ObjectTypeSBR)
	default:
		writeObjectType(w, c.ObjectType)
	}
	if err := writeSampleRate(w, c.SampleRate); err != nil {
		return nil, err
	}
	w.Bits(uint32(c.ChannelConfig), 4)
	if hierarchical {
		if err := writeSampleRate(w, c.ExtensionSampleRate); err != nil {
			return nil, err
		}
		writeObjectType(w, c.ObjectType)
		if c.ObjectType == 22 {
			w.Bits(uint32(c.ExtensionChannelConfig), 4)
		}
	}
	if gaObjectType(c.ObjectType) {
		w.Flag(c.FrameLengthFlag)
		w.Flag(c.DependsOnCoreCoder)
		if c.DependsOnCoreCoder {
			w.Bits(uint32(c.CoreCoderDelay), 14)
		}
		w.Flag(c.ExtensionFlag)
	}
	if c.SyncExtension {
		w.Bits(syncExtensionSBR, 11)
		writeObjectType(w, ObjectTypeSBR)
		w.Flag(c.SBR)
		if c.SBR {
			if err := writeSampleRate(w, c.ExtensionSampleRate); err != nil {
				return nil, err
			}
			if c.PS {
				w.Bits(syncExtensionPS, 11)
				w.Flag(true)
			}
		}
	}
	return w.Bytes(), nil
}

func writeObjectType(w *bits.Writer, t ObjectType) {
	if t >= 31 {
		w.Bits(31, 5)
		w.Bits(uint32(t-32), 6)
		return
	}
	w.Bits(uint32(t), 5)
}

func writeSampleRate(w *bits.Writer, rate int) error {
	if rate <= 0 || rate >= 1<<24 {
		return fmt.Errorf("aac: sampling frequency %d out of range [1, 16777215]", rate)
	}
	if i := sampleRateIndex(rate); i >= 0 {
		w.Bits(uint32(i), 4)
		return nil
	}
	w.Bits(15, 4)
	w.Bits(uint32(rate), 24)
	return nil
}

// ChannelCount returns the number of channels of the channel
// configuration, or 0 when it is defined by a PCE or reserved.
func (c Config) ChannelCount() int { return channelCounts[c.ChannelConfig&0x0F] }

// FrameSamples returns the samples per channel in one raw AAC frame of the
// core codec: 960 or 1024 (GASpecificConfig frameLengthFlag).
func (c Config) FrameSamples() int {
	if c.FrameLengthFlag {
		return 960
	}
	return 1024
}
