package bench

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteTable(t *testing.T) {
	rep := func(sc, sv string, cpu, cores float64) *Report {
		return &Report{Scenario: sc, Server: sv, OK: 1000, Players: 1000, Window: 30, ServerCPU: cpu * 30000,
			CPUPerPlayer: cpu, ServerCores: cores, Latency: Quantiles{P99: 12}, FirstFrame: Quantiles{P95: 8}, RSSPerPlayer: 20}
	}
	reports := []*Report{
		rep("rtmp-1000", ServerRipple, 0.30, 0.3), rep("rtmp-1000", ServerNginx, 0.40, 0.4), rep("rtmp-1000", ServerLal, 0.60, 0.6),
		rep("httpflv-1000", ServerRipple, 0.25, 0.25), rep("httpflv-1000", ServerLal, 0.60, 0.6),
		rep("wsflv-1000", ServerRipple, 0.40, 0.4),
		rep("ingest-20", ServerRipple, 1, 0.05), rep("ingest-20", ServerNginx, 1, 0.02),
		{Scenario: "hls-50", Server: ServerLal, Failed: 50, Players: 50},
		rep("httpflv-stalled-1000", ServerRipple, 0.26, 0.26),
		{Scenario: "httpflv-mw200-1000", Server: ServerRipple, OK: 1000, Players: 1000, Window: 30, ServerCPU: 3000,
			CPUPerPlayer: 0.1, ServerCores: 0.1, RSSMaxMB: 50},
		{Scenario: "httpflv-stalled-1000", Server: ServerLal, OK: 74, Failed: 926, Players: 1000, ServerCPU: 80, CPUPerPlayer: 0.016},
	}
	var b strings.Builder
	require.NoError(t, WriteTable(&b, reports))
	out := b.String()
	for _, want := range []string{
		"| scenario | ripple | nginx-rtmp | lal | Ripple ÷ nginx-rtmp | Ripple ÷ lal |",
		"| rtmp-1000 | 0.300 | 0.400 | 0.600 | 0.75 | 0.50 |",
		"| httpflv-1000 | 0.250 | — | 0.600 | — | 0.42 |",
		"| ingest-20 | 5.0 % | 2.0 % | — | 2.50 | — |",
		"| hls-50 | — | — | — | — | — |",
		"| HTTP-FLV ≤ nginx-rtmp RTMP play | yes | 0.250 vs 0.400 |",
		"| HTTP-FLV ≤ 0.5 × lal HTTP-FLV | yes | 0.250 vs 0.5 × 0.600 |",
		"| RTMP play ≤ 1.2 × HTTP-FLV | yes |",
		"| WS-FLV ≤ 1.3 × HTTP-FLV | no | 0.400 vs 1.3 × 0.250 |",
		"| ingest 20 × 2 Mbps < 10 % of a core | yes | 5.0 % |",
		"| merge window 200 ms: HTTP-FLV ≤ 0.5 × nginx-rtmp RTMP play, RSS < 120 MB | yes | 0.100 vs 0.5 × 0.400, 50 MB |",
		"| httpflv-mw200-1000 | 0.100 | — | — | — | — |",
		"| httpflv-stalled-1000 | 0.260 | — | 0.016 (926 failed) | — | — (lal: 926 failed) |",
		"| 10 % stalled viewers cost the others nothing measurable | yes | p99 12.0 vs 12.0 ms, lost 0, CPU 0.260 vs 0.250 |",
	} {
		require.Contains(t, out, want)
	}
}
