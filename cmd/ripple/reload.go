package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/server"
)

// reload serves SIGHUP until ctx ends: each signal re-runs load (config.Load
// with the same file, environment and flags as at start) and hands a valid
// result to srv.Reload, which applies what can change while running and
// logs one "config reloaded" line (changed keys, parts applied, keys that
// need a restart). An invalid file changes nothing: the error, which names
// the key, is logged and the running configuration stays.
func reload(ctx context.Context, hup <-chan os.Signal, load func() (config.Config, error), srv *server.Server, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		cfg, err := load()
		if err != nil {
			log.Error("config reload failed, keeping the running config", "err", err)
			continue
		}
		if _, err := srv.Reload(cfg); err != nil {
			log.Error("config reload failed", "err", err)
		}
	}
}
