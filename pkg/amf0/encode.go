package amf0

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Append appends the AMF0 encoding of each value to dst. Accepted Go types are
// those Decode returns plus the Go integer types and float32 (encoded as
// numbers). Strings longer than 65535 bytes use the long-string marker. On
// error dst is returned unchanged in length (the partial encoding is dropped).
func Append(dst []byte, vals ...any) ([]byte, error) {
	start := len(dst)
	for i, v := range vals {
		var err error
		dst, err = appendValue(dst, v, 0)
		if err != nil {
			return dst[:start], fmt.Errorf("value %d: %w", i, err)
		}
	}
	return dst, nil
}

func appendNumber(dst []byte, f float64) []byte {
	dst = append(dst, markerNumber)
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(f))
}

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, markerNull), nil
	case float64:
		return appendNumber(dst, v), nil
	case float32:
		return appendNumber(dst, float64(v)), nil
	case int:
		return appendNumber(dst, float64(v)), nil
	case int8:
		return appendNumber(dst, float64(v)), nil
	case int16:
		return appendNumber(dst, float64(v)), nil
	case int32:
		return appendNumber(dst, float64(v)), nil
	case int64:
		return appendNumber(dst, float64(v)), nil
	case uint:
		return appendNumber(dst, float64(v)), nil
	case uint8:
		return appendNumber(dst, float64(v)), nil
	case uint16:
		return appendNumber(dst, float64(v)), nil
	case uint32:
		return appendNumber(dst, float64(v)), nil
	case uint64:
		return appendNumber(dst, float64(v)), nil
	case bool:
		b := byte(0)
		if v {
			b = 1
		}
		return append(dst, markerBoolean, b), nil
	case string:
		if len(v) <= math.MaxUint16 {
			dst = append(dst, markerString)
			dst = binary.BigEndian.AppendUint16(dst, uint16(len(v)))
			return append(dst, v...), nil
		}
		if uint64(len(v)) > math.MaxUint32 {
			return dst, fmt.Errorf("amf0: string of %d bytes exceeds %d", len(v), uint32(math.MaxUint32))
		}
		dst = append(dst, markerLongString)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
		return append(dst, v...), nil
	case Undefined:
		return append(dst, markerUndefined), nil
	case Date:
		dst = append(dst, markerDate)
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(v.Millis))
		return binary.BigEndian.AppendUint16(dst, uint16(v.TZ)), nil
	case Object:
		if depth+1 > MaxDepth {
			return dst, fmt.Errorf("%w: depth %d exceeds %d", ErrDepth, depth+1, MaxDepth)
		}
		return appendProperties(append(dst, markerObject), v, depth+1)
	case ECMAArray:
		if depth+1 > MaxDepth {
			return dst, fmt.Errorf("%w: depth %d exceeds %d", ErrDepth, depth+1, MaxDepth)
		}
		dst = append(dst, markerECMAArray)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
		return appendProperties(dst, v, depth+1)
	case StrictArray:
		if depth+1 > MaxDepth {
			return dst, fmt.Errorf("%w: depth %d exceeds %d", ErrDepth, depth+1, MaxDepth)
		}
		dst = append(dst, markerStrictArray)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
		for _, e := range v {
			var err error
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	default:
		return dst, fmt.Errorf("amf0: cannot encode Go type %T", v)
	}
}

// appendProperties writes key/value pairs and the object end (AMF0 §2.5).
func appendProperties(dst []byte, props []Property, depth int) ([]byte, error) {
	for _, p := range props {
		if len(p.Key) > math.MaxUint16 {
			return dst, fmt.Errorf("amf0: property key of %d bytes exceeds %d", len(p.Key), math.MaxUint16)
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(p.Key)))
		dst = append(dst, p.Key...)
		var err error
		if dst, err = appendValue(dst, p.Value, depth); err != nil {
			return dst, err
		}
	}
	return append(dst, 0, 0, markerObjectEnd), nil
}

// Infallible appenders for callers that build fixed message shapes (RTMP
// status and result commands) and so must not have an error path: each
// writes one value, or one piece of an object or strict array, whatever
// its input.

// AppendNumber appends a number (AMF0 §2.2).
func AppendNumber(dst []byte, f float64) []byte { return appendNumber(dst, f) }

// AppendBool appends a boolean (AMF0 §2.3).
func AppendBool(dst []byte, b bool) []byte {
	v := byte(0)
	if b {
		v = 1
	}
	return append(dst, markerBoolean, v)
}

// AppendNull appends null (AMF0 §2.7).
func AppendNull(dst []byte) []byte { return append(dst, markerNull) }

// AppendString appends s as a string (AMF0 §2.4), or a long string (§2.14)
// when longer than 65535 bytes. A long string holds at most 4 GiB − 1
// bytes: anything beyond is cut, as no AMF0 value can carry it.
func AppendString(dst []byte, s string) []byte {
	if len(s) <= math.MaxUint16 {
		dst = append(dst, markerString)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
		return append(dst, s...)
	}
	if uint64(len(s)) > math.MaxUint32 {
		s = s[:math.MaxUint32]
	}
	dst = append(dst, markerLongString)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

// AppendObjectStart starts an object (AMF0 §2.5): follow with AppendKey and
// a value per property, then AppendObjectEnd.
func AppendObjectStart(dst []byte) []byte { return append(dst, markerObject) }

// AppendKey appends a property key. Keys are the caller's constants; one
// longer than 65535 bytes is cut to that length (the key field is 16-bit).
func AppendKey(dst []byte, key string) []byte {
	if len(key) > math.MaxUint16 {
		key = key[:math.MaxUint16]
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(key)))
	return append(dst, key...)
}

// AppendObjectEnd ends an object: the empty key and the end marker.
func AppendObjectEnd(dst []byte) []byte { return append(dst, 0, 0, markerObjectEnd) }

// AppendStrictArrayStart starts a strict array of n values (AMF0 §2.12):
// follow with exactly n values.
func AppendStrictArrayStart(dst []byte, n uint32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, markerStrictArray), n)
}
