package av1

import (
	"errors"
	"fmt"
	"strings"
)

// OBU is one open_bitstream_unit of the low overhead bitstream format
// (AV1 §5.3.1): a one- or two-byte header, an optional leb128 obu_size and
// the payload.
type OBU struct {
	Type OBUType
	// HasSize is obu_has_size_field. Without it the OBU runs to the end of
	// the data it was read from (AV1-ISOBMFF §2.4 allows that for the last
	// OBU of a sample).
	HasSize    bool
	Extension  bool  // obu_extension_flag: TemporalID and SpatialID are set
	TemporalID uint8 // 3 bits
	SpatialID  uint8 // 2 bits
	Payload    []byte
	// Len is the size of the whole OBU in the data: header, size field and
	// payload. The next OBU starts there.
	Len int
}

// Unmarshal parses the OBU at the start of b. Payload aliases b. It does
// not allocate unless it fails.
func (o *OBU) Unmarshal(b []byte) error {
	*o = OBU{}
	if len(b) == 0 {
		return errors.New("av1: obu header missing")
	}
	h := b[0]
	if h&0x80 != 0 {
		return fmt.Errorf("av1: obu header 0x%02x has the forbidden bit set", h)
	}
	o.Type = OBUType(h >> 3 & 0x0F)
	o.Extension = h&0x04 != 0
	o.HasSize = h&0x02 != 0
	pos := 1
	if o.Extension {
		if len(b) < 2 {
			return errors.New("av1: obu extension header missing")
		}
		o.TemporalID = b[1] >> 5
		o.SpatialID = b[1] >> 3 & 0x03
		pos = 2
	}
	size := len(b) - pos
	if o.HasSize {
		v, n, err := ReadLEB128(b[pos:])
		if err != nil {
			return fmt.Errorf("av1: obu size: %s", reason(err))
		}
		pos += n
		if v > uint64(len(b)-pos) {
			return fmt.Errorf("av1: obu size %d exceeds the %d bytes left", v, len(b)-pos)
		}
		size = int(v)
	}
	o.Payload = b[pos : pos+size : pos+size]
	o.Len = pos + size
	return nil
}

// AppendOBU appends an OBU of type t with obu_has_size_field set, no
// extension, and payload.
func AppendOBU(b []byte, t OBUType, payload []byte) []byte {
	b = append(b, byte(t&0x0F)<<3|0x02)
	b = AppendLEB128(b, uint32(len(payload)))
	return append(b, payload...)
}

// reason is err's message without this package's prefix, for errors that
// wrap another one of ours.
func reason(err error) string { return strings.TrimPrefix(err.Error(), "av1: ") }
