package av1

import "fmt"

// maxLEB128Bytes is the longest leb128() (AV1 §4.10.5): 8 bytes.
const maxLEB128Bytes = 8

// ReadLEB128 decodes the leb128() at the start of b (AV1 §4.10.5) and
// returns its value and the bytes it takes. Conformance requires at most 8
// bytes, a last byte without the continuation bit, and a value below 2^32.
func ReadLEB128(b []byte) (v uint64, n int, err error) {
	for i := range maxLEB128Bytes {
		if i >= len(b) {
			return 0, 0, fmt.Errorf("av1: leb128 truncated after %d bytes", i)
		}
		v |= uint64(b[i]&0x7F) << (7 * i)
		if b[i]&0x80 == 0 {
			if v > 1<<32-1 {
				return 0, 0, fmt.Errorf("av1: leb128 value %d exceeds maximum allowed (%d)", v, uint64(1<<32-1))
			}
			return v, i + 1, nil
		}
	}
	return 0, 0, fmt.Errorf("av1: leb128 longer than %d bytes", maxLEB128Bytes)
}

// AppendLEB128 appends v as leb128() in the fewest bytes.
func AppendLEB128(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
