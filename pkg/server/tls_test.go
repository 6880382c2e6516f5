package server

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/internal/tlsx/tlstest"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// tlsConfig turns both TLS listeners on with a fresh CA's leaf in dir.
func tlsConfig(t *testing.T, ca *tlstest.CA, dir string) config.Config {
	t.Helper()
	cfg := testConfig(t)
	cf, kf := ca.Leaf(t, "one").Write(t, dir)
	cfg.RTMP.TLS = config.TLS{Listen: "127.0.0.1:0", CertFile: cf, KeyFile: kf}
	cfg.HTTP.TLS = config.TLS{Listen: "127.0.0.1:0", CertFile: cf, KeyFile: kf}
	return cfg
}

func httpsClient(ca *tlstest.CA) *http.Client {
	return &http.Client{Timeout: waitTimeout, Transport: &http.Transport{
		TLSClientConfig:   ca.ClientConfig(),
		ForceAttemptHTTP2: true, // offered; the server must pick HTTP/1.1
	}}
}

func TestTLSListenersServe(t *testing.T) {
	ca := tlstest.NewCA(t)
	r := start(t, tlsConfig(t, ca, t.TempDir()))
	require.NotNil(t, r.RTMPSAddr())
	require.NotNil(t, r.HTTPSAddr())

	// HTTPS: the same handler (the API here), HTTP/1.1 only.
	c := httpsClient(ca)
	defer c.CloseIdleConnections()
	res, err := c.Get("https://" + r.HTTPSAddr().String() + "/api/v1/streams")
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode, string(body))
	require.Equal(t, 1, res.ProtoMajor, "no h2 (docs/tls.md)")
	require.NotNil(t, res.TLS)
	require.Equal(t, "http/1.1", res.TLS.NegotiatedProtocol)

	// The plain listener still serves.
	res, err = http.Get(r.url("/healthz"))
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)

	// RTMPS: TLS, then the RTMP handshake of the same server.
	cfg := ca.ClientConfig()
	cfg.ServerName = "localhost"
	nc, err := tls.Dial("tcp", r.RTMPSAddr().String(), cfg)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetDeadline(time.Now().Add(waitTimeout)))
	require.NoError(t, rtmp.ClientHandshake(bufio.NewReader(nc), nc))

	// The start-up line keeps rtmp= and http= first, the TLS ones after.
	line := r.logLine(t, "ripple started")
	i := strings.Index(line, "rtmp=")
	j := strings.Index(line, "http=")
	k := strings.Index(line, "rtmps="+r.RTMPSAddr().String())
	l := strings.Index(line, "https="+r.HTTPSAddr().String())
	require.True(t, i >= 0 && i < j && j < k && k < l, line)
	require.Contains(t, r.logLine(t, "publish to"), "rtmps=rtmps://"+r.RTMPSAddr().String()+"/live/stream")
	require.Contains(t, r.logLine(t, "watch at"), "wss-flv=wss://"+r.HTTPSAddr().String()+"/live/stream.flv")

	// The page shows the RTMPS port.
	res, err = c.Get("https://" + r.HTTPSAddr().String() + "/")
	require.NoError(t, err)
	page, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Contains(t, string(page), `"rtmps_port":`+portString(r.RTMPSAddr()))
}

func portString(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// logLine returns the first logged line containing msg.
func (r *running) logLine(t *testing.T, msg string) string {
	t.Helper()
	for line := range strings.SplitSeq(r.logs.String(), "\n") {
		if strings.Contains(line, `msg="`+msg+`"`) {
			return line
		}
	}
	t.Fatalf("no %q line in:\n%s", msg, r.logs.String())
	return ""
}

func TestTLSOnlyListeners(t *testing.T) {
	ca := tlstest.NewCA(t)
	cfg := tlsConfig(t, ca, t.TempDir())
	cfg.RTMP.Listen, cfg.HTTP.Listen = "", ""
	r := start(t, cfg)
	require.Nil(t, r.RTMPAddr())
	require.Nil(t, r.HTTPAddr())
	c := httpsClient(ca)
	defer c.CloseIdleConnections()
	res, err := c.Get("https://" + r.HTTPSAddr().String() + "/healthz")
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, r.logLine(t, "ripple started"), `rtmp="" http=""`)
	_, err = r.stop(t)
	require.NoError(t, err)
}

func TestTLSCertErrorsNameKey(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	cfg := tlsConfig(t, ca, dir)
	cfg.HTTP.TLS.CertFile = filepath.Join(dir, "missing.pem")
	_, err := New(cfg, nil)
	require.ErrorContains(t, err, "config: http.tls.cert_file: "+cfg.HTTP.TLS.CertFile)

	cfg = tlsConfig(t, ca, dir)
	bad := filepath.Join(dir, "bad-key.pem")
	require.NoError(t, os.WriteFile(bad, []byte("nope"), 0o600))
	cfg.RTMP.TLS.KeyFile = bad
	_, err = New(cfg, nil)
	require.ErrorContains(t, err, "config: rtmp.tls.key_file: "+bad)
}

// served returns the serial of the certificate a new HTTPS handshake gets.
func served(t *testing.T, ca *tlstest.CA, addr net.Addr) int64 {
	t.Helper()
	cfg := ca.ClientConfig()
	cfg.ServerName = "localhost"
	nc, err := tls.Dial("tcp", addr.String(), cfg)
	require.NoError(t, err)
	defer nc.Close()
	return nc.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func TestTLSReloadOnSIGHUP(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	cfg := tlsConfig(t, ca, dir)
	r := start(t, cfg)
	first := served(t, ca, r.HTTPSAddr())

	// Renewed in place: same keys, new files. Reload re-reads them at once
	// (the 2 s watcher would take longer).
	two := ca.Leaf(t, "two")
	two.Write(t, dir)
	res, err := r.Reload(cfg)
	require.NoError(t, err)
	require.Contains(t, res.Applied, "tls")
	require.Equal(t, two.Serial.Int64(), served(t, ca, r.HTTPSAddr()))
	require.Equal(t, two.Serial.Int64(), served(t, ca, r.RTMPSAddr()), "RTMPS is an RTMP server behind TLS: the handshake completes")
	require.NotEqual(t, first, two.Serial.Int64())

	// A broken pair fails the reload and keeps the old certificate.
	require.NoError(t, os.WriteFile(cfg.HTTP.TLS.KeyFile, []byte("broken"), 0o600))
	_, err = r.Reload(cfg)
	require.ErrorContains(t, err, "config: rtmp.tls.key_file: ")
	require.Equal(t, two.Serial.Int64(), served(t, ca, r.HTTPSAddr()))

	// New paths are loaded.
	dir2 := t.TempDir()
	three := ca.Leaf(t, "three")
	cf, kf := three.Write(t, dir2)
	cfg.HTTP.TLS.CertFile, cfg.HTTP.TLS.KeyFile = cf, kf
	cfg.RTMP.TLS.CertFile, cfg.RTMP.TLS.KeyFile = cf, kf
	res, err = r.Reload(cfg)
	require.NoError(t, err)
	require.Empty(t, res.Restart)
	require.Equal(t, three.Serial.Int64(), served(t, ca, r.HTTPSAddr()))
}

// TestTLSHandshakeBounded: a client that opens TCP and sends nothing is cut
// on both TLS ports, and a plain client on a TLS port is logged once.
func TestTLSHandshakeBounded(t *testing.T) {
	ca := tlstest.NewCA(t)
	cfg := tlsConfig(t, ca, t.TempDir())
	cfg.RTMP.HandshakeTimeout = 200 * time.Millisecond
	cfg.HTTP.ReadTimeout = 200 * time.Millisecond
	r := start(t, cfg)

	nc, err := net.Dial("tcp", r.RTMPSAddr().String())
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(waitTimeout)))
	_, err = nc.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the server closes an RTMPS conn that sends nothing")
	require.Eventually(t, func() bool {
		return strings.Contains(r.logs.String(), `msg="tls handshake failed"`)
	}, waitTimeout, 10*time.Millisecond)

	// A plain RTMP C0+C1 on the RTMPS port: closed.
	nc2, err := net.Dial("tcp", r.RTMPSAddr().String())
	require.NoError(t, err)
	defer nc2.Close()
	_, err = nc2.Write(append([]byte{3}, make([]byte, 1536)...))
	require.NoError(t, err)
	require.NoError(t, nc2.SetReadDeadline(time.Now().Add(waitTimeout)))
	_, err = io.ReadAll(nc2) // a TLS alert, then the close (a reset: our bytes were not read)
	if err != nil {
		require.ErrorIs(t, err, syscall.ECONNRESET)
	}

	// A plain HTTP request on the HTTPS port gets net/http's 400 and one
	// rate-limited line.
	nc3, err := net.Dial("tcp", r.HTTPSAddr().String())
	require.NoError(t, err)
	defer nc3.Close()
	_, err = nc3.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)
	require.NoError(t, nc3.SetReadDeadline(time.Now().Add(waitTimeout)))
	b, err := io.ReadAll(nc3)
	require.NoError(t, err)
	require.Contains(t, string(b), "400 Bad Request")
	require.Eventually(t, func() bool {
		return strings.Contains(r.logs.String(), `msg="tls handshake failed" proto=http remote=`+nc3.LocalAddr().String()+
			` err="client sent an HTTP request to an HTTPS server"`)
	}, waitTimeout, 10*time.Millisecond, r.logs.String())

	// HTTPS: the TLS handshake is bounded by net/http's smallest read
	// timeout (http.read_timeout here, the 10 s header timeout at most).
	nc4, err := net.Dial("tcp", r.HTTPSAddr().String())
	require.NoError(t, err)
	defer nc4.Close()
	require.NoError(t, nc4.SetReadDeadline(time.Now().Add(waitTimeout)))
	_, err = nc4.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the server closes an HTTPS conn that sends nothing")

}

// A TLS client on the plain HTTP port is closed at its first byte with one
// log line, instead of net/http's silent 400; plain HTTP there is served.
func TestTLSClientOnPlainHTTPPort(t *testing.T) {
	r := start(t, testConfig(t))
	conn, err := tls.Dial("tcp", r.HTTPAddr().String(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // no certificate is ever shown
	if err == nil {
		conn.Close()
	}
	require.Error(t, err, "no TLS on the plain port")
	require.Eventually(t, func() bool {
		return strings.Contains(r.logs.String(), "TLS handshake on the plain HTTP port")
	}, waitTimeout, 10*time.Millisecond)
	resp, err := http.Get(r.url("/healthz"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
