package flv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxTagSize is the Reader's default bound on a tag body, equal to
// the RTMP server's default maximum message size (the config default of
// rtmp.max_message_size; pkg/server checks this).
const DefaultMaxTagSize = 8 << 20

// maxDataOffset bounds the file header's DataOffset (normally 9): the
// bytes between are skipped, not stored.
const maxDataOffset = 1 << 16

// FileHeader is the FLV file header (FLV v10.1 §E.2).
type FileHeader struct {
	Version  uint8
	HasAudio bool
	HasVideo bool
}

// Tag is one FLV tag.
type Tag struct {
	Type      uint8  // TagAudio, TagVideo, TagScript (other values are returned as read)
	Timestamp uint32 // Timestamp | TimestampExtended<<24, in ms
	Body      []byte // freshly allocated for each tag, owned by the caller
}

// Reader reads an FLV file or stream: ReadHeader once, then ReadTag until
// io.EOF. It is not safe for concurrent use.
type Reader struct {
	// MaxTagSize bounds a tag body in bytes; 0 means DefaultMaxTagSize.
	// A larger DataSize fails ReadTag before anything is allocated.
	MaxTagSize int

	br         *bufio.Reader
	header     bool
	mismatches int
	buf        [TagHeaderSize]byte
}

// NewReader returns a Reader reading from r (through a bufio.Reader unless
// r already is one).
func NewReader(r io.Reader) *Reader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &Reader{br: br}
}

// ReadHeader reads the file header and PreviousTagSize0. Its value is not
// checked (the spec says 0; nothing depends on it).
func (r *Reader) ReadHeader() (FileHeader, error) {
	b := r.buf[:FileHeaderSize]
	if _, err := io.ReadFull(r.br, b); err != nil {
		return FileHeader{}, fmt.Errorf("flv: read file header: %w", eofIsUnexpected(err))
	}
	if b[0] != 'F' || b[1] != 'L' || b[2] != 'V' {
		return FileHeader{}, fmt.Errorf("flv: bad signature %q (want \"FLV\")", b[:3])
	}
	h := FileHeader{Version: b[3], HasAudio: b[4]&0x04 != 0, HasVideo: b[4]&0x01 != 0}
	off := binary.BigEndian.Uint32(b[5:])
	if off < FileHeaderSize || off > maxDataOffset {
		return FileHeader{}, fmt.Errorf("flv: header DataOffset %d out of range [%d, %d]", off, FileHeaderSize, maxDataOffset)
	}
	if _, err := r.br.Discard(int(off) - FileHeaderSize + TrailerSize); err != nil {
		return FileHeader{}, fmt.Errorf("flv: read file header: %w", eofIsUnexpected(err))
	}
	r.header = true
	return h, nil
}

// ReadTag reads the next tag and the PreviousTagSize after it. It returns
// io.EOF at a clean end of input (including a stream that ends right after
// a tag body, without the last PreviousTagSize). Tags with the Filter
// (encryption) bit are rejected.
//
// PreviousTagSize is checked loosely: a value other than 11 + DataSize is
// counted (SizeMismatches) but not fatal, because the tag header already
// delimits each tag and some muxers write wrong values. Resynchronising on
// a corrupt stream is not attempted.
func (r *Reader) ReadTag() (Tag, error) {
	if !r.header {
		return Tag{}, errors.New("flv: ReadTag called before ReadHeader")
	}
	h := r.buf[:TagHeaderSize]
	if _, err := io.ReadFull(r.br, h); err != nil {
		if err == io.EOF {
			return Tag{}, io.EOF
		}
		return Tag{}, fmt.Errorf("flv: read tag header: %w", err)
	}
	if h[0]&0x20 != 0 {
		return Tag{}, fmt.Errorf("flv: encrypted tag (filter bit, type byte 0x%02x) unsupported", h[0])
	}
	t := Tag{
		Type:      h[0] & 0x1F,
		Timestamp: uint32(h[7])<<24 | uint32(u24(h[4:])),
	}
	size := u24(h[1:])
	limit := r.MaxTagSize
	if limit <= 0 {
		limit = DefaultMaxTagSize
	}
	if size > limit {
		return Tag{}, fmt.Errorf("flv: tag size %d exceeds maximum allowed (%d)", size, limit)
	}
	t.Body = make([]byte, size)
	if _, err := io.ReadFull(r.br, t.Body); err != nil {
		return Tag{}, fmt.Errorf("flv: read %d-byte tag body: %w", size, eofIsUnexpected(err))
	}
	trailer := r.buf[:TrailerSize]
	switch _, err := io.ReadFull(r.br, trailer); err {
	case nil:
		if binary.BigEndian.Uint32(trailer) != uint32(TagHeaderSize+size) {
			r.mismatches++
		}
	case io.EOF: // the last PreviousTagSize is missing: keep the tag
	default:
		return Tag{}, fmt.Errorf("flv: read PreviousTagSize: %w", err)
	}
	return t, nil
}

// SizeMismatches returns how many PreviousTagSize values did not match the
// tag before them.
func (r *Reader) SizeMismatches() int { return r.mismatches }

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
