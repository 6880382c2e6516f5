package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"github.com/ripplemedia/ripple/pkg/config"
)

// healthcheckTimeout bounds the whole probe; Docker's own --timeout
// defaults to 30s, so this answers well before.
const healthcheckTimeout = 3 * time.Second

// healthcheck is "ripple healthcheck [flags]": for images without a shell or
// curl (distroless), it GETs /healthz on the HTTP listener the same
// configuration (-c, RIPPLE_*, flags) names, on loopback when it listens
// on every interface, and exits 0 on 200, 1 otherwise (one line on stderr).
//
//	HEALTHCHECK CMD ["/usr/local/bin/ripple", "healthcheck"]
func healthcheck(ctx context.Context, args []string, stderr io.Writer) int {
	fs := pflag.NewFlagSet("ripple healthcheck", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	config.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "ripple healthcheck: %v\n", err)
		return 2
	}
	path, _ := fs.GetString(config.FlagConfig)
	cfg, err := config.Load(path, fs)
	if err != nil {
		fmt.Fprintf(stderr, "ripple healthcheck: %v\n", err)
		return 1
	}
	url, err := healthURL(cfg.HTTP.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "ripple healthcheck: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "ripple healthcheck: %v\n", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "ripple healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "ripple healthcheck: GET %s: %s\n", url, resp.Status)
		return 1
	}
	return 0
}

// healthURL is the /healthz URL of an http.listen address: an unspecified
// host (":8080", "0.0.0.0:8080", "[::]:8080") is reached on loopback.
func healthURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("http.listen %q: %w", listen, err)
	}
	if port == "0" {
		return "", fmt.Errorf("http.listen %q: port 0 cannot be probed", listen)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}
