// Command ripple is the Ripple live streaming server: RTMP ingest and play,
// HTTP-FLV and WebSocket-FLV.
//
//	ripple [-c ripple.yaml] [--rtmp-listen :1935] [--http-listen :8080] [--log-level info]
//
// Without -c it runs on the built-in defaults; RIPPLE_* environment
// variables override the file, flags override both (see ripple.example.yaml).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling: a second Ctrl-C
	// kills a shutdown that hangs.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit code. 0 after a clean
// shutdown, 1 on a configuration or startup error (one line on stderr) or a
// failed run, 2 on bad usage.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := pflag.NewFlagSet("ripple", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	config.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ripple [flags]\n\nRipple live streaming server. Configuration: defaults < -c FILE < RIPPLE_* env < flags.\n\nFlags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "ripple: %v (see --help)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ripple: unexpected argument %q (flags only; see --help)\n", fs.Arg(0))
		return 2
	}
	path, _ := fs.GetString(config.FlagConfig) // registered above: cannot fail

	cfg, err := config.Load(path, fs)
	if err != nil {
		fmt.Fprintf(stderr, "ripple: %v\n", err)
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	srv, err := server.New(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "ripple: %v\n", err)
		return 1
	}
	if err := srv.Run(ctx); err != nil {
		log.Error("ripple failed", "err", err)
		return 1
	}
	return 0
}

// newLogger builds the process logger from the validated log.* keys.
func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated: debug, info, warn or error
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
