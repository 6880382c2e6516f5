package config

import (
	"fmt"
	"strings"
)

// TLS configures a TLS listener beside a plain one (rtmp.tls for RTMPS,
// http.tls for HTTPS and WSS). Listen empty (the default) means off.
// The certificate and key are PEM files (the certificate file may hold the
// whole chain, leaf first); Validate only checks that they are named:
// pkg/server loads them when the server starts, and again on SIGHUP or when
// either file changes on disk (docs/tls.md).
type TLS struct {
	Listen   string `mapstructure:"listen"`
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

// Enabled reports whether the TLS listener is configured.
func (t TLS) Enabled() bool { return t.Listen != "" }

// validate checks one TLS section; prefix is "rtmp.tls" or "http.tls".
func (t TLS) validate(prefix string) error {
	for _, f := range []struct{ key, v string }{
		{prefix + ".listen", t.Listen},
		{prefix + ".cert_file", t.CertFile},
		{prefix + ".key_file", t.KeyFile},
	} {
		if strings.ContainsFunc(f.v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return fmt.Errorf("config: %s: %q contains a control character", f.key, f.v)
		}
	}
	if !t.Enabled() {
		return nil
	}
	if err := listenAddr(prefix+".listen", t.Listen); err != nil {
		return err
	}
	if t.CertFile == "" {
		return fmt.Errorf("config: %s.cert_file: empty, but %s.listen is set (want a PEM certificate file)", prefix, prefix)
	}
	if t.KeyFile == "" {
		return fmt.Errorf("config: %s.key_file: empty, but %s.listen is set (want a PEM private key file)", prefix, prefix)
	}
	return nil
}

// plainListen checks a plain listen address (rtmp.listen, http.listen):
// host:port, or empty to turn the plain listener off when the TLS listener
// of the same protocol is on (at least one listener per protocol).
func plainListen(key, addr string, t TLS, tlsKey string) error {
	if addr == "" {
		if t.Enabled() {
			return nil
		}
		return fmt.Errorf("config: %s: empty (only allowed when %s is set)", key, tlsKey)
	}
	return listenAddr(key, addr)
}
