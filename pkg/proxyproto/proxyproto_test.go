package proxyproto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	src4 = netip.MustParseAddrPort("192.0.2.10:51234")
	dst4 = netip.MustParseAddrPort("198.51.100.1:1935")
	src6 = netip.MustParseAddrPort("[2001:db8::7]:40000")
	dst6 = netip.MustParseAddrPort("[2001:db8::1]:1935")
)

func tlv(typ byte, val string) []byte {
	return append([]byte{typ, byte(len(val) >> 8), byte(len(val))}, val...)
}

// v2Raw builds a v2 header by hand (for malformed variants).
func v2Raw(verCmd, famTr byte, body []byte) []byte {
	b := append([]byte(nil), v2Sig...)
	b = append(b, verCmd, famTr, byte(len(body)>>8), byte(len(body)))
	return append(b, body...)
}

type readCase struct {
	name  string
	in    []byte
	want  Header
	error string // substring; "" = success
	// eof: the input is cut short, so nothing may follow it in TestRead.
	eof bool
}

// readCases feeds TestRead and FuzzRead's seeds.
func readCases() []readCase {
	v4body := AppendV2(nil, src4, dst4, nil)[16:]
	return []readCase{
		{"v1_tcp4", AppendV1(nil, src4, dst4), Header{Version: 1, Source: src4, Dest: dst4}, "", false},
		{"v1_tcp6", AppendV1(nil, src6, dst6), Header{Version: 1, Source: src6, Dest: dst6}, "", false},
		{"v1_unknown", []byte("PROXY UNKNOWN\r\n"), Header{Version: 1, Local: true}, "", false},
		{"v1_unknown_with_addrs", []byte("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"), Header{Version: 1, Local: true}, "", false},
		{"v1_max_len", []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
			Header{Version: 1, Source: netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
				Dest: netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")}, "", false},
		{"v1_too_long", []byte("PROXY UNKNOWN " + strings.Repeat("x", 100) + "\r\n"), Header{}, "longer than 107", false},
		{"v1_no_crlf", []byte("PROXY TCP4 192.0.2.10 198.51.100.1 1 2\n"), Header{}, "unexpected EOF", true},
		{"v1_family_mismatch", []byte("PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n"), Header{}, "not an TCP4 address", false},
		{"v1_bad_proto", []byte("PROXY UDP4 192.0.2.10 198.51.100.1 1 2\r\n"), Header{}, "not TCP4", false},
		{"v1_port_range", []byte("PROXY TCP4 192.0.2.10 198.51.100.1 65536 2\r\n"), Header{}, "port \"65536\"", false},
		{"v1_port_leading_zero", []byte("PROXY TCP4 192.0.2.10 198.51.100.1 080 2\r\n"), Header{}, "port \"080\"", false},
		{"v1_double_space", []byte("PROXY TCP4  192.0.2.10 198.51.100.1 1 2\r\n"), Header{}, "6 fields", false},
		{"v1_missing_field", []byte("PROXY TCP4 192.0.2.10 198.51.100.1 1\r\n"), Header{}, "4 fields", false},
		{"v2_tcp4", AppendV2(nil, src4, dst4, nil), Header{Version: 2, Source: src4, Dest: dst4}, "", false},
		{"v2_tcp6", AppendV2(nil, src6, dst6, nil), Header{Version: 2, Source: src6, Dest: dst6}, "", false},
		{"v2_tlvs_skipped", AppendV2(nil, src4, dst4, append(tlv(0x04, ""), tlv(0xEA, "vpce-0123456789abcdef")...)),
			Header{Version: 2, Source: src4, Dest: dst4}, "", false},
		{"v2_local", AppendV2(nil, netip.AddrPort{}, netip.AddrPort{}, nil), Header{Version: 2, Local: true}, "", false},
		{"v2_local_with_addrs", v2Raw(0x20, 0x11, v4body), Header{Version: 2, Local: true}, "", false},
		{"v2_unspec", v2Raw(0x21, 0x00, nil), Header{Version: 2, Local: true}, "", false},
		{"v2_unix", v2Raw(0x21, 0x31, make([]byte, 216)), Header{Version: 2, Local: true}, "", false},
		{"v2_version_1", v2Raw(0x11, 0x11, v4body), Header{}, "version 1", false},
		{"v2_bad_command", v2Raw(0x22, 0x11, v4body), Header{}, "command 0x2", false},
		{"v2_bad_family", v2Raw(0x21, 0x41, v4body), Header{}, "family 0x4", false},
		{"v2_udp", v2Raw(0x21, 0x12, v4body), Header{}, "transport 0x2", false},
		{"v2_short_addresses", v2Raw(0x21, 0x21, v4body), Header{}, "too short", false},
		{"v2_truncated_tlv", v2Raw(0x21, 0x11, append(append([]byte(nil), v4body...), 0x04, 0x00, 0x09, 'x')), Header{}, "TLV type 0x4", false},
		{"v2_too_long", v2Raw(0x21, 0x11, make([]byte, MaxV2Len+1)), Header{}, "exceeds 4096", false},
		{"v2_truncated_body", AppendV2(nil, src4, dst4, nil)[:20], Header{}, "unexpected EOF", true},
		{"rtmp_c0", append([]byte{3}, make([]byte, 1536)...), Header{}, "no PROXY signature", false},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Header{}, "no PROXY signature", false},
		{"empty", nil, Header{}, "unexpected EOF", true},
		{"short", []byte("PROXY"), Header{}, "unexpected EOF", true},
	}
}

func TestRead(t *testing.T) {
	trailer := []byte("\x03rtmp-handshake-follows")
	for _, tc := range readCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := bytes.NewReader(append(append([]byte(nil), tc.in...), trailer...))
			if tc.eof {
				r = bytes.NewReader(tc.in)
			}
			h, err := Read(r)
			if tc.error != "" {
				require.Error(t, err)
				require.Contains(t, err.Error(), tc.error)
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					require.ErrorIs(t, err, ErrInvalid)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, h)
			rest, err := io.ReadAll(r)
			require.NoError(t, err)
			require.Equal(t, trailer, rest, "Read must consume exactly the header")
		})
	}
}

// TestV2SpecExample decodes a v2 header written out byte by byte from the
// spec's layout (§2.2), independent of AppendV2.
func TestV2SpecExample(t *testing.T) {
	in, err := hex.DecodeString("0d0a0d0a000d0a515549540a" + "21" + "11" + "000c" +
		"c000020a" + "c6336401" + "c822" + "078f")
	require.NoError(t, err)
	h, err := Read(bytes.NewReader(in))
	require.NoError(t, err)
	require.Equal(t, Header{Version: 2, Source: src4, Dest: dst4}, h)
}

func FuzzRead(f *testing.F) {
	for _, tc := range readCases() {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		h, err := Read(r)
		if err != nil {
			return
		}
		n := len(in) - r.Len()
		require.LessOrEqual(t, n, 16+MaxV2Len)
		require.Contains(t, []int{1, 2}, h.Version)
		if h.Local {
			return
		}
		// A parsed address header re-encodes to one that parses the same.
		var again []byte
		if h.Version == 1 {
			again = AppendV1(nil, h.Source, h.Dest)
		} else {
			again = AppendV2(nil, h.Source, h.Dest, nil)
		}
		h2, err := Read(bytes.NewReader(again))
		require.NoError(t, err)
		require.Equal(t, h, h2)
	})
}
