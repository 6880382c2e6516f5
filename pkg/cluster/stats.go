package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// LatencyBuckets are the upper bounds, in seconds, of the registry latency
// histogram: loopback Redis answers in ~0.1 ms, a remote one in a few ms.
var LatencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// OpStats is the latency histogram and error count of one registry
// operation (cumulative bucket counts, as Prometheus wants them).
type OpStats struct {
	Count   uint64
	Sum     float64 // seconds
	Buckets map[float64]uint64
	Errors  uint64
}

// Stats is what the node counted, for metrics.
type Stats struct {
	Up     bool
	Ops    map[string]OpStats // by operation ("claim", "renew", ...)
	Claims map[string]uint64  // by result ("claimed", "taken_over", "refused", "lost", "released", "unregistered")
}

type stats struct {
	mu     sync.Mutex
	ops    map[string]*OpStats
	claims map[string]uint64
}

func newStats() stats {
	return stats{ops: make(map[string]*OpStats), claims: make(map[string]uint64)}
}

func (s *stats) claim(result string) {
	s.mu.Lock()
	s.claims[result]++
	s.mu.Unlock()
}

func (s *stats) op(op string, d time.Duration, failed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ops[op]
	if o == nil {
		o = &OpStats{Buckets: make(map[float64]uint64, len(LatencyBuckets))}
		s.ops[op] = o
	}
	sec := d.Seconds()
	o.Count++
	o.Sum += sec
	for _, b := range LatencyBuckets {
		if sec <= b {
			o.Buckets[b]++
		}
	}
	if failed {
		o.Errors++
	}
}

// Stats returns a copy of the node's counters.
func (n *Node) Stats() Stats {
	n.stats.mu.Lock()
	defer n.stats.mu.Unlock()
	out := Stats{Up: n.Up(), Ops: make(map[string]OpStats, len(n.stats.ops)), Claims: make(map[string]uint64, len(n.stats.claims))}
	for k, o := range n.stats.ops {
		c := *o
		c.Buckets = make(map[float64]uint64, len(o.Buckets))
		for b, v := range o.Buckets {
			c.Buckets[b] = v
		}
		out.Ops[k] = c
	}
	for k, v := range n.stats.claims {
		out.Claims[k] = v
	}
	return out
}

// observed counts one registry operation and logs the registry going down
// or coming back, once per change.
func (n *Node) observed(op string, d time.Duration, err error) {
	n.stats.op(op, d, err != nil)
	if err != nil && !isUnavailable(err) {
		return // an answer (not found, busy, lost): the registry is up
	}
	up := err == nil
	if up {
		n.reached.Store(true)
	}
	if n.up.Swap(up) == up {
		return
	}
	n.mu.Lock()
	var down time.Duration
	if up && !n.downAt.IsZero() {
		down = time.Since(n.downAt)
		n.downAt = time.Time{}
	} else if !up {
		n.downAt = time.Now()
	}
	n.mu.Unlock()
	if up {
		n.log.Info("cluster registry reachable", "down_for", down.Round(time.Millisecond))
		n.resync() // claims taken while down are made now
		return
	}
	n.log.Warn("cluster registry unavailable: serving local streams, refusing remote ones", "op", op, "err", err)
}

func insecureTLS() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true} //nolint:gosec // liveness probe only
}

// redisLogs routes go-redis's own log lines (one per failed dial, printed
// to stderr by default) to the first node's logger at debug level: the node
// already logs the registry going down and coming back, once each.
var redisLogs sync.Once

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug("redis client", "msg_detail", fmt.Sprintf(format, v...))
}
