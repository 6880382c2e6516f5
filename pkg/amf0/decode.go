package amf0

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Decode decodes one AMF0 value from the start of b and reports how many bytes
// it consumed (0 on error). The returned value never aliases b.
func Decode(b []byte) (v any, n int, err error) {
	d := decoder{b: b}
	v, err = d.value(0)
	if err != nil {
		return nil, 0, err
	}
	return v, d.off, nil
}

// DecodeAll decodes values until b is exhausted, as in a command or data
// message body. On error it returns the values decoded so far, so a caller can
// still use a well-formed prefix (ffmpeg timecode metadata broke servers that
// rejected whole messages, srs#3804).
func DecodeAll(b []byte) ([]any, error) {
	var vals []any
	d := decoder{b: b}
	for d.off < len(b) {
		v, err := d.value(0)
		if err != nil {
			return vals, fmt.Errorf("value %d: %w", len(vals), err)
		}
		vals = append(vals, v)
	}
	return vals, nil
}

// decoder walks b; off is the next unread byte; values counts the values
// produced so far against MaxValues.
type decoder struct {
	b      []byte
	off    int
	values int
}

// need fails unless n more bytes are available. what names the field for the error.
func (d *decoder) need(n int, what string) error {
	if n > len(d.b)-d.off {
		return fmt.Errorf("%w: %s needs %d bytes at offset %d, %d left", ErrTruncated, what, n, d.off, len(d.b)-d.off)
	}
	return nil
}

func (d *decoder) u16(what string) (int, error) {
	if err := d.need(2, what); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint16(d.b[d.off:])
	d.off += 2
	return int(v), nil
}

func (d *decoder) u32(what string) (uint32, error) {
	if err := d.need(4, what); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v, nil
}

func (d *decoder) float(what string) (float64, error) {
	if err := d.need(8, what); err != nil {
		return 0, err
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(d.b[d.off:]))
	d.off += 8
	return v, nil
}

// str reads n bytes as a string; the length was read from the input, so it is
// checked against what is left before anything is allocated.
func (d *decoder) str(n int, what string) (string, error) {
	if err := d.need(n, what); err != nil {
		return "", err
	}
	s := string(d.b[d.off : d.off+n])
	d.off += n
	return s, nil
}

func (d *decoder) shortString(what string) (string, error) {
	n, err := d.u16(what + " length")
	if err != nil {
		return "", err
	}
	return d.str(n, what)
}

func (d *decoder) longString(what string) (string, error) {
	n, err := d.u32(what + " length")
	if err != nil {
		return "", err
	}
	if uint64(n) > uint64(len(d.b)-d.off) {
		return "", fmt.Errorf("%w: %s of %d bytes at offset %d, %d left", ErrTruncated, what, n, d.off, len(d.b)-d.off)
	}
	return d.str(int(n), what)
}

// value decodes one value; depth counts the enclosing objects and arrays.
func (d *decoder) value(depth int) (any, error) {
	if err := d.need(1, "marker"); err != nil {
		return nil, err
	}
	if d.values >= MaxValues {
		return nil, fmt.Errorf("%w: more than %d at offset %d", ErrTooMany, MaxValues, d.off)
	}
	d.values++
	marker := d.b[d.off]
	d.off++
	switch marker {
	case markerNumber:
		return d.float("number")
	case markerBoolean:
		if err := d.need(1, "boolean"); err != nil {
			return nil, err
		}
		v := d.b[d.off] != 0
		d.off++
		return v, nil
	case markerString:
		return d.shortString("string")
	case markerObject:
		props, err := d.properties(depth+1, 0)
		if err != nil {
			return nil, err
		}
		return Object(props), nil
	case markerTypedObject:
		// AMF0 §2.18: class name then the properties of an anonymous object.
		if _, err := d.shortString("typed object class name"); err != nil {
			return nil, err
		}
		props, err := d.properties(depth+1, 0)
		if err != nil {
			return nil, err
		}
		return Object(props), nil
	case markerNull:
		return nil, nil
	case markerUndefined, markerUnsupported:
		return Undefined{}, nil
	case markerReference:
		// AMF0 §2.9: an index into the complex values already decoded. See the
		// package comment for why it decodes as Undefined.
		if _, err := d.u16("reference"); err != nil {
			return nil, err
		}
		return Undefined{}, nil
	case markerECMAArray:
		count, err := d.u32("ECMA array count")
		if err != nil {
			return nil, err
		}
		props, err := d.properties(depth+1, count)
		if err != nil {
			return nil, err
		}
		return ECMAArray(props), nil
	case markerStrictArray:
		return d.strictArray(depth + 1)
	case markerDate:
		ms, err := d.float("date")
		if err != nil {
			return nil, err
		}
		tz, err := d.u16("date time zone")
		if err != nil {
			return nil, err
		}
		return Date{Millis: ms, TZ: int16(tz)}, nil
	case markerLongString:
		return d.longString("long string")
	case markerXMLDocument:
		return d.longString("XML document")
	case markerAVMPlus:
		return nil, ErrAMF3
	case markerObjectEnd:
		return nil, fmt.Errorf("amf0: unexpected object end marker at offset %d", d.off-1)
	default:
		return nil, fmt.Errorf("amf0: unsupported marker 0x%02x at offset %d", marker, d.off-1)
	}
}

// properties reads key/value pairs up to the object end (empty key followed by
// marker 0x09, AMF0 §2.5). hint is the ECMA array count: it only caps the
// initial capacity, never drives allocation beyond it.
func (d *decoder) properties(depth int, hint uint32) ([]Property, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("%w: depth %d at offset %d exceeds %d", ErrDepth, depth, d.off, MaxDepth)
	}
	props := make([]Property, 0, min(hint, 16))
	for {
		key, err := d.shortString("property key")
		if err != nil {
			return nil, err
		}
		if key == "" {
			if err := d.need(1, "object end marker"); err != nil {
				return nil, err
			}
			if d.b[d.off] == markerObjectEnd {
				d.off++
				return props, nil
			}
			// An empty key followed by a real value: keep it rather than
			// failing, the end marker decides where the object stops.
		}
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		props = append(props, Property{Key: key, Value: v})
	}
}

// strictArray reads a counted array (AMF0 §2.12). Every element takes at least
// one byte, so a count larger than the bytes left is rejected up front; the
// slice still grows by append so that nested arrays cannot multiply a count.
func (d *decoder) strictArray(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("%w: depth %d at offset %d exceeds %d", ErrDepth, depth, d.off, MaxDepth)
	}
	count, err := d.u32("strict array count")
	if err != nil {
		return nil, err
	}
	if uint64(count) > uint64(len(d.b)-d.off) {
		return nil, fmt.Errorf("%w: strict array of %d values at offset %d, %d bytes left", ErrTruncated, count, d.off, len(d.b)-d.off)
	}
	arr := make(StrictArray, 0, min(count, 16))
	for range count {
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	return arr, nil
}
