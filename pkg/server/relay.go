package server

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/api"
	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/metrics"
	"github.com/ripplemedia/ripple/pkg/relay"
)

// relayPart runs the forwards, restream targets and edge apps
// (pkg/relay). The manager always runs: any live stream may get targets
// from the API or the on_publish answer.
type relayPart struct {
	m *relay.Manager
}

// initRelay builds and registers the relay manager once the hub exists:
// from Start on it watches publishes (forwards, edge push) and answers the
// hub's demand (edge pulls). Relays stop before the hub closes, so pulls do
// not republish into a closing hub; their Shutdown returns at the deadline
// even while a relay is still ending (each within relay.timeout).
func (s *Server) initRelay(cfg config.Config) error {
	rc := relayConfig(cfg, s.log)
	rc.Panics = &s.panics
	rc.Cluster = s.clusterRelay(cfg)
	// The on_publish answer's targets, kept by the admission check
	// (forwards.go); called once per stream instance.
	rc.StreamTargets = func(key string, pub hub.PublisherInfo) []string {
		return s.auth.targets.take(key, pub.RemoteAddr)
	}
	m, err := relay.New(rc, s.hub)
	if err != nil {
		return err
	}
	s.relay.m = m
	s.add(part{name: "relay", stage: stageBeforeHub, c: m})
	return nil
}

// relayConfig maps relay.* and the apps' forward and edge keys.
func relayConfig(cfg config.Config, log *slog.Logger) relay.Config {
	rc := relay.Config{
		Logger:     log.With("proto", access.ProtoRelay),
		Apps:       make(map[string]relay.AppConfig),
		Timeout:    cfg.Relay.Timeout,
		BackoffMin: cfg.Relay.BackoffMin,
		BackoffMax: cfg.Relay.BackoffMax,
		ChunkSize:  int(cfg.RTMP.ChunkSize),
		MaxPulls:   cfg.Relay.MaxPulls,
		MaxTargets: cfg.Relay.MaxTargetsPerStream,
		// Testing against self-signed RTMPS servers only.
		InsecureSkipVerify: cfg.Relay.TLSInsecureSkipVerify,
	}
	for app, a := range cfg.Apps {
		ac := relay.AppConfig{Forward: slices.Clone(a.Forward)}
		if len(a.Edge.Origins) > 0 {
			ac.Edge = &relay.EdgeConfig{
				Origins:         slices.Clone(a.Edge.Origins),
				Selection:       edgeSelection(a.Edge.Selection),
				PassQuery:       cfg.Relay.PassQuery,
				IdleTimeout:     cfg.EdgeIdleTimeout(app),
				NotFoundTimeout: cfg.EdgeNotFoundTimeout(app),
			}
		}
		if len(ac.Forward) > 0 || ac.Edge != nil {
			rc.Apps[app] = ac
		}
	}
	return rc
}

// edgeSelection maps a validated apps.NAME.edge.selection; unset is
// failover.
func edgeSelection(s config.EdgeSelection) relay.Selection {
	if s == config.SelectHash {
		return relay.SelectHash
	}
	return relay.SelectFailover
}

// Relays returns a snapshot of the running relays.
func (s *Server) Relays() []relay.Status { return s.relay.m.Relays() }

// apiRelays maps the snapshots for pkg/api.
func (s *Server) apiRelays() func() []api.Relay {
	return func() []api.Relay {
		return apiRelayList(s.relay.m.Relays())
	}
}

// apiRelayList maps relay snapshots (targets already redacted) for pkg/api.
func apiRelayList(rs []relay.Status) []api.Relay {
	out := make([]api.Relay, len(rs))
	for i, r := range rs {
		out[i] = apiRelay(r)
	}
	return out
}

func apiRelay(r relay.Status) api.Relay {
	return api.Relay{ID: r.ID, Kind: string(r.Kind), Stream: r.Stream, Target: r.Target,
		State: string(r.State), LastError: r.LastError, Bytes: r.Bytes, Reconnects: r.Reconnects,
		Since: r.Since, Started: r.Started, Bitrate: r.Bitrate, Source: r.Source.String()}
}

// apiForwarder adapts the relay's per-stream targets to the API (the
// manager always runs: relayPart).
type apiForwarder struct {
	m *relay.Manager
	h *hub.Hub
}

func (f apiForwarder) List(key string) ([]api.Relay, error) {
	if _, ok := f.h.Stream(key); !ok {
		return nil, api.ErrNotLive
	}
	return apiRelayList(f.m.Targets(key)), nil
}

func (f apiForwarder) Add(key, url string) (api.Relay, error) {
	st, err := f.m.AddTarget(key, url, relay.SourceAPI)
	if err != nil {
		return api.Relay{}, forwardErr(err)
	}
	return apiRelay(st), nil
}

func (f apiForwarder) Remove(key string, id uint64) error {
	return forwardErr(f.m.RemoveTarget(key, id))
}

// forwardErr maps the relay's errors to the API's, keeping the relay's
// (redacted) text.
func forwardErr(err error) error {
	for _, m := range []struct{ from, to error }{
		{relay.ErrNotLive, api.ErrNotLive},
		{relay.ErrInvalidTarget, api.ErrInvalidTarget},
		{relay.ErrTooManyTargets, api.ErrTooManyTargets},
		{relay.ErrNoTarget, api.ErrNoTarget},
	} {
		if errors.Is(err, m.from) {
			return fmt.Errorf("%w: %w", m.to, err)
		}
	}
	return err
}

// metricsRelays maps the snapshots for pkg/metrics.
func (s *Server) metricsRelays() func() []metrics.Relay {
	return func() []metrics.Relay {
		rs := s.relay.m.Relays()
		out := make([]metrics.Relay, len(rs))
		for i, r := range rs {
			out[i] = metrics.Relay{Stream: r.Stream, Kind: string(r.Kind), Live: r.State == relay.StateLive,
				Bytes: r.Bytes, Reconnects: r.Reconnects}
		}
		return out
	}
}
