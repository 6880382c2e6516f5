package metrics

import "github.com/prometheus/client_golang/prometheus"

// Cluster is the origin cluster node's state (the server maps pkg/cluster's
// Stats to it).
type Cluster struct {
	Up          bool
	Ops         []ClusterOp // registry operations
	Claims      []Count     // claim outcomes by result
	RemotePulls int         // streams pulled from other nodes now
}

// ClusterOp is the latency histogram (cumulative buckets, seconds) and the
// error count of one registry operation.
type ClusterOp struct {
	Op      string
	Count   uint64
	Sum     float64
	Buckets map[float64]uint64
	Errors  uint64
}

type clusterDescs struct {
	up, latency, errors, claims, pulls *prometheus.Desc
}

func newClusterDescs(d func(name, help string, labels []string) *prometheus.Desc) clusterDescs {
	return clusterDescs{
		up: d("cluster_registry_up", "1 when the last cluster registry (Redis) operation succeeded.", nil),
		latency: d("cluster_registry_seconds", "Cluster registry round trips, per operation "+
			"(claim, renew, release, idle, lookup, owners, heartbeat, nodes, leave).", []string{"op"}),
		errors: d("cluster_registry_errors_total", "Cluster registry operations that failed to reach Redis, per operation.",
			[]string{"op"}),
		claims: d("cluster_claims_total", "Stream claims by outcome: claimed, taken_over, refused, lost, released, "+
			"unregistered (taken while the registry was down).", []string{"result"}),
		pulls: d("cluster_remote_pulls", "Streams this node pulls from the cluster nodes that own them.", nil),
	}
}

func (d clusterDescs) all() []*prometheus.Desc {
	return []*prometheus.Desc{d.up, d.latency, d.errors, d.claims, d.pulls}
}

func (d clusterDescs) collect(cl Cluster, ch chan<- prometheus.Metric) {
	up := 0.0
	if cl.Up {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(d.pulls, prometheus.GaugeValue, float64(cl.RemotePulls))
	for _, o := range cl.Ops {
		ch <- prometheus.MustNewConstHistogram(d.latency, o.Count, o.Sum, o.Buckets, o.Op)
		ch <- prometheus.MustNewConstMetric(d.errors, prometheus.CounterValue, float64(o.Errors), o.Op)
	}
	for _, c := range cl.Claims {
		ch <- prometheus.MustNewConstMetric(d.claims, prometheus.CounterValue, float64(c.Value), c.Name)
	}
}
