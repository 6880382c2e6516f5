// Package avcc splits length-prefixed NAL unit streams, the sample format of
// ISO/IEC 14496-15 (§5.3.2 for AVC, §8.3.2 for HEVC) that RTMP and FLV carry.
package avcc

import (
	"fmt"
	"iter"
)

// Units yields the NAL units of au, each prefixed by a lengthSize-byte
// big-endian length (1, 2, 3 or 4; ISO/IEC 14496-15 allows 1, 2 and 4).
// The yielded slices alias au. Zero-length units are skipped. On malformed
// input the last pair carries a nil unit and the error. It does not allocate.
func Units(prefix string, au []byte, lengthSize int) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		if lengthSize < 1 || lengthSize > 4 {
			yield(nil, fmt.Errorf("%s: NALU length size %d out of range [1, 4]", prefix, lengthSize))
			return
		}
		for off := 0; off < len(au); {
			if len(au)-off < lengthSize {
				yield(nil, fmt.Errorf("%s: %d trailing bytes at offset %d, shorter than the %d-byte NALU length",
					prefix, len(au)-off, off, lengthSize))
				return
			}
			n := 0
			for i := range lengthSize {
				n = n<<8 | int(au[off+i])
			}
			off += lengthSize
			if n > len(au)-off {
				yield(nil, fmt.Errorf("%s: NALU length %d at offset %d exceeds the %d bytes left",
					prefix, n, off-lengthSize, len(au)-off))
				return
			}
			if n == 0 {
				continue
			}
			if !yield(au[off:off+n:off+n], nil) {
				return
			}
			off += n
		}
	}
}
