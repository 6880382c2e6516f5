// Package proxyproto reads the PROXY protocol header (HAProxy "The PROXY
// protocol", versions 1 and 2) that load balancers put in front of a TCP
// stream to pass on the real client address, and wraps a net.Listener so
// that accepted connections report that address as RemoteAddr.
//
// The header is read exactly, byte for byte, with no read-ahead: what
// follows it (an RTMP handshake) stays in the socket for the protocol's own
// reader.
package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Header limits.
const (
	// MaxV1Len is the longest v1 header, CRLF included (spec §2.1: 107).
	MaxV1Len = 107
	// MaxV2Len bounds a v2 header's address+TLV block. The spec allows
	// 65535, but no load balancer sends more than a few hundred bytes of
	// TLVs; refusing more bounds what a peer can make us read.
	MaxV2Len = 4096
)

// v2Sig is the 12-byte v2 signature (spec §2.2).
var v2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

var v1Prefix = []byte("PROXY ")

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("proxyproto: invalid header")

// Header is a parsed PROXY header.
type Header struct {
	Version int // 1 or 2
	// Local is true when the header carries no client address: v2 LOCAL
	// (health checks from the proxy itself), v1 UNKNOWN, or a v2 family we
	// do not use (UNSPEC, UNIX). The connection's own address applies.
	Local bool
	// Source and Dest are the client and the address it connected to, when
	// !Local.
	Source, Dest netip.AddrPort
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Read reads one PROXY header (v1 or v2) from r, consuming exactly its
// bytes. It returns an error wrapping ErrInvalid for anything else, or the
// reader's error (io.EOF, a timeout).
func Read(r io.Reader) (Header, error) {
	// Both versions are at least 15 bytes long ("PROXY UNKNOWN\r\n", and the
	// 16-byte v2 fixed part), so 12 bytes can be read without going past
	// the header.
	var pre [16]byte
	if _, err := io.ReadFull(r, pre[:12]); err != nil {
		return Header{}, noEOF(err)
	}
	switch {
	case bytes.Equal(pre[:12], v2Sig):
		if _, err := io.ReadFull(r, pre[12:16]); err != nil {
			return Header{}, noEOF(err)
		}
		return readV2(r, pre)
	case bytes.HasPrefix(pre[:12], v1Prefix):
		return readV1(r, pre[:12])
	}
	return Header{}, invalidf("no PROXY signature (starts with %q)", pre[:12])
}

// noEOF turns a clean EOF inside a header into ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readV1 reads the rest of a v1 line after its first 12 bytes and parses
// it (spec §2.1): "PROXY TCP4|TCP6 src dst sport dport\r\n" or
// "PROXY UNKNOWN...\r\n".
func readV1(r io.Reader, start []byte) (Header, error) {
	line := make([]byte, len(start), MaxV1Len)
	copy(line, start)
	var b [1]byte
	for !bytes.HasSuffix(line, []byte("\r\n")) {
		if len(line) == MaxV1Len {
			return Header{}, invalidf("v1 line longer than %d bytes", MaxV1Len)
		}
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Header{}, noEOF(err)
		}
		line = append(line, b[0])
	}
	return parseV1(string(line[len(v1Prefix) : len(line)-2]))
}

func parseV1(s string) (Header, error) {
	h := Header{Version: 1}
	f := strings.Split(s, " ")
	if f[0] == "UNKNOWN" {
		// The rest of the line is to be ignored (spec §2.1).
		h.Local = true
		return h, nil
	}
	if len(f) != 5 {
		return Header{}, invalidf("v1: %d fields, want 5 (proto src dst sport dport)", len(f))
	}
	var want4 bool
	switch f[0] {
	case "TCP4":
		want4 = true
	case "TCP6":
	default:
		return Header{}, invalidf("v1: protocol %q is not TCP4, TCP6 or UNKNOWN", f[0])
	}
	var addrs [2]netip.Addr
	for i := range addrs {
		a, err := netip.ParseAddr(f[1+i])
		if err != nil || a.Zone() != "" || a.Is4() != want4 {
			return Header{}, invalidf("v1: %q is not an %s address", f[1+i], f[0])
		}
		addrs[i] = a
	}
	var ports [2]uint16
	for i := range ports {
		p, err := strconv.ParseUint(f[3+i], 10, 16)
		// Ports are plain decimals with no leading zero (spec §2.1).
		if err != nil || (len(f[3+i]) > 1 && f[3+i][0] == '0') || f[3+i][0] == '+' {
			return Header{}, invalidf("v1: port %q is not in [0, 65535]", f[3+i])
		}
		ports[i] = uint16(p)
	}
	h.Source = netip.AddrPortFrom(addrs[0], ports[0])
	h.Dest = netip.AddrPortFrom(addrs[1], ports[1])
	return h, nil
}

// v2 command, family and transport values (spec §2.2).
const (
	cmdLocal  = 0x0
	cmdProxy  = 0x1
	famUnspec = 0x0
	famInet   = 0x1
	famInet6  = 0x2
	famUnix   = 0x3
	trStream  = 0x1
)

// readV2 reads the variable part after the fixed 16 bytes and parses it.
// TLVs (spec §2.2.7) are read and skipped: we need none of them.
func readV2(r io.Reader, fixed [16]byte) (Header, error) {
	if v := fixed[12] >> 4; v != 2 {
		return Header{}, invalidf("v2: version %d, want 2", v)
	}
	cmd := fixed[12] & 0x0f
	fam, tr := fixed[13]>>4, fixed[13]&0x0f
	n := int(binary.BigEndian.Uint16(fixed[14:16]))
	if n > MaxV2Len {
		return Header{}, invalidf("v2: length %d exceeds %d", n, MaxV2Len)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return Header{}, noEOF(err)
	}
	h := Header{Version: 2}
	switch cmd {
	case cmdLocal:
		// Sent by the proxy itself (health checks): the receiver must use
		// the real connection endpoints and ignore the addresses.
		h.Local = true
		return h, nil
	case cmdProxy:
	default:
		return Header{}, invalidf("v2: command %#x is not LOCAL or PROXY", cmd)
	}
	var alen int
	switch fam {
	case famInet:
		alen = 12
	case famInet6:
		alen = 36
	case famUnspec, famUnix:
		// No IP client address to report: keep the connection's.
		h.Local = true
		return h, nil
	default:
		return Header{}, invalidf("v2: address family %#x unknown", fam)
	}
	if tr != trStream {
		return Header{}, invalidf("v2: transport %#x is not STREAM", tr)
	}
	if n < alen {
		return Header{}, invalidf("v2: length %d too short for %d address bytes", n, alen)
	}
	ip := alen/2 - 2 // bytes per address: 4 or 16
	src, _ := netip.AddrFromSlice(body[:ip])
	dst, _ := netip.AddrFromSlice(body[ip : 2*ip])
	sp := binary.BigEndian.Uint16(body[2*ip:])
	dp := binary.BigEndian.Uint16(body[2*ip+2:])
	h.Source = netip.AddrPortFrom(src.Unmap(), sp)
	h.Dest = netip.AddrPortFrom(dst.Unmap(), dp)
	if err := checkTLVs(body[alen:]); err != nil {
		return Header{}, err
	}
	return h, nil
}

// checkTLVs walks the TLVs only to reject a truncated one: a header whose
// length does not add up is garbage.
func checkTLVs(b []byte) error {
	for len(b) > 0 {
		if len(b) < 3 {
			return invalidf("v2: truncated TLV header (%d bytes)", len(b))
		}
		l := int(binary.BigEndian.Uint16(b[1:3]))
		if len(b) < 3+l {
			return invalidf("v2: TLV type %#x length %d exceeds the %d bytes left", b[0], l, len(b)-3)
		}
		b = b[3+l:]
	}
	return nil
}

// AppendV1 appends a v1 header for src → dst (TCP4 or TCP6 by src's
// family); for tests and clients that speak to a PROXY-enabled listener.
func AppendV1(dst []byte, src, to netip.AddrPort) []byte {
	proto := "TCP4"
	if !src.Addr().Is4() {
		proto = "TCP6"
	}
	return fmt.Appendf(dst, "PROXY %s %s %s %d %d\r\n", proto, src.Addr(), to.Addr(), src.Port(), to.Port())
}

// AppendV2 appends a v2 PROXY header for src → dst followed by tlvs (raw,
// already encoded), or a LOCAL header when src is not valid.
func AppendV2(dst []byte, src, to netip.AddrPort, tlvs []byte) []byte {
	dst = append(dst, v2Sig...)
	if !src.IsValid() {
		dst = append(dst, 0x20|cmdLocal, famUnspec<<4)
		return binary.BigEndian.AppendUint16(dst, 0)
	}
	fam, ip := byte(famInet), 4
	if !src.Addr().Is4() {
		fam, ip = famInet6, 16
	}
	dst = append(dst, 0x20|cmdProxy, fam<<4|trStream)
	dst = binary.BigEndian.AppendUint16(dst, uint16(2*ip+4+len(tlvs)))
	s, d := src.Addr(), to.Addr()
	if ip == 16 {
		s, d = netip.AddrFrom16(s.As16()), netip.AddrFrom16(d.As16())
	}
	dst = append(dst, s.AsSlice()...)
	dst = append(dst, d.AsSlice()...)
	dst = binary.BigEndian.AppendUint16(dst, src.Port())
	dst = binary.BigEndian.AppendUint16(dst, to.Port())
	return append(dst, tlvs...)
}
