package httpflv

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWSAccept(t *testing.T) {
	// RFC 6455 §1.3.
	require.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", wsAccept("dGhlIHNhbXBsZSBub25jZQ=="))
}

const testWSKey = "dGhlIHNhbXBsZSBub25jZQ=="

func wsRequest(edit func(r *http.Request)) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://media.example/live/cam.flv", nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", testWSKey)
	if edit != nil {
		edit(r)
	}
	return r
}

func TestCheckWSHandshake(t *testing.T) {
	listed := []string{"https://a.example", "b.example"}
	cases := []struct {
		name    string
		origins []string // nil: any
		edit    func(r *http.Request)
		status  int // 0: accepted
	}{
		{name: "valid", edit: nil},
		{name: "token lists", edit: func(r *http.Request) {
			r.Header.Set("Connection", "keep-alive, Upgrade")
			r.Header.Set("Upgrade", "WebSocket")
		}},
		{name: "POST", edit: func(r *http.Request) { r.Method = http.MethodPost }, status: http.StatusMethodNotAllowed},
		{name: "HTTP/1.0", edit: func(r *http.Request) { r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0 }, status: http.StatusUpgradeRequired},
		{name: "HTTP/2", edit: func(r *http.Request) { r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0 }, status: http.StatusUpgradeRequired},
		{name: "no upgrade", edit: func(r *http.Request) { r.Header.Del("Upgrade") }, status: http.StatusUpgradeRequired},
		{name: "upgrade h2c", edit: func(r *http.Request) { r.Header.Set("Upgrade", "h2c") }, status: http.StatusUpgradeRequired},
		{name: "connection keep-alive", edit: func(r *http.Request) { r.Header.Set("Connection", "keep-alive") }, status: http.StatusUpgradeRequired},
		{name: "version 8", edit: func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") }, status: http.StatusUpgradeRequired},
		{name: "no version", edit: func(r *http.Request) { r.Header.Del("Sec-WebSocket-Version") }, status: http.StatusUpgradeRequired},
		{name: "no key", edit: func(r *http.Request) { r.Header.Del("Sec-WebSocket-Key") }, status: http.StatusBadRequest},
		{name: "key not base64", edit: func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "not base64!") }, status: http.StatusBadRequest},
		{name: "key of 15 bytes", edit: func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA") }, status: http.StatusBadRequest},
		{name: "any origin", edit: func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }},
		{name: "listed origin", origins: listed, edit: func(r *http.Request) { r.Header.Set("Origin", "https://A.example") }},
		{name: "listed scheme only", origins: listed, edit: func(r *http.Request) { r.Header.Set("Origin", "http://a.example") }, status: http.StatusForbidden},
		{name: "listed host", origins: listed, edit: func(r *http.Request) { r.Header.Set("Origin", "http://b.example") }},
		{name: "same host", origins: listed, edit: func(r *http.Request) { r.Header.Set("Origin", "https://media.example") }},
		{name: "no origin", origins: listed},
		{name: "other origin", origins: listed, edit: func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }, status: http.StatusForbidden},
		{name: "opaque origin", origins: listed, edit: func(r *http.Request) { r.Header.Set("Origin", "null") }, status: http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key, err := checkWSHandshake(wsRequest(c.edit), c.origins)
			if c.status == 0 {
				require.NoError(t, err)
				require.Equal(t, testWSKey, key)
				return
			}
			var he *wsHandshakeError
			require.ErrorAs(t, err, &he)
			require.Equal(t, c.status, he.status)
		})
	}
}

// rawWS sends a WebSocket opening handshake by hand and returns the
// connection and the response.
func rawWS(t *testing.T, addr, path string, edit func(h http.Header)) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	require.NoError(t, err)
	req.Header = wsRequest(nil).Header
	if edit != nil {
		edit(req.Header)
	}
	require.NoError(t, req.Write(conn))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	require.NoError(t, err)
	return conn, br, resp
}

// TestWSHandshakeRefused: a bad upgrade gets a clear answer and one log
// line, and subscribes nothing for long.
func TestWSHandshakeRefused(t *testing.T) {
	logs := &logBuffer{}
	e := newEnv(t, Config{Logger: logs.logger(), AllowOrigin: "https://a.example"})
	p := e.publish(t, "live/cam")
	primed, _ := streamPackets(true, true)
	write(t, p, primed...)
	addr := e.srv.Listener.Addr().String()

	cases := []struct {
		name   string
		edit   func(h http.Header)
		status int
		log    string
	}{
		{"version", func(h http.Header) { h.Set("Sec-WebSocket-Version", "8") }, http.StatusUpgradeRequired, `version \"8\" is not 13`},
		{"key", func(h http.Header) { h.Set("Sec-WebSocket-Key", "short") }, http.StatusBadRequest, `key \"short\" is not 16 bytes`},
		{"origin", func(h http.Header) { h.Set("Origin", "https://evil.example") }, http.StatusForbidden, `origin \"https://evil.example\" is not allowed`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, resp := rawWS(t, addr, "/live/cam.flv", c.edit)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, c.status, resp.StatusCode)
			require.Contains(t, string(body), strings.ReplaceAll(c.log, `\"`, `"`))
			if c.status == http.StatusUpgradeRequired {
				require.Equal(t, "13", resp.Header.Get("Sec-WebSocket-Version"))
			}
			waitLog(t, logs, "player closed", "proto=ws-flv", "websocket handshake: "+c.log)
		})
	}
	e.waitReaders(t, "live/cam", 0)
}

// TestWSHandshakeAccepted checks the 101 answer on the wire: the accept
// key, no subprotocol, no extension (permessage-deflate is declined), and
// the CORS headers of the policy.
func TestWSHandshakeAccepted(t *testing.T) {
	e := newEnv(t, Config{AllowOrigin: "https://a.example"})
	p := e.publish(t, "live/cam")
	primed, _ := streamPackets(true, true)
	write(t, p, primed...)
	conn, br, resp := rawWS(t, e.srv.Listener.Addr().String(), "/live/cam.flv", func(h http.Header) {
		h.Set("Origin", "https://a.example")
		h.Set("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")
		h.Set("Sec-WebSocket-Protocol", "flv")
	})
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	require.Equal(t, "websocket", resp.Header.Get("Upgrade"))
	require.Equal(t, "Upgrade", resp.Header.Get("Connection"))
	require.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", resp.Header.Get("Sec-WebSocket-Accept"))
	require.Empty(t, resp.Header.Get("Sec-WebSocket-Extensions"))
	require.Empty(t, resp.Header.Get("Sec-WebSocket-Protocol"))
	require.Equal(t, "https://a.example", resp.Header.Get("Access-Control-Allow-Origin"))

	// The first message is the FLV header, in one unmasked binary frame.
	msg := make([]byte, 2+13)
	_, err := io.ReadFull(br, msg)
	require.NoError(t, err)
	require.Equal(t, []byte{0x82, 13, 'F', 'L', 'V', 1}, msg[:6])
	require.NoError(t, conn.Close())
	e.waitReaders(t, "live/cam", 0)
}

// TestWSNotHijackable: a ResponseWriter that cannot hand over its
// connection gets 501, not a hang.
func TestWSNotHijackable(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.publish(t, "live/cam")
	primed, _ := streamPackets(true, true)
	write(t, p, primed...)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, wsRequest(nil))
	require.Equal(t, http.StatusNotImplemented, rec.Code)
	e.waitReaders(t, "live/cam", 0)
}
