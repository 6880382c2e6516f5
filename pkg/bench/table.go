package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Server labels bench.sh uses; the table compares every server to Ripple.
const (
	ServerRipple = "ripple"
	ServerNginx  = "nginx-rtmp"
	ServerLal    = "lal"
)

// WriteTable writes Markdown tables for reports labelled with Server and
// Scenario: CPU per player-second and its ratios to the other servers, the
// per-run details, and the README's performance targets that the runs can decide.
func WriteTable(w io.Writer, reports []*Report) error {
	var scenarios, servers []string
	by := map[[2]string]*Report{}
	for _, r := range reports {
		if !slices.Contains(scenarios, r.Scenario) {
			scenarios = append(scenarios, r.Scenario)
		}
		if !slices.Contains(servers, r.Server) {
			servers = append(servers, r.Server)
		}
		by[[2]string{r.Scenario, r.Server}] = r
	}
	others := slices.DeleteFunc(slices.Clone(servers), func(s string) bool { return s == ServerRipple })
	var b strings.Builder

	// 1. Cost and ratios.
	b.WriteString("| scenario | " + strings.Join(servers, " | "))
	for _, o := range others {
		fmt.Fprintf(&b, " | Ripple ÷ %s", o)
	}
	b.WriteString(" |\n|---|" + strings.Repeat("---:|", len(servers)+len(others)) + "\n")
	for _, sc := range scenarios {
		b.WriteString("| " + sc)
		for _, sv := range servers {
			b.WriteString(" | " + cost(by[[2]string{sc, sv}]))
		}
		rr := by[[2]string{sc, ServerRipple}]
		for _, o := range others {
			b.WriteString(" | " + ratio(rr, by[[2]string{sc, o}]))
		}
		b.WriteString(" |\n")
	}
	b.WriteString("\nCost is server CPU in ms per player-second (ingest: % of one core for all publishers). " +
		"`—`: the server has no such output or the run failed.\n\n")

	// 2. Details.
	b.WriteString("| scenario | server | ok/failed | CPU cores | RSS MB (KB/player) | latency p50/p95/p99 ms | first frame p95 ms | lost | stalls | bench cores | machine busy |\n")
	b.WriteString("|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|\n")
	for _, sc := range scenarios {
		for _, sv := range servers {
			r := by[[2]string{sc, sv}]
			if r == nil {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %d/%d | %.2f | %.0f (%.1f) | %.1f / %.1f / %.1f | %.0f | %d | %d | %.2f | %.0f %% |\n",
				sc, sv, r.OK, r.Failed, r.ServerCores, r.RSSMaxMB, r.RSSPerPlayer,
				r.Latency.P50, r.Latency.P95, r.Latency.P99, r.FirstFrame.P95, r.Lost, r.Stalls, r.SelfCores, r.MachineBusy*100)
		}
	}

	// 3. The README's performance targets, where the runs decide them.
	get := func(sc, sv string) *Report { return valid(by[[2]string{sc, sv}]) }
	flv, rtmpR, ws := get("httpflv-1000", ServerRipple), get("rtmp-1000", ServerRipple), get("wsflv-1000", ServerRipple)
	type target struct {
		name     string
		ok, have bool
		detail   string
	}
	var ts []target
	add := func(name string, have bool, ok bool, detail string, args ...any) {
		ts = append(ts, target{name, ok, have, fmt.Sprintf(detail, args...)})
	}
	if n := get("rtmp-1000", ServerNginx); flv != nil && n != nil {
		add("HTTP-FLV ≤ nginx-rtmp RTMP play", true, flv.CPUPerPlayer <= n.CPUPerPlayer, "%.3f vs %.3f", flv.CPUPerPlayer, n.CPUPerPlayer)
	}
	if l := get("httpflv-1000", ServerLal); flv != nil && l != nil {
		add("HTTP-FLV ≤ 0.5 × lal HTTP-FLV", true, flv.CPUPerPlayer <= 0.5*l.CPUPerPlayer, "%.3f vs 0.5 × %.3f", flv.CPUPerPlayer, l.CPUPerPlayer)
	}
	if flv != nil {
		add("HTTP-FLV latency p99 ≤ 50 ms", true, flv.Latency.P99 <= 50, "%.1f ms", flv.Latency.P99)
		add("first frame p95 ≤ 50 ms (HTTP-FLV)", true, flv.FirstFrame.P95 <= 50, "%.1f ms", flv.FirstFrame.P95)
		add("RSS growth ≤ 40 KB per player (HTTP-FLV)", true, flv.RSSPerPlayer <= 40, "%.1f KB", flv.RSSPerPlayer)
	}
	if flv != nil && rtmpR != nil {
		add("RTMP play ≤ 1.2 × HTTP-FLV", true, rtmpR.CPUPerPlayer <= 1.2*flv.CPUPerPlayer, "%.3f vs 1.2 × %.3f", rtmpR.CPUPerPlayer, flv.CPUPerPlayer)
	}
	if flv != nil && ws != nil {
		add("WS-FLV ≤ 1.3 × HTTP-FLV", true, ws.CPUPerPlayer <= 1.3*flv.CPUPerPlayer, "%.3f vs 1.3 × %.3f", ws.CPUPerPlayer, flv.CPUPerPlayer)
	}
	if st := get("httpflv-stalled-1000", ServerRipple); flv != nil && st != nil {
		// "Nothing measurable" on a shared machine: within run-to-run noise.
		ok := st.Latency.P99 <= 1.2*flv.Latency.P99+5 && st.Lost == 0 && st.Failed == 0 &&
			st.CPUPerPlayer <= 1.2*flv.CPUPerPlayer
		add("10 % stalled viewers cost the others nothing measurable", true, ok,
			"p99 %.1f vs %.1f ms, lost %d, CPU %.3f vs %.3f", st.Latency.P99, flv.Latency.P99, st.Lost, st.CPUPerPlayer, flv.CPUPerPlayer)
	}
	if mw, n := get("httpflv-mw200-1000", ServerRipple), get("rtmp-1000", ServerNginx); mw != nil && n != nil {
		add("merge window 200 ms: HTTP-FLV ≤ 0.5 × nginx-rtmp RTMP play, RSS < 120 MB", true,
			mw.CPUPerPlayer <= 0.5*n.CPUPerPlayer && mw.RSSMaxMB < 120,
			"%.3f vs 0.5 × %.3f, %.0f MB", mw.CPUPerPlayer, n.CPUPerPlayer, mw.RSSMaxMB)
	}
	if in := get("ingest-20", ServerRipple); in != nil {
		add("ingest 20 × 2 Mbps < 10 % of a core", true, in.ServerCores < 0.10, "%.1f %%", in.ServerCores*100)
	}
	if len(ts) > 0 {
		b.WriteString("\n| target (1,000 players unless noted) | met | measured |\n|---|---|---|\n")
		for _, t := range ts {
			mark := "no"
			if t.ok {
				mark = "yes"
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", t.name, mark, t.detail)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// valid returns r if it measured something the table can use.
func valid(r *Report) *Report {
	if r == nil || r.OK == 0 || r.ServerCPU <= 0 {
		return nil
	}
	return r
}

func isIngest(r *Report) bool { return strings.HasPrefix(r.Scenario, "ingest") }

func cost(r *Report) string {
	if r = valid(r); r == nil {
		return "—"
	}
	if isIngest(r) {
		return fmt.Sprintf("%.1f %%", r.ServerCores*100)
	}
	s := fmt.Sprintf("%.3f", r.CPUPerPlayer)
	if r.Failed > 0 {
		s += fmt.Sprintf(" (%d failed)", r.Failed)
	}
	return s
}

func ratio(a, b *Report) string {
	if a, b = valid(a), valid(b); a == nil || b == nil {
		return "—"
	}
	for _, r := range []*Report{a, b} {
		if r.Failed*10 > r.Players { // a broken run has no meaningful cost
			return fmt.Sprintf("— (%s: %d failed)", r.Server, r.Failed)
		}
	}
	if isIngest(a) {
		return fmt.Sprintf("%.2f", a.ServerCores/b.ServerCores)
	}
	return fmt.Sprintf("%.2f", a.CPUPerPlayer/b.CPUPerPlayer)
}
