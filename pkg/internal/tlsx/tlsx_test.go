package tlsx_test

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ripplemedia/ripple/pkg/internal/tlsx"
	"github.com/ripplemedia/ripple/pkg/internal/tlsx/tlstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func serial(c *tlsx.Cert) int64 { return c.Current().Leaf.SerialNumber.Int64() }

func TestLoad(t *testing.T) {
	ca := tlstest.NewCA(t)
	leaf := ca.Leaf(t, "one")
	cf, kf := leaf.Write(t, t.TempDir())
	c, err := tlsx.New(tlsx.Config{CertFile: cf, KeyFile: kf})
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, leaf.Serial.Int64(), serial(c))
	require.Len(t, c.Current().Certificate, 2, "the full chain is served")

	// A real handshake verifies against the CA.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", c.ServerConfig())
	require.NoError(t, err)
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer nc.Close()
		done <- nc.(*tls.Conn).Handshake()
	}()
	cfg := ca.ClientConfig()
	cfg.ServerName = "localhost"
	nc, err := tls.Dial("tcp", ln.Addr().String(), cfg)
	require.NoError(t, err)
	require.GreaterOrEqual(t, nc.ConnectionState().Version, uint16(tls.VersionTLS12))
	require.NoError(t, nc.Close())
	require.NoError(t, <-done)

	// TLS 1.1 is refused.
	old := ca.ClientConfig()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	go func() {
		nc, err := ln.Accept()
		if err == nil {
			_ = nc.(*tls.Conn).Handshake()
			nc.Close()
		}
		done <- err
	}()
	_, err = tls.Dial("tcp", ln.Addr().String(), old)
	require.Error(t, err)
	require.NoError(t, <-done)
}

func TestLoadErrors(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	cf, kf := ca.Leaf(t, "one").Write(t, dir)
	other := ca.Leaf(t, "two")
	otherKey := filepath.Join(dir, "other-key.pem")
	require.NoError(t, os.WriteFile(otherKey, other.KeyPEM, 0o600))
	garbage := filepath.Join(dir, "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not pem"), 0o600))

	for _, tc := range []struct {
		name       string
		cert, key  string
		file, path string
	}{
		{"missing cert", filepath.Join(dir, "nope.pem"), kf, tlsx.FileCert, filepath.Join(dir, "nope.pem")},
		{"missing key", cf, filepath.Join(dir, "nope.pem"), tlsx.FileKey, filepath.Join(dir, "nope.pem")},
		{"cert not pem", garbage, kf, tlsx.FileCert, garbage},
		{"key not pem", cf, garbage, tlsx.FileKey, garbage},
		{"key of another cert", cf, otherKey, tlsx.FileKey, otherKey},
		{"key given as cert", kf, kf, tlsx.FileCert, kf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tlsx.New(tlsx.Config{CertFile: tc.cert, KeyFile: tc.key})
			var le *tlsx.LoadError
			require.True(t, errors.As(err, &le), "%v", err)
			require.Equal(t, tc.file, le.File, "%v", err)
			require.Equal(t, tc.path, le.Path)
			require.Contains(t, err.Error(), tc.path)
		})
	}
}

func TestReloadKeepsOldOnFailure(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	one := ca.Leaf(t, "one")
	cf, kf := one.Write(t, dir)
	c, err := tlsx.New(tlsx.Config{CertFile: cf, KeyFile: kf})
	require.NoError(t, err)
	defer c.Close()

	require.NoError(t, os.WriteFile(kf, []byte("broken"), 0o600))
	require.Error(t, c.Reload())
	require.Equal(t, one.Serial.Int64(), serial(c), "a failed reload keeps the old certificate")

	two := ca.Leaf(t, "two")
	two.Write(t, dir)
	require.NoError(t, c.Reload())
	require.Equal(t, two.Serial.Int64(), serial(c))

	// New paths: an error changes nothing, success switches.
	require.Error(t, c.SetFiles(filepath.Join(dir, "nope"), kf))
	require.Equal(t, two.Serial.Int64(), serial(c))
	dir2 := t.TempDir()
	three := ca.Leaf(t, "three")
	cf2, kf2 := three.Write(t, dir2)
	require.NoError(t, c.SetFiles(cf2, kf2))
	require.Equal(t, three.Serial.Int64(), serial(c))
	// Reload now reads the new paths.
	four := ca.Leaf(t, "four")
	four.Write(t, dir2)
	require.NoError(t, c.Reload())
	require.Equal(t, four.Serial.Int64(), serial(c))
}

func TestWatchPicksUpChanges(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	cf, kf := ca.Leaf(t, "one").Write(t, dir)
	c, err := tlsx.New(tlsx.Config{CertFile: cf, KeyFile: kf, Interval: 10 * time.Millisecond})
	require.NoError(t, err)
	c.Start()
	c.Start() // idempotent
	defer c.Close()

	// A broken key is ignored (the old pair stays) ...
	before := serial(c)
	require.NoError(t, os.WriteFile(kf, []byte("half written"), 0o600))
	// ... and a complete new pair is picked up.
	two := ca.Leaf(t, "two")
	two.Write(t, dir)
	require.Eventually(t, func() bool { return serial(c) == two.Serial.Int64() }, 10*time.Second, 10*time.Millisecond)
	require.NotEqual(t, before, serial(c))

	// Existing connections are not affected by a swap; new handshakes get
	// the new certificate.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", c.ServerConfig())
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for range 2 {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = nc.(*tls.Conn).Handshake() }()
			accepted <- nc
		}
	}()
	cfg := ca.ClientConfig()
	cfg.ServerName = "localhost"
	first, err := tls.Dial("tcp", ln.Addr().String(), cfg)
	require.NoError(t, err)
	defer first.Close()
	srv1 := <-accepted
	defer srv1.Close()
	three := ca.Leaf(t, "three")
	three.Write(t, dir)
	require.Eventually(t, func() bool { return serial(c) == three.Serial.Int64() }, 10*time.Second, 10*time.Millisecond)
	second, err := tls.Dial("tcp", ln.Addr().String(), cfg)
	require.NoError(t, err)
	defer second.Close()
	srv2 := <-accepted
	defer srv2.Close()
	require.Equal(t, two.Serial, first.ConnectionState().PeerCertificates[0].SerialNumber)
	require.Equal(t, three.Serial, second.ConnectionState().PeerCertificates[0].SerialNumber)
}

func TestCloseWithoutStart(t *testing.T) {
	ca := tlstest.NewCA(t)
	cf, kf := ca.Leaf(t, "one").Write(t, t.TempDir())
	c, err := tlsx.New(tlsx.Config{CertFile: cf, KeyFile: kf})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	c.Start() // after Close: nothing starts (goleak checks)
	require.NotNil(t, c.Current())
}
