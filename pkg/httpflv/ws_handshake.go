package httpflv

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // RFC 6455 §4.2.2 mandates SHA-1 for the accept key; not a security use
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// wsGUID is appended to the client's key to prove the server speaks
// WebSocket (RFC 6455 §1.3).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsHandshakeError is an opening handshake the server refuses, with the
// HTTP status to answer.
type wsHandshakeError struct {
	status int
	msg    string
}

func (e *wsHandshakeError) Error() string { return "websocket handshake: " + e.msg }

// checkWSHandshake validates the client's opening handshake (RFC 6455
// §4.2.1) and the Origin policy, and returns the Sec-WebSocket-Key.
// origins nil allows any origin.
func checkWSHandshake(r *http.Request, origins []string) (key string, err error) {
	bad := func(status int, format string, a ...any) (string, error) {
		return "", &wsHandshakeError{status: status, msg: fmt.Sprintf(format, a...)}
	}
	switch {
	case r.Method != http.MethodGet:
		return bad(http.StatusMethodNotAllowed, "method %s is not GET", r.Method)
	case r.ProtoMajor != 1 || r.ProtoMinor < 1:
		return bad(http.StatusUpgradeRequired, "protocol %s is not HTTP/1.1", r.Proto)
	case !headerHasToken(r.Header, "Upgrade", "websocket"):
		return bad(http.StatusUpgradeRequired, "upgrade %q does not list websocket", r.Header.Get("Upgrade"))
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return bad(http.StatusUpgradeRequired, "connection %q does not list upgrade", r.Header.Get("Connection"))
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return bad(http.StatusUpgradeRequired, "version %q is not 13", r.Header.Get("Sec-WebSocket-Version"))
	}
	key = r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return bad(http.StatusBadRequest, "key %q is not 16 bytes in base64", key)
	}
	if err := checkOrigin(r, origins); err != nil {
		return "", err
	}
	return key, nil
}

// checkOrigin applies the configured origins to a browser's upgrade (the
// same-origin policy does not cover WebSocket, so a page of any site could
// otherwise play; see Config.AllowOrigin). A request without Origin comes
// from no browser page and has nothing to protect; a page of the server's
// own host is always allowed. Each allowed origin is matched
// case-insensitively against scheme://host, or against the host alone when
// it has no scheme.
func checkOrigin(r *http.Request, origins []string) error {
	origin := r.Header.Get("Origin")
	if origins == nil || origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return &wsHandshakeError{status: http.StatusForbidden, msg: fmt.Sprintf("origin %q is not a URL with a host", origin)}
	}
	if strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	for _, o := range origins {
		target := u.Host
		if strings.Contains(o, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if strings.EqualFold(o, target) {
			return nil
		}
	}
	return &wsHandshakeError{status: http.StatusForbidden, msg: fmt.Sprintf("origin %q is not allowed", origin)}
}

// wsAccept computes Sec-WebSocket-Accept for key (RFC 6455 §4.2.2).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID)) //nolint:gosec // see the import
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsResponseHead renders the 101 answer to a valid handshake, with the
// headers already set on hdr (CORS). No subprotocol and no extension is
// selected: WS-FLV has none, and compressing H.264 only costs CPU.
func wsResponseHead(hdr http.Header, key string) []byte {
	hdr.Set("Upgrade", "websocket")
	hdr.Set("Connection", "Upgrade")
	hdr.Set("Sec-WebSocket-Accept", wsAccept(key))
	hdr.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	_ = hdr.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes()
}

// wsRefuse answers a refused handshake.
func wsRefuse(w http.ResponseWriter, err *wsHandshakeError) {
	if err.status == http.StatusUpgradeRequired {
		// RFC 6455 §4.4: name the version (and protocol) understood.
		hdr := w.Header()
		hdr.Set("Sec-WebSocket-Version", "13")
		hdr.Set("Upgrade", "websocket")
		hdr.Set("Connection", "Upgrade")
	}
	httpError(w, err.status, err.msg)
}
