package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Report is the result of one play run. Durations are in milliseconds.
type Report struct {
	Server   string  `json:"server,omitempty"`   // label for tables (ripple, nginx-rtmp, lal)
	Scenario string  `json:"scenario,omitempty"` // label for tables (httpflv-1000, …)
	Protocol string  `json:"protocol"`
	URL      string  `json:"url"`
	Players  int     `json:"players"`
	Stalled  int     `json:"stuck_players,omitempty"` // extra players that never read (-stalled)
	Window   float64 `json:"window_s"`

	OK     int            `json:"players_ok"`
	Failed int            `json:"players_failed"`
	Errors map[string]int `json:"errors,omitempty"` // error text → players

	FirstFrame Quantiles `json:"first_frame_ms"`
	Latency    Quantiles `json:"latency_ms"`
	Frames     uint64    `json:"frames"`
	Unstamped  uint64    `json:"unstamped_frames"`
	Lost       uint64    `json:"lost_frames"`
	Stalls     uint64    `json:"stalls"`
	// StalledPlayers counts players with at least one stall.
	StalledPlayers int     `json:"stalled_players"`
	FPS            float64 `json:"fps_per_player"`
	Mbps           float64 `json:"mbps_total"`
	MbpsPerPlayer  float64 `json:"mbps_per_player"`

	PIDs []int `json:"server_pids,omitempty"`
	// Server figures over the window (zero without -pid).
	ServerCPU    float64 `json:"server_cpu_ms"`
	ServerCores  float64 `json:"server_cores"`
	CPUPerPlayer float64 `json:"server_cpu_ms_per_player_s"`
	RSSStartMB   float64 `json:"server_rss_start_mb"` // before the first player connected
	RSSMaxMB     float64 `json:"server_rss_max_mb"`
	RSSPerPlayer float64 `json:"server_rss_kb_per_player"`
	// The bench tool's own CPU and the whole machine's busy share.
	SelfCores   float64 `json:"bench_cores"`
	MachineBusy float64 `json:"machine_busy"` // 0..1 of all cores
	Load1       float64 `json:"load1"`
}

// Quantiles summarises a histogram in milliseconds.
type Quantiles struct {
	N   uint64  `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func quantiles(h *Histogram) Quantiles {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Quantiles{N: h.Count(), P50: ms(h.Quantile(0.5)), P95: ms(h.Quantile(0.95)),
		P99: ms(h.Quantile(0.99)), Max: ms(h.Max())}
}

// sampler samples the server processes, the bench itself and the machine.
type sampler struct {
	pids          []int
	t0            time.Time
	srv0, self0   ProcSample
	busy0, total0 int64
	rssMax        int64
	rss0          int64 // before any player connected
	bytes0        int64
	err           error
}

// newSampler records the servers' RSS before any player connects: RSS per
// player is the growth from there.
func newSampler(pids []int) *sampler {
	s := &sampler{pids: pids}
	if len(pids) > 0 {
		if p, err := ReadProc(pids); err == nil {
			s.rss0 = p.RSS
		}
	}
	return s
}

func sumBytes(stats []*PlayerStats) int64 {
	var n int64
	for _, st := range stats {
		n += st.Bytes.Load()
	}
	return n
}

func (s *sampler) begin(stats []*PlayerStats) {
	s.t0 = time.Now()
	s.bytes0 = sumBytes(stats)
	s.self0, _ = ReadProc([]int{0})
	s.busy0, s.total0 = MachineCPU()
	if len(s.pids) > 0 {
		s.srv0, s.err = ReadProc(s.pids)
		s.rssMax = s.srv0.RSS
	}
}

func (s *sampler) sample() {
	if len(s.pids) > 0 && s.err == nil {
		if p, err := ReadProc(s.pids); err == nil {
			s.rssMax = max(s.rssMax, p.RSS)
		}
	}
}

func (s *sampler) end(stats []*PlayerStats, r *Report) {
	el := time.Since(s.t0)
	bytes := sumBytes(stats) - s.bytes0
	self, _ := ReadProc([]int{0})
	busy, total := MachineCPU()
	r.Mbps = float64(bytes) * 8 / el.Seconds() / 1e6
	r.SelfCores = (self.CPU - s.self0.CPU).Seconds() / el.Seconds()
	if total > s.total0 {
		r.MachineBusy = float64(busy-s.busy0) / float64(total-s.total0)
	}
	r.Load1 = LoadAvg()
	if len(s.pids) == 0 {
		return
	}
	p, err := ReadProc(s.pids)
	if err != nil || s.err != nil {
		return
	}
	s.rssMax = max(s.rssMax, p.RSS)
	cpu := p.CPU - s.srv0.CPU
	r.ServerCPU = float64(cpu.Milliseconds())
	r.ServerCores = cpu.Seconds() / el.Seconds()
	r.RSSStartMB = float64(s.rss0) / 1e6
	r.RSSMaxMB = float64(s.rssMax) / 1e6
}

// collect merges the players' stats after they have all returned.
func (r *Report) collect(stats []*PlayerStats, w *Window) {
	var first, lat Histogram
	r.Errors = map[string]int{}
	for _, st := range stats {
		if !st.lastFrameAt.IsZero() {
			st.gap(w, w.End) // a player that went quiet counts one stall
		}
		if st.Err != nil || st.Frames == 0 {
			r.Failed++
			msg := "no stamped frame in the window"
			if st.Err != nil {
				msg = st.Err.Error()
			}
			r.Errors[msg]++
			continue
		}
		r.OK++
		first.Record(st.FirstFrame)
		lat.Merge(&st.Latency)
		r.Frames += st.Frames
		r.Unstamped += st.Unstamped
		r.Lost += st.Lost
		r.Stalls += st.Stalls
		if st.Stalls > 0 {
			r.StalledPlayers++
		}
	}
	if len(r.Errors) == 0 {
		r.Errors = nil
	}
	r.FirstFrame = quantiles(&first)
	r.Latency = quantiles(&lat)
	if r.OK > 0 {
		r.FPS = float64(r.Frames) / float64(r.OK) / r.Window
		r.MbpsPerPlayer = r.Mbps / float64(r.OK)
	}
	if r.Players > 0 && r.Window > 0 && r.ServerCPU > 0 {
		r.CPUPerPlayer = r.ServerCPU / (float64(r.Players) * r.Window)
		r.RSSPerPlayer = (r.RSSMaxMB - r.RSSStartMB) * 1e3 / float64(r.Players)
	}
}

// WriteJSON writes r as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes a human summary of r.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d players, %.0f s window\n", r.Protocol, r.URL, r.Players, r.Window)
	fmt.Fprintf(&b, "  players     ok %d, failed %d", r.OK, r.Failed)
	if r.Stalled > 0 {
		fmt.Fprintf(&b, " (plus %d stalled players that never read)", r.Stalled)
	}
	b.WriteString("\n")
	for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
		fmt.Fprintf(&b, "    %5d × %s\n", r.Errors[k], k)
	}
	q := func(name string, x Quantiles) {
		fmt.Fprintf(&b, "  %-11s p50 %.1f  p95 %.1f  p99 %.1f  max %.1f ms  (n=%d)\n", name, x.P50, x.P95, x.P99, x.Max, x.N)
	}
	q("first frame", r.FirstFrame)
	q("latency", r.Latency)
	fmt.Fprintf(&b, "  frames      %d (%.1f fps/player), lost %d, unstamped %d, stalls %d on %d players\n",
		r.Frames, r.FPS, r.Lost, r.Unstamped, r.Stalls, r.StalledPlayers)
	fmt.Fprintf(&b, "  throughput  %.1f Mbit/s total, %.2f per player\n", r.Mbps, r.MbpsPerPlayer)
	if len(r.PIDs) > 0 {
		fmt.Fprintf(&b, "  server      %.0f ms CPU = %.2f cores, %.3f ms per player-second; RSS %.1f → %.1f MB (%.1f KB/player)\n",
			r.ServerCPU, r.ServerCores, r.CPUPerPlayer, r.RSSStartMB, r.RSSMaxMB, r.RSSPerPlayer)
	}
	fmt.Fprintf(&b, "  bench       %.2f cores; machine %.0f %% busy, load %.2f\n", r.SelfCores, r.MachineBusy*100, r.Load1)
	_, err := io.WriteString(w, b.String())
	return err
}
