package rtmp

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Flash digest helpers written from the handshake description
// (docs/interop.md §1), independently of handshake.go, to build and check C1/S1/S2.

const (
	tPlayerText = "Genuine Adobe Flash Player 001"
	tServerText = "Genuine Adobe Flash Media Server 001"
)

func tHMAC(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// tOffset: base 8 = digest block first, base 772 = key block first.
func tOffset(b []byte, base int) int {
	return base + 4 + (int(b[base])+int(b[base+1])+int(b[base+2])+int(b[base+3]))%728
}

func tRandom(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// tDigestC1 builds a Flash-style C1 whose digest sits in the given block.
func tDigestC1(base int, key string) []byte {
	c1 := tRandom(1536)
	copy(c1[4:8], []byte{10, 0, 32, 18})
	off := tOffset(c1, base)
	copy(c1[off:], tHMAC([]byte(key), c1[:off], c1[off+32:]))
	return c1
}

func tPlainC1() []byte {
	c1 := tRandom(1536)
	copy(c1[0:8], []byte{0, 0, 0x12, 0x34, 0, 0, 0, 0})
	return c1
}

// countingWriter records what was written and in how many calls.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

func runServerHandshake(in []byte) (*countingWriter, *bufio.Reader, error) {
	br := bufio.NewReader(bytes.NewReader(in))
	w := &countingWriter{}
	err := ServerHandshake(br, w)
	return w, br, err
}

func TestServerHandshakePlain(t *testing.T) {
	c1 := tPlainC1()
	c2 := tRandom(1536) // not validated
	w, br, err := runServerHandshake(join([]byte{3}, c1, c2, []byte("pipelined connect")))
	require.NoError(t, err)
	require.Equal(t, 1, w.writes, "S0+S1+S2 in one write")
	out := w.Bytes()
	require.Len(t, out, 1+2*1536)
	require.Equal(t, byte(3), out[0])
	s1, s2 := out[1:1537], out[1537:]
	require.Equal(t, []byte{0, 0, 0, 0}, s1[4:8], "plain S1 must have zero version or ffmpeg players check a digest")
	require.Equal(t, c1, s2, "plain S2 echoes C1")
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	require.Equal(t, "pipelined connect", string(rest), "bytes after C2 stay in br for the chunk reader")
}

func TestServerHandshakeDigest(t *testing.T) {
	for _, base := range []int{8, 772} {
		t.Run(fmt.Sprintf("digest block at %d", base), func(t *testing.T) {
			c1 := tDigestC1(base, tPlayerText)
			w, _, err := runServerHandshake(join([]byte{3}, c1, tRandom(1536)))
			require.NoError(t, err)
			require.Equal(t, 1, w.writes)
			s1, s2 := w.Bytes()[1:1537], w.Bytes()[1537:]
			require.GreaterOrEqual(t, s1[4], byte(3), "ffmpeg treats S1 byte 4 >= 3 as digest-style")

			// S1 digest: same block layout as the client's, server text key.
			off := tOffset(s1, base)
			require.Equal(t, tHMAC([]byte(tServerText), s1[:off], s1[off+32:]), s1[off:off+32])

			// S2 signature keyed by HMAC(full server key, C1 digest).
			coff := tOffset(c1, base)
			fullKey := append([]byte(tServerText), handshakeKeyTail...)
			key := tHMAC(fullKey, c1[coff:coff+32])
			require.Equal(t, tHMAC(key, s2[:1504]), s2[1504:])
		})
	}
}

func TestServerHandshakeInvalidDigestFallsBackToPlain(t *testing.T) {
	garbage := tRandom(1536)
	copy(garbage[4:8], []byte{9, 0, 124, 2})
	cases := map[string][]byte{
		"garbage digest":     garbage,
		"digest wrong key":   tDigestC1(8, "Genuine Adobe Flash Player 002"),
		"digest server key":  tDigestC1(772, tServerText),
		"only byte 7 is set": append(append(tPlainC1()[:7:7], 1), tRandom(1528)...),
	}
	for name, c1 := range cases {
		t.Run(name, func(t *testing.T) {
			w, _, err := runServerHandshake(join([]byte{3}, c1, tRandom(1536)))
			require.NoError(t, err)
			s1, s2 := w.Bytes()[1:1537], w.Bytes()[1537:]
			require.Equal(t, []byte{0, 0, 0, 0}, s1[4:8])
			require.Equal(t, c1, s2)
		})
	}
}

func TestServerHandshakeVersion(t *testing.T) {
	cases := []struct {
		c0  byte
		err string
	}{
		{6, "rtmp: unsupported handshake version 6 (RTMPE, encrypted RTMP, is not supported), want 3"},
		{8, "rtmp: unsupported handshake version 8 (RTMPE, encrypted RTMP, is not supported), want 3"},
		{9, "rtmp: unsupported handshake version 9 (RTMPE, encrypted RTMP, is not supported), want 3"},
		{'G', `rtmp: unsupported handshake version 71 ('G': an HTTP request on the RTMP port), want 3`},
		{'P', `rtmp: unsupported handshake version 80 ('P': an HTTP request on the RTMP port), want 3`},
		{0x16, "rtmp: unsupported handshake version 22 (a TLS handshake on a plain RTMP port: RTMPS has a port of its own), want 3"},
		{0, "rtmp: unsupported handshake version 0, want 3"},
		{4, "rtmp: unsupported handshake version 4, want 3"},
		{0xFF, "rtmp: unsupported handshake version 255, want 3"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.c0), func(t *testing.T) {
			// Only C0 arrives: an HTTP client would wait for our answer, so
			// the version must be judged before reading C1.
			w, _, err := runServerHandshake([]byte{c.c0})
			require.EqualError(t, err, c.err)
			require.ErrorIs(t, err, ErrHandshakeVersion)
			require.Zero(t, w.Len(), "nothing answered")
		})
	}
}

func TestServerHandshakeTruncated(t *testing.T) {
	c1 := tPlainC1()
	cases := []struct {
		name  string
		in    []byte
		err   string
		wrote bool
	}{
		{"nothing", nil, "rtmp: read C0: EOF", false},
		{"C0 only", []byte{3}, "rtmp: read C1: unexpected EOF", false},
		{"partial C1", join([]byte{3}, c1[:1000]), "rtmp: read C1: unexpected EOF", false},
		{"no C2", join([]byte{3}, c1), "rtmp: read C2: unexpected EOF", true},
		{"partial C2", join([]byte{3}, c1, c1[:1535]), "rtmp: read C2: unexpected EOF", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, _, err := runServerHandshake(c.in)
			require.EqualError(t, err, c.err)
			require.Equal(t, c.wrote, w.Len() > 0)
		})
	}
}

// scriptedServer returns S0+S1+S2 for a client handshake test.
func scriptedServer(s0 byte, s1, s2 []byte) *bufio.Reader {
	return bufio.NewReader(bytes.NewReader(join([]byte{s0}, s1, s2)))
}

func TestClientHandshakePlain(t *testing.T) {
	s1, s2 := tRandom(1536), tRandom(1536)
	s1[4] = 4 // a digest-looking S1 is still echoed by the plain client
	w := &countingWriter{}
	require.NoError(t, ClientHandshake(scriptedServer(3, s1, s2), w))
	out := w.Bytes()
	require.Len(t, out, 1+1536+1536)
	require.Equal(t, 2, w.writes, "C0+C1 together, then C2")
	require.Equal(t, byte(3), out[0])
	require.Equal(t, []byte{0, 0, 0, 0}, out[5:9], "plain C1")
	require.Equal(t, s1, out[1537:], "C2 echoes S1")
}

func TestClientHandshakeErrors(t *testing.T) {
	cases := []struct {
		name string
		br   *bufio.Reader
		err  string
	}{
		{"server version 6", scriptedServer(6, tRandom(1536), tRandom(1536)), "rtmp: unsupported handshake version 6 (RTMPE, encrypted RTMP, is not supported), want 3"},
		{"no answer", bufio.NewReader(bytes.NewReader(nil)), "rtmp: read S0: EOF"},
		{"truncated S2", scriptedServer(3, tRandom(1536), tRandom(100)), "rtmp: read S1+S2: unexpected EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.EqualError(t, ClientHandshake(c.br, io.Discard), c.err)
		})
	}
}

func TestClientHandshakeDigestBadSignature(t *testing.T) {
	// An S1 with a valid server digest obliges S2 to be signed.
	s1 := tDigestC1(8, tServerText)
	err := ClientHandshakeDigest(scriptedServer(3, s1, tRandom(1536)), io.Discard)
	require.EqualError(t, err, "rtmp: handshake S2 signature mismatch")
}

func TestClientHandshakeDigestPlainServer(t *testing.T) {
	s1 := tPlainC1()
	w := &countingWriter{}
	require.NoError(t, ClientHandshakeDigest(scriptedServer(3, s1, tRandom(1536)), w))
	c1 := w.Bytes()[1:1537]
	require.Equal(t, []byte{9, 0, 124, 2}, c1[4:8])
	off := tOffset(c1, 8)
	require.Equal(t, tHMAC([]byte(tPlayerText), c1[:off], c1[off+32:]), c1[off:off+32], "client digest valid")
	require.Equal(t, s1, w.Bytes()[1537:], "plain server: C2 echoes S1")
}

// TestHandshakeClientServer runs our client against our server over a pipe in
// both dialects, then checks that a message pipelined right behind C2 reaches
// the server's chunk reader through the same bufio.Reader.
func TestHandshakeClientServer(t *testing.T) {
	for name, client := range map[string]func(*bufio.Reader, io.Writer) error{
		"plain":  ClientHandshake,
		"digest": ClientHandshakeDigest,
	} {
		t.Run(name, func(t *testing.T) {
			cc, sc := net.Pipe()
			defer cc.Close()
			defer sc.Close()
			deadline := time.Now().Add(5 * time.Second)
			require.NoError(t, cc.SetDeadline(deadline))
			require.NoError(t, sc.SetDeadline(deadline))

			type result struct {
				m   *Message
				err error
			}
			done := make(chan result, 1)
			go func() {
				br := bufio.NewReader(sc)
				if err := ServerHandshake(br, sc); err != nil {
					done <- result{err: err}
					return
				}
				m, err := NewChunkReader(br, 0).ReadMessage()
				done <- result{m: m, err: err}
			}()

			require.NoError(t, client(bufio.NewReader(cc), cc))
			want := &Message{TypeID: TypeCommandAMF0, Payload: []byte("connect")}
			_, err := cc.Write(NewChunkWriter().AppendMessage(nil, 3, want))
			require.NoError(t, err)

			select {
			case r := <-done:
				require.NoError(t, r.err)
				require.Equal(t, want, r.m)
			case <-time.After(10 * time.Second):
				t.Fatal("server handshake did not finish")
			}
		})
	}
}

func FuzzServerHandshake(f *testing.F) {
	f.Add(join([]byte{3}, tPlainC1(), tRandom(1536)))
	f.Add(join([]byte{3}, tDigestC1(8, tPlayerText), tRandom(1536)))
	f.Add(join([]byte{3}, tDigestC1(772, tPlayerText), tRandom(1536), []byte{2, 0, 0, 0}))
	for _, c0 := range []byte{0, 6, 'G', 0x16} {
		f.Add([]byte{c0})
	}
	f.Add([]byte{3, 0, 0, 0, 0, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, in []byte) {
		w, _, err := runServerHandshake(in)
		if err != nil {
			require.True(t, w.Len() == 0 || w.Len() == 3073)
			if len(in) > 0 && in[0] != 3 {
				require.ErrorIs(t, err, ErrHandshakeVersion)
			}
			return
		}
		require.GreaterOrEqual(t, len(in), 1+2*1536)
		out := w.Bytes()
		require.Len(t, out, 3073)
		if bytes.Equal(out[5:9], []byte{0, 0, 0, 0}) {
			require.Equal(t, in[1:1537], out[1537:], "plain S2 echoes C1")
		}
	})
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestHandshakeWriteErrors(t *testing.T) {
	err := ServerHandshake(bufio.NewReader(bytes.NewReader(join([]byte{3}, tPlainC1()))), errWriter{})
	require.EqualError(t, err, "rtmp: write S0+S1+S2: broken pipe")
	err = ClientHandshake(scriptedServer(3, tRandom(1536), tRandom(1536)), errWriter{})
	require.EqualError(t, err, "rtmp: write C0+C1: broken pipe")
}
