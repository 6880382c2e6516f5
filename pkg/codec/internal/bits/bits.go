// Package bits holds the bit-level helpers shared by the codec packages:
// an MSB-first bit reader with Exp-Golomb codes (H.264 §9.1, H.265 §9.2),
// emulation-prevention removal (H.264 §7.4.1, H.265 §7.4.2) and a bit writer.
package bits

import (
	"errors"
	"fmt"
)

// ErrShort is returned when a read runs past the end of the data.
var ErrShort = errors.New("not enough bits")

// Reader reads bits MSB first from a byte slice. It never allocates.
type Reader struct {
	b   []byte
	pos int // bit position
}

// NewReader returns a Reader over b (retained, not copied).
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Left returns the number of unread bits.
func (r *Reader) Left() int { return len(r.b)*8 - r.pos }

// Pos returns the number of bits read so far.
func (r *Reader) Pos() int { return r.pos }

// Bits reads n (0–32) bits.
func (r *Reader) Bits(n int) (uint32, error) {
	if n < 0 || n > 32 {
		return 0, fmt.Errorf("bit count %d out of range [0, 32]", n)
	}
	if r.Left() < n {
		return 0, ErrShort
	}
	var v uint32
	for n > 0 {
		byteIdx := r.pos >> 3
		off := r.pos & 7
		avail := 8 - off
		take := min(avail, n)
		cur := uint32(r.b[byteIdx]>>(avail-take)) & (1<<take - 1)
		v = v<<take | cur
		r.pos += take
		n -= take
	}
	return v, nil
}

// Flag reads one bit as a bool.
func (r *Reader) Flag() (bool, error) {
	v, err := r.Bits(1)
	return v == 1, err
}

// Skip skips n bits.
func (r *Reader) Skip(n int) error {
	if n < 0 || r.Left() < n {
		return ErrShort
	}
	r.pos += n
	return nil
}

// maxLeadingZeros bounds ue(v): a 32-bit code has at most 31 leading zeros
// (H.264 §9.1 limits syntax elements to 2^32−2).
const maxLeadingZeros = 31

// UE reads an unsigned Exp-Golomb code ue(v).
func (r *Reader) UE() (uint32, error) {
	zeros := 0
	for {
		b, err := r.Bits(1)
		if err != nil {
			return 0, err
		}
		if b == 1 {
			break
		}
		zeros++
		if zeros > maxLeadingZeros {
			return 0, fmt.Errorf("exp-golomb code with %d leading zeros exceeds %d", zeros, maxLeadingZeros)
		}
	}
	if zeros == 0 {
		return 0, nil
	}
	rest, err := r.Bits(zeros)
	if err != nil {
		return 0, err
	}
	return uint32((uint64(1)<<zeros - 1) + uint64(rest)), nil
}

// SE reads a signed Exp-Golomb code se(v) (H.264 §9.1.1).
func (r *Reader) SE() (int32, error) {
	k, err := r.UE()
	if err != nil {
		return 0, err
	}
	if k&1 == 1 {
		return int32((int64(k) + 1) / 2), nil
	}
	return -int32(int64(k) / 2), nil
}

// RBSP returns b with emulation-prevention bytes removed: every 0x03 that
// follows two zero bytes is dropped (H.264 §7.4.1, H.265 §7.4.2). If b has
// none, b itself is returned; otherwise the result is a new slice.
func RBSP(b []byte) []byte {
	first := -1
	zeros := 0
	for i, c := range b {
		if zeros >= 2 && c == 3 {
			first = i
			break
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	if first < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:first]...)
	zeros = 0
	for i := first + 1; i < len(b); i++ {
		c := b[i]
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
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

// Writer appends bits MSB first.
type Writer struct {
	buf  []byte
	nbit int // bits used in the last byte (0 = byte aligned)
}

// NewWriter returns a Writer appending to dst.
func NewWriter(dst []byte) *Writer { return &Writer{buf: dst} }

// Bits writes the low n (0–32) bits of v.
func (w *Writer) Bits(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		if w.nbit == 0 {
			w.buf = append(w.buf, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.buf[len(w.buf)-1] |= 1 << (7 - w.nbit)
		}
		w.nbit = (w.nbit + 1) & 7
	}
}

// Flag writes one bit.
func (w *Writer) Flag(f bool) {
	if f {
		w.Bits(1, 1)
	} else {
		w.Bits(0, 1)
	}
}

// UE writes v as an unsigned Exp-Golomb code ue(v).
func (w *Writer) UE(v uint32) {
	x := uint64(v) + 1
	n := 0
	for t := x; t > 1; t >>= 1 {
		n++
	}
	w.Bits(0, n)
	w.Bits(1, 1)
	w.Bits(uint32(x), n)
}

// SE writes v as a signed Exp-Golomb code se(v).
func (w *Writer) SE(v int32) {
	if v > 0 {
		w.UE(uint32(2*int64(v) - 1))
	} else {
		w.UE(uint32(-2 * int64(v)))
	}
}

// Bytes returns the written bytes; a partial last byte is zero-padded.
func (w *Writer) Bytes() []byte { return w.buf }
