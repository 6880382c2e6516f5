package bench

import (
	"encoding/binary"
	"fmt"
	"time"
)

// maxFLVTag bounds one tag's declared size (FLV v10.1 DataSize is 24 bits).
const maxFLVTag = 1 << 24

// flvStream reads an FLV byte stream (HTTP-FLV body or WS-FLV messages
// joined) tag by tag, keeping only the first videoKeep bytes of video tags.
type flvStream struct {
	src  source
	st   *PlayerStats
	w    *Window
	t0   time.Time // dial start
	hdr  [11]byte
	keep [videoKeep]byte
}

// run reads until the stream ends or fails; it returns the read error
// (io.EOF at a clean end).
func (f *flvStream) run() error {
	// FLV v10.1 §E.2: 9-byte header (DataOffset says how long) then
	// PreviousTagSize0.
	if _, err := 0, f.src.readFull(f.hdr[:9]); err != nil {
		return fmt.Errorf("flv header: %w", err)
	}
	if string(f.hdr[:3]) != "FLV" {
		return fmt.Errorf("flv header: signature %q is not FLV", f.hdr[:3])
	}
	off := int(binary.BigEndian.Uint32(f.hdr[5:9]))
	if off < 9 || off > 1024 {
		return fmt.Errorf("flv header: data offset %d out of range [9, 1024]", off)
	}
	if _, err := 0, f.src.discard(off-9+4); err != nil {
		return fmt.Errorf("flv header: %w", err)
	}
	f.st.Bytes.Add(int64(off + 4))
	for {
		if _, err := 0, f.src.readFull(f.hdr[:]); err != nil {
			return err
		}
		typ := f.hdr[0] & 0x1f
		size := int(f.hdr[1])<<16 | int(f.hdr[2])<<8 | int(f.hdr[3])
		rest := size + 4 // body + PreviousTagSize
		if typ == 9 {
			k := min(size, len(f.keep))
			if _, err := 0, f.src.readFull(f.keep[:k]); err != nil {
				return err
			}
			rest -= k
			s, ok := FindStampFLV(f.keep[:k])
			if ok || isCodedFrame(f.keep[:k]) {
				f.st.frame(f.w, f.t0, time.Now(), s, ok)
			}
		}
		if _, err := 0, f.src.discard(rest); err != nil {
			return err
		}
		f.st.Bytes.Add(int64(11 + size + 4))
	}
}

// isCodedFrame reports whether an FLV video body is a coded frame (not a
// sequence header, end of sequence or command frame).
func isCodedFrame(body []byte) bool {
	if len(body) < 2 {
		return false
	}
	if body[0]&0x80 != 0 {
		t := body[0] & 0x0f
		return t == 1 || t == 3
	}
	if body[0]>>4 == 5 { // video info/command frame
		return false
	}
	if c := body[0] & 0x0f; c == 7 || c == 12 {
		return body[1] == 1
	}
	return true
}
