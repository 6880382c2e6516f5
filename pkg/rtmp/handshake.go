package rtmp

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// Handshake (RTMP 1.0 §5.2): C0/S0 is the version byte, C1/S1 and C2/S2 are
// 1536 bytes each. Two dialects are in use (docs/interop.md §1):
//
//   - plain, as specified: C1/S1 = time(4) zero(4) random(1528), C2/S2 echo
//     S1/C1. librtmp (OBS, rtmpdump, GStreamer rtmpsink) sends it.
//   - Flash digest: bytes 4..7 carry a version and a 32-byte HMAC-SHA256
//     digest hides at an offset derived from bytes 8..11 (digest block first)
//     or 772..775 (key block first). ffmpeg and Flash send it, and a Flash
//     player will not play H.264/AAC after a plain answer.
const (
	handshakeVersion = 3
	handshakeSize    = 1536
	digestSize       = sha256.Size
)

// ErrHandshakeVersion is wrapped by the error for a C0 (or S0) other than 3.
var ErrHandshakeVersion = errors.New("rtmp: unsupported handshake version")

// The well-known handshake keys: a public text plus 32 fixed bytes. Digests
// in C1/S1 use only the text part; S2/C2 signatures use the full key.
var (
	handshakeKeyTail = []byte{
		0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
		0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
	}
	playerKey = append([]byte("Genuine Adobe Flash Player 001"), handshakeKeyTail...)       // 62 bytes
	serverKey = append([]byte("Genuine Adobe Flash Media Server 001"), handshakeKeyTail...) // 68 bytes
	// Text parts, the keys of the C1 and S1 digests.
	playerDigestKey = playerKey[:30]
	serverDigestKey = serverKey[:36]
)

// Version stamps put in bytes 4..7 of a digest C1/S1. ffmpeg treats an S1
// whose byte 4 is 3 or more as digest-style and checks it.
var (
	clientVersion = [4]byte{9, 0, 124, 2}
	serverVersion = [4]byte{4, 5, 0, 1}
)

// digestScheme selects where the digest of a C1/S1 lives.
type digestScheme int

const (
	digestFirst digestScheme = iota // digest block at 8..771, offset bytes 8..11
	keyFirst                        // digest block at 772..1535, offset bytes 772..775
)

// digestOffset returns the offset of the 32-byte digest in b (1536 bytes):
// the sum of the four offset bytes modulo 728, past those four bytes.
func digestOffset(b []byte, s digestScheme) int {
	base := 8
	if s == keyFirst {
		base = 772
	}
	sum := int(b[base]) + int(b[base+1]) + int(b[base+2]) + int(b[base+3])
	return base + 4 + sum%728
}

// hmacSHA256 returns the HMAC-SHA256 of the concatenated parts.
func hmacSHA256(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// blockDigest computes the digest of b with the 32 bytes at off left out.
func blockDigest(b []byte, off int, key []byte) []byte {
	return hmacSHA256(key, b[:off], b[off+digestSize:])
}

// findDigest validates the digest of a C1/S1 under both schemes and returns
// the digest and the scheme that matched.
func findDigest(b []byte, key []byte) ([]byte, digestScheme, bool) {
	for _, s := range []digestScheme{digestFirst, keyFirst} {
		off := digestOffset(b, s)
		if hmac.Equal(blockDigest(b, off, key), b[off:off+digestSize]) {
			return b[off : off+digestSize], s, true
		}
	}
	return nil, 0, false
}

// imprintDigest fills b (1536 bytes, random from byte 8) with its digest.
func imprintDigest(b []byte, s digestScheme, key []byte) []byte {
	off := digestOffset(b, s)
	copy(b[off:], blockDigest(b, off, key))
	return b[off : off+digestSize]
}

// signBlock makes b (1536 bytes, random) a digest-style C2/S2: the last 32
// bytes are the HMAC of the first 1504, keyed by HMAC(fullKey, peerDigest).
func signBlock(b []byte, fullKey, peerDigest []byte) {
	key := hmacSHA256(fullKey, peerDigest)
	copy(b[handshakeSize-digestSize:], hmacSHA256(key, b[:handshakeSize-digestSize]))
}

// checkVersion explains a C0/S0 other than 3.
func checkVersion(v byte) error {
	if v == handshakeVersion {
		return nil
	}
	var why string
	switch v {
	case 6, 8, 9:
		why = " (RTMPE, encrypted RTMP, is not supported)"
	case 0x16:
		why = " (a TLS handshake on a plain RTMP port: RTMPS has a port of its own)"
	case 'G', 'P', 'H', 'O', 'D', 'C':
		why = fmt.Sprintf(" (%q: an HTTP request on the RTMP port)", rune(v))
	}
	return fmt.Errorf("%w %d%s, want 3", ErrHandshakeVersion, v, why)
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ServerHandshake runs the server side: it reads exactly C0+C1 from br,
// answers S0+S1+S2 in one write (ffmpeg reads S2 before sending C2, spec
// §5.2.1 allows it), then reads C2 without validating it (ffmpeg's digest C2
// is not an echo). A C1 carrying a valid Flash digest gets a digest answer,
// anything else a plain one (S1 bytes 4..7 zero, S2 = C1). br must be the
// connection's bufio.Reader that the chunk reader uses next: peers pipeline
// chunks right behind C2. The caller sets deadlines.
func ServerHandshake(br *bufio.Reader, w io.Writer) error {
	// C0 first, alone: an HTTP or TLS client may never send 1536 more bytes.
	v, err := br.ReadByte()
	if err != nil {
		return fmt.Errorf("rtmp: read C0: %w", err)
	}
	if err := checkVersion(v); err != nil {
		return err
	}
	c1 := make([]byte, handshakeSize)
	if _, err := io.ReadFull(br, c1); err != nil {
		return fmt.Errorf("rtmp: read C1: %w", unexpectedEOF(err))
	}

	out := make([]byte, 1+2*handshakeSize)
	out[0] = handshakeVersion
	s1 := out[1 : 1+handshakeSize]
	s2 := out[1+handshakeSize:]
	_, _ = rand.Read(s1[8:]) // crypto/rand.Read never fails (Go 1.24+)

	var clientDigest []byte
	var scheme digestScheme
	ok := false
	if c1[4]|c1[5]|c1[6]|c1[7] != 0 {
		clientDigest, scheme, ok = findDigest(c1, playerDigestKey)
	}
	if ok {
		copy(s1[4:8], serverVersion[:])
		imprintDigest(s1, scheme, serverDigestKey)
		_, _ = rand.Read(s2)
		signBlock(s2, serverKey, clientDigest)
	} else {
		// Plain (also the fallback for an invalid digest, as SRS does): S1
		// bytes 4..7 stay zero or ffmpeg players check a digest that is not
		// there; S2 echoes C1 byte for byte.
		copy(s2, c1)
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("rtmp: write S0+S1+S2: %w", err)
	}
	if _, err := br.Discard(handshakeSize); err != nil {
		return fmt.Errorf("rtmp: read C2: %w", unexpectedEOF(err))
	}
	return nil
}

// ClientHandshake runs the client side with a plain C1 (what librtmp sends):
// C0+C1 in one write, then S0+S1+S2, then C2 = S1. S2 is not checked. br must
// be the connection's bufio.Reader that the chunk reader uses next.
func ClientHandshake(br *bufio.Reader, w io.Writer) error {
	return clientHandshake(br, w, false)
}

// ClientHandshakeDigest is ClientHandshake with a Flash-style digest C1, for
// servers that insist on it. If S1 carries a valid server digest, S2's
// signature must match (as ffmpeg requires) and C2 is signed; otherwise the
// server answered plain and C2 echoes S1.
func ClientHandshakeDigest(br *bufio.Reader, w io.Writer) error {
	return clientHandshake(br, w, true)
}

func clientHandshake(br *bufio.Reader, w io.Writer, digest bool) error {
	out := make([]byte, 1+handshakeSize)
	out[0] = handshakeVersion
	c1 := out[1:]
	_, _ = rand.Read(c1[8:])
	var c1Digest []byte
	if digest {
		copy(c1[4:8], clientVersion[:])
		c1Digest = imprintDigest(c1, digestFirst, playerDigestKey)
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("rtmp: write C0+C1: %w", err)
	}

	v, err := br.ReadByte()
	if err != nil {
		return fmt.Errorf("rtmp: read S0: %w", err)
	}
	if err := checkVersion(v); err != nil {
		return err
	}
	s := make([]byte, 2*handshakeSize)
	if _, err := io.ReadFull(br, s); err != nil {
		return fmt.Errorf("rtmp: read S1+S2: %w", unexpectedEOF(err))
	}
	s1, s2 := s[:handshakeSize], s[handshakeSize:]

	c2 := s1 // plain: echo S1
	if digest && s1[4]|s1[5]|s1[6]|s1[7] != 0 {
		if serverDigest, _, ok := findDigest(s1, serverDigestKey); ok {
			want := hmacSHA256(hmacSHA256(serverKey, c1Digest), s2[:handshakeSize-digestSize])
			if !hmac.Equal(want, s2[handshakeSize-digestSize:]) {
				return errors.New("rtmp: handshake S2 signature mismatch")
			}
			c2 = make([]byte, handshakeSize)
			_, _ = rand.Read(c2)
			signBlock(c2, playerKey, serverDigest)
		}
	}
	if _, err := w.Write(c2); err != nil {
		return fmt.Errorf("rtmp: write C2: %w", err)
	}
	return nil
}
