// Command ripple is the Ripple live streaming server: RTMP ingest and play,
// HTTP-FLV and WebSocket-FLV.
//
//	ripple [-c ripple.yaml] [--rtmp-listen :1935] [--http-listen :8080] [--log-level info]
//	ripple healthcheck [same flags]   # GET /healthz of that server: exit 0 or 1
//
// Without -c it runs on the built-in defaults; RIPPLE_* environment
// variables override the file, flags override both (see ripple.example.yaml).
//
// Signals: SIGTERM or SIGINT drains and exits (a second one exits at once);
// SIGHUP reloads the configuration (see pkg/server Reload).
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
	ctx := stopOnSignal()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	os.Exit(run(ctx, os.Args[1:], os.Stderr, hup))
}

// stopOnSignal returns a context cancelled by the first SIGINT or SIGTERM
// (its cause names the signal); the second one exits at once, for a drain
// that hangs or a shutdown_delay nobody wants to wait out. Both are taken
// from one buffered channel, so a second signal arriving right after the
// first is never lost.
func stopOnSignal() context.Context {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		sig := <-sigs
		cancel(fmt.Errorf("%v signal received", sig))
		sig = <-sigs
		fmt.Fprintf(os.Stderr, "ripple: second signal (%v): exiting without draining\n", sig)
		os.Exit(1)
	}()
	return ctx
}

// run is main without the process: it returns the exit code. 0 after a clean
// shutdown, 1 on a configuration or startup error (one line on stderr) or a
// failed run, 2 on bad usage. Every value received on hup reloads the
// configuration (SIGHUP; see reload).
func run(ctx context.Context, args []string, stderr io.Writer, hup <-chan os.Signal) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(ctx, args[1:], stderr)
	}
	fs := pflag.NewFlagSet("ripple", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	config.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ripple [flags]\n       ripple healthcheck [flags]\n\nRipple live streaming server. Configuration: defaults < -c FILE < RIPPLE_* env < flags.\nSIGTERM/SIGINT drain and exit; SIGHUP reloads the configuration.\n\nFlags:\n%s", fs.FlagUsages())
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
	level := new(slog.LevelVar)
	log := newLogger(cfg.Log, level, stderr)
	srv, err := server.New(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "ripple: %v\n", err)
		return 1
	}
	srv.OnReload("log", []string{"log.level"}, func(c config.Config) error {
		level.Set(c.Log.Level.Slog())
		return nil
	})
	reloaded := make(chan struct{})
	go func() {
		defer close(reloaded)
		reload(ctx, hup, func() (config.Config, error) { return config.Load(path, fs) }, srv, log)
	}()
	defer func() { <-reloaded }()
	if err := srv.Run(ctx); err != nil {
		log.Error("ripple failed", "err", err)
		return 1
	}
	return 0
}

// newLogger builds the process logger from the validated log.* keys; level
// is set from log.level and stays adjustable (SIGHUP reloads it).
func newLogger(c config.Log, level *slog.LevelVar, w io.Writer) *slog.Logger {
	level.Set(c.Level.Slog())
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
