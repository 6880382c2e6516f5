package server

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/auth"
	"github.com/ripplemedia/ripple/pkg/cluster"
	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/metrics"
	"github.com/ripplemedia/ripple/pkg/relay"
)

// initCluster joins the origin cluster when cluster.redis_url is set
// (pkg/cluster, docs/cluster.md): the node is built before the relays,
// which locate owners through it, and wired to them after (wireCluster).
func (s *Server) initCluster(cfg config.Config) error {
	if !cfg.Cluster.Enabled() {
		return nil
	}
	adv := cfg.Cluster.AdvertiseURL
	if adv == "" {
		// Config checked that http.listen names one address; the bound one
		// has the real port (":0" in tests picks one).
		switch {
		case s.HTTPAddr() != nil:
			adv = "http://" + s.HTTPAddr().String()
		case s.HTTPSAddr() != nil:
			adv = "https://" + s.HTTPSAddr().String()
		}
	}
	n, err := cluster.New(cluster.NodeConfig{
		Logger: s.log.With("proto", "cluster"),
		Registry: cluster.Config{
			URL:     cfg.Cluster.RedisURL,
			Lease:   cfg.Cluster.Lease,
			Timeout: min(cfg.Relay.Timeout, cfg.Cluster.Lease/3),
		},
		ID:           cfg.Cluster.NodeID,
		AdvertiseURL: strings.TrimRight(adv, "/"),
		Takeover: func(key string) bool {
			app, _ := auth.SplitKey(key)
			return s.reload.publishPolicy(app) == hub.PolicyTakeover
		},
		Load: s.clusterLoad,
		Players: func(si *hub.StreamInfo) int {
			if s.ops.api == nil {
				return si.Readers
			}
			// HLS viewers count, the muxer's reader does not; nor do
			// relays (forwards, other nodes' pulls): they follow the
			// owner on their own.
			n, by := s.ops.api.Players(si)
			return n - by[access.ProtoRelay]
		},
		Panics: &s.panics,
	}, s.hub)
	if err != nil {
		return err
	}
	s.cluster = n
	return nil
}

// wireCluster hands the relays to the node and registers it: it starts
// after them and stops before them, releasing its claims so that the
// other nodes may take its publishers at once.
func (s *Server) wireCluster() {
	if s.cluster == nil {
		return
	}
	s.cluster.SetPuller(s.relay.m)
	s.add(part{name: "cluster", stage: stageBeforeHub, c: s.cluster})
}

// clusterRelay is relay.ClusterConfig over the node.
func (s *Server) clusterRelay(cfg config.Config) *relay.ClusterConfig {
	if s.cluster == nil {
		return nil
	}
	return &relay.ClusterConfig{
		Locate: func(ctx context.Context, key string) (string, error) {
			u, err := s.cluster.Locate(ctx, key)
			if errors.Is(err, cluster.ErrNotFound) {
				return "", relay.ErrNotFound
			}
			return u, err
		},
		IdleTimeout:     cfg.Relay.IdleTimeout,
		NotFoundTimeout: cfg.Relay.NotFoundTimeout,
	}
}

// admit is the admission check with the cluster's say on publishes: once
// auth admits one, the key is claimed for this node (or refused, live on
// another).
func (s *Server) admit(ctx context.Context, r access.Request) error {
	if err := s.auth.admit(ctx, r); err != nil {
		return err
	}
	if r.Action == access.Publish && s.cluster != nil {
		return s.cluster.Claim(ctx, r.Key)
	}
	return nil
}

// clusterLoad is what the node reports of itself: streams published here,
// players and bytes sent.
func (s *Server) clusterLoad() cluster.Load {
	var l cluster.Load
	for _, st := range s.hub.Streams() {
		if st.Publisher.Protocol != access.ProtoRelay {
			l.Streams++
		}
		if s.ops.api != nil {
			n, _ := s.ops.api.Players(&st)
			l.Players += n
		} else {
			l.Players += st.Readers
		}
	}
	_, l.BytesOut = s.hub.Traffic()
	return l
}

// clusterStatus is the API's /cluster.
func (s *Server) clusterStatus() func(ctx context.Context) (any, error) {
	if s.cluster == nil {
		return nil
	}
	return func(ctx context.Context) (any, error) {
		return s.cluster.Status(ctx)
	}
}

// clusterMetrics maps the node's counters for the collector.
func (s *Server) clusterMetrics() func() metrics.Cluster {
	if s.cluster == nil {
		return nil
	}
	return func() metrics.Cluster {
		st := s.cluster.Stats()
		out := metrics.Cluster{Up: st.Up, RemotePulls: len(s.relay.m.ClusterPulls())}
		for _, op := range slices.Sorted(maps.Keys(st.Ops)) {
			o := st.Ops[op]
			out.Ops = append(out.Ops, metrics.ClusterOp{Op: op, Count: o.Count, Sum: o.Sum, Buckets: o.Buckets, Errors: o.Errors})
		}
		for _, r := range slices.Sorted(maps.Keys(st.Claims)) {
			out.Claims = append(out.Claims, metrics.Count{Name: r, Value: st.Claims[r]})
		}
		return out
	}
}
