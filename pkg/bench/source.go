package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// source is the byte stream a flvStream reads: the connection's bufio
// reader directly, or through HTTP/1.1 chunked framing, so that the body is
// never copied into a second buffer.
type source interface {
	readFull(b []byte) error
	discard(n int) error
}

type plainSource struct{ br *bufio.Reader }

func (s plainSource) readFull(b []byte) error {
	_, err := io.ReadFull(s.br, b)
	return err
}

func (s plainSource) discard(n int) error {
	_, err := s.br.Discard(n)
	return err
}

// chunkedSource decodes HTTP/1.1 chunked transfer coding (RFC 9112 §7.1)
// in place: chunk-size lines are parsed, data is read or discarded straight
// from the connection's buffer.
type chunkedSource struct {
	br   *bufio.Reader
	left int  // data bytes left in the current chunk
	eof  bool // last-chunk seen
}

// maxChunkLine bounds a chunk-size line with its extensions.
const maxChunkLine = 4096

func (s *chunkedSource) next() error {
	if s.eof {
		return io.EOF
	}
	for s.left == 0 {
		line, err := s.br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return fmt.Errorf("http: chunk size line longer than %d bytes", s.br.Size())
			}
			return err
		}
		if len(line) > maxChunkLine {
			return fmt.Errorf("http: chunk size line of %d bytes exceeds %d", len(line), maxChunkLine)
		}
		hex := line
		for i, c := range line {
			if c == ';' || c == '\r' || c == '\n' || c == ' ' || c == '\t' {
				hex = line[:i]
				break
			}
		}
		if len(hex) == 0 {
			continue // the CRLF that ends the previous chunk's data
		}
		n, err := strconv.ParseUint(string(hex), 16, 31)
		if err != nil {
			return fmt.Errorf("http: bad chunk size %q", hex)
		}
		if n == 0 {
			s.eof = true
			return io.EOF
		}
		s.left = int(n)
	}
	return nil
}

func (s *chunkedSource) readFull(b []byte) error {
	for start := true; len(b) > 0; start = false {
		if err := s.next(); err != nil {
			if start { // like io.ReadFull: EOF only when nothing was read
				return err
			}
			return noEOF(err)
		}
		k := min(len(b), s.left)
		if _, err := io.ReadFull(s.br, b[:k]); err != nil {
			return noEOF(err)
		}
		b, s.left = b[k:], s.left-k
	}
	return nil
}

func (s *chunkedSource) discard(n int) error {
	for n > 0 {
		if err := s.next(); err != nil {
			return noEOF(err)
		}
		k := min(n, s.left)
		if _, err := s.br.Discard(k); err != nil {
			return noEOF(err)
		}
		n, s.left = n-k, s.left-k
	}
	return nil
}

// noEOF turns EOF inside a tag into ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
