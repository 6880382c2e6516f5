package rtmp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/tlsx/tlstest"
)

// testCA is a self-signed CA and a server certificate it signed for
// localhost and 127.0.0.1.
type testCA struct {
	pool *x509.CertPool
	cert tls.Certificate
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	ca := tlstest.NewCA(t)
	return testCA{pool: ca.Pool(), cert: ca.Leaf(t, "localhost").TLS(t)}
}

// tlsEnv is an RTMPS server on loopback: the RTMP server behind
// tls.NewListener, recording the SNI names clients sent.
type tlsEnv struct {
	*testEnv
	ca  testCA
	mu  sync.Mutex
	sni []string
}

func startTLSServer(t *testing.T) *tlsEnv {
	t.Helper()
	e := &tlsEnv{ca: newTestCA(t)}
	logs := newLogSink()
	h := hub.New(hub.Config{Logger: logs.logger()})
	srv := NewServer(ServerConfig{Logger: logs.logger()}, h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{e.ca.cert},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			e.mu.Lock()
			e.sni = append(e.sni, hello.ServerName)
			e.mu.Unlock()
			return nil, nil
		},
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		h.Close()
		select {
		case err := <-served:
			require.ErrorIs(t, err, ErrServerClosed)
		case <-time.After(testTimeout):
			t.Error("Serve did not return after Close")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	addr := ln.Addr().String()
	e.testEnv = &testEnv{addr: addr, url: "rtmps://" + addr + "/live", hub: h, srv: srv, logs: logs}
	return e
}

func (e *tlsEnv) sniNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.sni...)
}

func dialTLS(t *testing.T, url string, cfg ClientConfig) *ClientConn {
	t.Helper()
	cfg.Timeout = testTimeout
	c, err := Dial(testCtx(t), url, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRTMPSPublishPlay(t *testing.T) {
	env := startTLSServer(t)
	trusted := ClientConfig{TLS: &tls.Config{RootCAs: env.ca.pool, MinVersion: tls.VersionTLS12}}
	pub := dialTLS(t, env.url, trusted)
	require.NoError(t, pub.Publish(testCtx(t), "cam1"))
	env.waitLive(t, "live/cam1")
	play := dialTLS(t, env.url, trusted)
	require.NoError(t, play.Play(testCtx(t), "cam1"))

	gen := newGen()
	want := append(gen.Headers(), gen.Packets(200)...)
	for _, p := range want {
		require.NoError(t, pub.WritePacket(p))
	}
	for i, w := range want {
		got, err := play.ReadPacket()
		require.NoError(t, err, "packet %d", i)
		samePacket(t, w, got, i)
	}
	// Close ends TLS cleanly after deleteStream: the player sees the end.
	require.NoError(t, pub.Close())
	_, err := play.ReadPacket()
	require.ErrorIs(t, err, io.EOF)
	env.logs.waitClosed(t, "stream ended")
}

func TestRTMPSForward(t *testing.T) {
	env := startTLSServer(t)
	src := hub.New(hub.Config{})
	defer src.Close()
	feedPub, err := src.Publish("live/src", hub.PublisherInfo{Protocol: "test"})
	require.NoError(t, err)
	r, err := src.Subscribe("live/src", hub.ReaderInfo{Protocol: "test"})
	require.NoError(t, err)
	defer r.Close()
	gen := newGen()
	want := append(gen.Headers(), gen.Packets(100)...)
	for _, p := range want {
		require.NoError(t, feedPub.WritePacket(p))
	}

	pub := dialTLS(t, env.url, ClientConfig{InsecureSkipVerify: true})
	require.NoError(t, pub.Publish(testCtx(t), "fwd"))
	env.waitLive(t, "live/fwd")
	play := dialTLS(t, env.url, ClientConfig{InsecureSkipVerify: true})
	require.NoError(t, play.Play(testCtx(t), "fwd"))

	done := make(chan error, 1)
	go func() { done <- pub.Forward(context.Background(), r, nil) }()
	feedPub.Close() // the reader ends after what was queued: Forward returns io.EOF
	require.ErrorIs(t, <-done, io.EOF)
	// Everything the reader held reaches the player.
	for i, w := range want {
		got, err := play.ReadPacket()
		require.NoError(t, err, "packet %d", i)
		samePacket(t, w, got, i)
	}
}

func TestRTMPSVerification(t *testing.T) {
	env := startTLSServer(t)

	t.Run("unknown authority refused", func(t *testing.T) {
		_, err := Dial(testCtx(t), env.url, ClientConfig{Timeout: testTimeout})
		var ua x509.UnknownAuthorityError
		require.ErrorAs(t, err, &ua)
		require.ErrorContains(t, err, "rtmp: tls handshake with "+env.addr)
	})
	t.Run("wrong name refused", func(t *testing.T) {
		_, err := Dial(testCtx(t), env.url, ClientConfig{Timeout: testTimeout,
			TLS: &tls.Config{RootCAs: env.ca.pool, ServerName: "other.example", MinVersion: tls.VersionTLS12}})
		var hn x509.HostnameError
		require.ErrorAs(t, err, &hn)
	})
	t.Run("insecure accepted", func(t *testing.T) {
		c := dialTLS(t, env.url, ClientConfig{InsecureSkipVerify: true})
		require.NoError(t, c.Publish(testCtx(t), "insecure"))
	})
	t.Run("SNI is the URL host", func(t *testing.T) {
		_, port, err := net.SplitHostPort(env.addr)
		require.NoError(t, err)
		c := dialTLS(t, "rtmps://localhost:"+port+"/live", ClientConfig{TLS: &tls.Config{RootCAs: env.ca.pool, MinVersion: tls.VersionTLS12}})
		require.NoError(t, c.Publish(testCtx(t), "sni"))
		require.Contains(t, env.sniNames(), "localhost")
	})
	t.Run("TLS 1.2 at least", func(t *testing.T) {
		// A config asking for less is raised: the handshake still
		// negotiates 1.2 or later with a server offering them.
		c := dialTLS(t, env.url, ClientConfig{InsecureSkipVerify: true, TLS: &tls.Config{MaxVersion: tls.VersionTLS12}}) //nolint:gosec // MinVersion is raised by Dial: what this checks
		require.NoError(t, c.Publish(testCtx(t), "v12"))
	})
}

// TestRTMPSHandshakeBounded: a server that accepts TCP and never answers
// the ClientHello fails the dial at the dial context's end.
func TestRTMPSHandshakeBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Dial(ctx, "rtmps://"+ln.Addr().String()+"/live", ClientConfig{Timeout: time.Minute})
		done <- err
	}()
	c := <-accepted
	defer c.Close()
	cancel()
	err = <-done
	require.Error(t, err)
	require.True(t, errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "tls handshake"), err.Error())
}
