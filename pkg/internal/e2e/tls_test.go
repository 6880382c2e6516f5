//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/internal/tlsx/tlstest"
)

var startedTLS = regexp.MustCompile(`\brtmps=(\S+) https=(\S+)`)

// tlsServer is a ripple with RTMPS and HTTPS on free ports, serving a leaf
// of ca written to dir.
type tlsServer struct {
	*server
	RTMPSAddr, HTTPSAddr string
	caFile               string
}

func startTLSServer(t *testing.T, ca *tlstest.CA, dir string) *tlsServer {
	t.Helper()
	cf, kf := ca.Leaf(t, "ripple-e2e").Write(t, dir)
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, ca.PEM, 0o600))
	s := startServer(t,
		"RIPPLE_RTMP_TLS_LISTEN=127.0.0.1:0", "RIPPLE_RTMP_TLS_CERT_FILE="+cf, "RIPPLE_RTMP_TLS_KEY_FILE="+kf,
		"RIPPLE_HTTP_TLS_LISTEN=127.0.0.1:0", "RIPPLE_HTTP_TLS_CERT_FILE="+cf, "RIPPLE_HTTP_TLS_KEY_FILE="+kf)
	line := s.logLine(t, startTimeout, 0, `msg="ripple started"`)
	m := startedTLS.FindStringSubmatch(line)
	require.NotNil(t, m, "no rtmps= https= in %q", line)
	return &tlsServer{server: s, RTMPSAddr: m[1], HTTPSAddr: m[2], caFile: caFile}
}

// tlsArgs make ffmpeg's TLS verify the server against the test CA.
func (s *tlsServer) tlsArgs() []string { return []string{"-tls_verify", "1", "-ca_file", s.caFile} }

// TestTLSPublishAndPlay: ffmpeg publishes over rtmps:// (verifying the
// server), ffmpeg plays HTTP-FLV and HLS over https:// with the CA.
func TestTLSPublishAndPlay(t *testing.T) {
	t.Parallel()
	requireTool(t, "ffmpeg", ffmpegBin != "")
	ca := tlstest.NewCA(t)
	s := startTLSServer(t, ca, t.TempDir())
	clip := mediaPath(t, "h264_aac_gop2s.flv")

	args := append(append([]string{}, ffmpegBase...), "-re", "-stream_loop", "-1", "-i", clip, "-c", "copy")
	args = append(args, s.tlsArgs()...)
	args = append(args, "-f", "flv", "rtmps://"+s.RTMPSAddr+"/live/tls")
	pub := startProc(t, "rtmps publisher", ffmpegBin, args, nil)
	s.waitLive(t, "live/tls", pub)

	for _, u := range []string{
		"https://" + s.HTTPSAddr + "/live/tls.flv",
		"https://" + s.HTTPSAddr + "/live/tls.m3u8",
	} {
		pargs := append(append([]string{}, ffmpegBase...), s.tlsArgs()...)
		pargs = append(pargs, "-i", u, "-t", "3", "-c", "copy", "-f", "null", "-")
		p := startProc(t, "player "+u, ffmpegBin, pargs, nil)
		require.NoError(t, p.wait(playTimeout), "%s", u)
	}
	require.False(t, pub.exited(), "the rtmps publisher is still live")
}

// TestTLSCertificateSwap: a certificate replaced on disk is served to the
// next connection, while an open HTTPS-FLV player goes on; plain clients on
// the TLS ports are closed with one log line.
func TestTLSCertificateSwap(t *testing.T) {
	t.Parallel()
	requireTool(t, "ffmpeg", ffmpegBin != "")
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	s := startTLSServer(t, ca, dir)
	publishLoop(t, s.server, "live/swap", mediaPath(t, "h264_aac_gop2s.flv"))
	s.waitLive(t, "live/swap", nil)

	served := func() int64 {
		cfg := ca.ClientConfig()
		cfg.ServerName = "localhost"
		nc, err := tls.Dial("tcp", s.HTTPSAddr, cfg)
		require.NoError(t, err)
		defer nc.Close()
		return nc.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	first := served()

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: ca.ClientConfig()}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), playTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+s.HTTPSAddr+"/live/swap.flv", nil)
	require.NoError(t, err)
	res, err := client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, first, res.TLS.PeerCertificates[0].SerialNumber.Int64())
	_, err = io.ReadFull(res.Body, make([]byte, 64<<10))
	require.NoError(t, err)

	next := ca.Leaf(t, "renewed")
	next.Write(t, dir)
	// The watcher polls every 2 s: the state observed is the certificate a
	// new connection gets.
	require.Eventually(t, func() bool { return served() == next.Serial.Int64() }, 20*time.Second, 100*time.Millisecond)
	s.logLine(t, 10*time.Second, 0, `msg="tls certificate loaded"`, "CN=renewed")

	// The player opened before the swap still receives the stream.
	_, err = io.ReadFull(res.Body, make([]byte, 256<<10))
	require.NoError(t, err, "the HTTPS-FLV player opened before the swap goes on")

	// A plain RTMP client on the RTMPS port is closed with one log line.
	nc, err := net.Dial("tcp", s.RTMPSAddr)
	require.NoError(t, err)
	_, err = nc.Write(append([]byte{3}, make([]byte, 1536)...))
	require.NoError(t, err)
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, _ = io.ReadAll(nc) // an alert, then EOF or a reset
	nc.Close()
	s.logLine(t, 10*time.Second, 0, `msg="tls handshake failed"`, "proto=rtmp")

	// A TLS client on the plain RTMP port fails the RTMP handshake.
	cfg := ca.ClientConfig()
	cfg.ServerName = "localhost"
	d := &net.Dialer{Timeout: 10 * time.Second}
	_, err = tls.DialWithDialer(d, "tcp", s.RTMPAddr, cfg)
	require.Error(t, err)
	s.logLine(t, 10*time.Second, 0, "a TLS handshake on a plain RTMP port")
}

// TestTLSBrowser: the page loaded over https builds https and wss play
// URLs, and Chromium plays the stream from it with mpegts.js over wss://
// and with hls.js over https:// (the test CA's leaf is accepted with
// --ignore-certificate-errors: Chromium has no flag to add one CA).
func TestTLSBrowser(t *testing.T) {
	t.Parallel()
	const key = "live/tlsweb"
	ca := tlstest.NewCA(t)
	s := startTLSServer(t, ca, t.TempDir())
	pub := publishLoop(t, s.server, key, mediaPath(t, "h264_aac_gop1s.mp4"))
	s.waitLive(t, key, pub)
	br := startBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
	for _, tc := range []struct{ proto, engine, scheme string }{
		{"ws", "mpegts.js", "wss://"},
		{"hls", "hls.js", "https://"},
	} {
		t.Run(tc.proto, func(t *testing.T) {
			tb := br.newTab(t, t.Name())
			tb.do(t, "open the page over https", pageTimeout,
				chromedp.Navigate("https://"+s.HTTPSAddr+"/#"+key+"?"+tc.proto))
			requireLocalLibs(t, tb)
			_, port, err := net.SplitHostPort(s.RTMPSAddr)
			require.NoError(t, err)
			require.Equal(t, "rtmps://127.0.0.1:"+port+"/"+key,
				eval[string](t, tb, "the RTMPS URL", pageTimeout, `document.getElementById('url-rtmps').value`))
			tb.do(t, "press Play", pageTimeout, chromedp.Click(chromedp.CSS(`#stream-form button[type=submit]`)))
			res := eval[playResult](t, tb, "watch playback", browserPlayTimeout+5*time.Second,
				fmt.Sprintf(watchPlayback, 3.0, browserPlayTimeout.Milliseconds()))
			require.True(t, res.OK, "%s (state: %+v)", res.Reason, res)
			require.Equal(t, tc.engine, res.Engine)
			require.True(t, strings.HasPrefix(res.URL, tc.scheme+s.HTTPSAddr+"/"), "play URL %s", res.URL)
		})
	}
}
