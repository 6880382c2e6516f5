package flv

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// flvFile builds a file: header, then tags.
func flvFile(tags ...[]byte) []byte {
	b := Header(true, true)
	for _, t := range tags {
		b = append(b, t...)
	}
	return b
}

var (
	tagA = AppendTag(nil, TagVideo, 40, cat(0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65))
	tagB = AppendTag(nil, TagAudio, 0xFF000001, cat(0xAF, 1, 0x21))
)

// readerCases feed TestReader and FuzzReader. tags is the number of tags
// read successfully before err (or io.EOF when err is empty).
var readerCases = []struct {
	name       string
	in         []byte
	max        int
	header     string // ReadHeader error
	tags       int
	err        string
	mismatches int
}{
	{name: "two tags", in: flvFile(tagA, tagB), tags: 2},
	{name: "header only", in: Header(false, true), tags: 0},
	{name: "no last trailer", in: flvFile(tagA, tagB[:len(tagB)-4]), tags: 2},
	{name: "data offset 12", in: cat("FLV", 1, 5, 0, 0, 0, 12, 0xAA, 0xBB, 0xCC, 0, 0, 0, 0, tagA), tags: 1},
	{name: "wrong trailer counted", in: flvFile(tagA[:len(tagA)-1], []byte{0}, tagB), tags: 2, mismatches: 1},
	{name: "unknown tag type returned", in: flvFile(AppendTag(nil, 15, 0, cat(1))), tags: 1},
	{name: "bad signature", in: cat("FLX", 1, 5, 0, 0, 0, 9, 0, 0, 0, 0), header: `flv: bad signature "FLX" (want "FLV")`},
	{name: "short header", in: cat("FLV", 1), header: "flv: read file header: unexpected EOF"},
	{name: "empty", in: nil, header: "flv: read file header: unexpected EOF"},
	{name: "data offset 8", in: cat("FLV", 1, 5, 0, 0, 0, 8, 0, 0, 0, 0), header: "flv: header DataOffset 8 out of range [9, 65536]"},
	{name: "data offset past end", in: cat("FLV", 1, 5, 0, 0, 0, 20, 0, 0), header: "flv: read file header: unexpected EOF"},
	{name: "truncated tag header", in: flvFile(tagA, tagB[:5]), tags: 1, err: "flv: read tag header: unexpected EOF"},
	{name: "truncated body", in: flvFile(tagA[:15]), tags: 0, err: "flv: read 10-byte tag body: unexpected EOF"},
	{name: "truncated trailer", in: flvFile(tagA[:len(tagA)-2]), tags: 0, err: "flv: read PreviousTagSize: unexpected EOF"},
	{name: "tag too big", in: flvFile(tagA), max: 9, tags: 0, err: "flv: tag size 10 exceeds maximum allowed (9)"},
	{name: "default limit", in: flvFile(cat(9, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0)), tags: 0, err: "flv: tag size 16777215 exceeds maximum allowed (8388608)"},
	{name: "encrypted", in: flvFile(cat(0x29, tagA[1:])), tags: 0, err: "flv: encrypted tag (filter bit, type byte 0x29) unsupported"},
}

func TestReader(t *testing.T) {
	for _, c := range readerCases {
		t.Run(c.name, func(t *testing.T) {
			// OneByteReader: framing must not depend on read sizes.
			r := NewReader(iotest.OneByteReader(bytes.NewReader(c.in)))
			r.MaxTagSize = c.max
			_, err := r.ReadHeader()
			if c.header != "" {
				require.EqualError(t, err, c.header)
				return
			}
			require.NoError(t, err)
			n := 0
			for {
				_, err = r.ReadTag()
				if err != nil {
					break
				}
				n++
			}
			require.Equal(t, c.tags, n)
			if c.err == "" {
				require.ErrorIs(t, err, io.EOF)
			} else {
				require.EqualError(t, err, c.err)
			}
			require.Equal(t, c.mismatches, r.SizeMismatches())
		})
	}
	t.Run("values", func(t *testing.T) {
		r := NewReader(bytes.NewReader(flvFile(tagA, tagB)))
		h, err := r.ReadHeader()
		require.NoError(t, err)
		require.Equal(t, FileHeader{Version: 1, HasAudio: true, HasVideo: true}, h)
		a, err := r.ReadTag()
		require.NoError(t, err)
		require.Equal(t, Tag{Type: TagVideo, Timestamp: 40, Body: tagA[11 : len(tagA)-4]}, a)
		b, err := r.ReadTag()
		require.NoError(t, err)
		require.Equal(t, Tag{Type: TagAudio, Timestamp: 0xFF000001, Body: cat(0xAF, 1, 0x21)}, b)
	})
	t.Run("before header", func(t *testing.T) {
		_, err := NewReader(bytes.NewReader(nil)).ReadTag()
		require.EqualError(t, err, "flv: ReadTag called before ReadHeader")
	})
	t.Run("fresh bodies", func(t *testing.T) {
		r := NewReader(bytes.NewReader(flvFile(tagA, tagA)))
		_, err := r.ReadHeader()
		require.NoError(t, err)
		a, _ := r.ReadTag()
		b, _ := r.ReadTag()
		a.Body[0] = 0
		require.Equal(t, byte(0x17), b.Body[0])
	})
}

func FuzzReader(f *testing.F) {
	for _, g := range goldenFiles {
		b, err := os.ReadFile(filepath.Join("testdata", g.name+".flv"))
		require.NoError(f, err)
		f.Add(b[:min(len(b), 600)])
	}
	for _, c := range readerCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in))
		r.MaxTagSize = 1 << 16
		h, err := r.ReadHeader()
		if err != nil {
			return
		}
		out := Header(h.HasAudio, h.HasVideo)
		var tags []Tag
		for {
			tag, err := r.ReadTag()
			if err != nil {
				break
			}
			require.LessOrEqual(t, len(tag.Body), 1<<16)
			tags = append(tags, tag)
			out = AppendTag(out, tag.Type, tag.Timestamp, tag.Body)
			// Every tag body goes through the packet parser too.
			_, _ = PacketFromTag(tag.Type, tag.Timestamp, tag.Body)
		}
		// What we read, written back, reads back the same.
		r2 := NewReader(bytes.NewReader(out))
		_, err = r2.ReadHeader()
		require.NoError(t, err)
		for _, want := range tags {
			got, err := r2.ReadTag()
			require.NoError(t, err)
			require.Equal(t, want, got)
		}
		_, err = r2.ReadTag()
		require.True(t, errors.Is(err, io.EOF))
		require.Zero(t, r2.SizeMismatches())
	})
}
