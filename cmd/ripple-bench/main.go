// Command ripple-bench is a load generator for Ripple and other live
// streaming servers.
//
//	ripple-bench publish [-n N] [-d 60s] -i clip.flv rtmp://host/app/name
//	ripple-bench play -n 1000 [-d 30s] [-pid PID[,PID]] [-json out.json] URL
//
// publish pushes an FLV clip in real time over RTMP, looping it, and stamps
// every H.264 access unit with its send time (an SEI user_data_unregistered
// NAL unit). play runs N players over rtmp://, http(s)://….flv, ws(s)://….flv
// or ….m3u8, finds the stamps again and reports first-frame time, per-frame
// latency, throughput, stalls and lost frames; with -pid it samples the
// server's CPU and RSS from /proc during the window.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ripplemedia/ripple/pkg/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ripple-bench:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  ripple-bench publish [flags] rtmp://host/app/name
  ripple-bench play [flags] URL    (rtmp://, http(s)://….flv, ws(s)://….flv, ….m3u8)
  ripple-bench table report.json…  (Markdown tables of labelled play reports)
run "ripple-bench publish -h" or "ripple-bench play -h" for the flags`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "publish":
		return runPublish(ctx, args[1:], stdout, stderr)
	case "play":
		return runPlay(ctx, args[1:], stdout, stderr)
	case "table":
		return runTable(args[1:], stdout)
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

func runPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("i", "", "FLV clip with H.264 video to loop (required)")
	n := fs.Int("n", 1, "publishers; with more than one, stream names get -1, -2, …")
	d := fs.Duration("d", 0, "stop after this long (0: until interrupted)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *in == "" {
		return errors.New("publish needs -i clip.flv and one rtmp:// URL")
	}
	if *n < 1 || *n > 1000 {
		return fmt.Errorf("-n %d out of range [1, 1000]", *n)
	}
	clip, err := bench.LoadClip(*in)
	if err != nil {
		return err
	}
	start := time.Now()
	st, err := bench.Publish(ctx, clip, bench.PublishConfig{URL: fs.Arg(0), Count: *n, Duration: *d,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	el := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "published %d × %s: %d frames, %d packets, %.2f Mbit/s per publisher over %.1f s\n",
		*n, fs.Arg(0), st.Frames, st.Packets, float64(st.Bytes)*8/el/1e6/float64(*n), el)
	return err
}

func runPlay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("play", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg bench.PlayConfig
	var label struct{ server, scenario string }
	fs.IntVar(&cfg.Players, "n", 1, "players")
	fs.DurationVar(&cfg.Duration, "d", 30*time.Second, "measurement window")
	fs.DurationVar(&cfg.Ramp, "ramp", 0, "spread player connects over this long (default 2 ms per player, at most 5s)")
	fs.DurationVar(&cfg.Warmup, "warmup", 3*time.Second, "wait after the ramp before the window starts")
	fs.DurationVar(&cfg.Stall, "stall", 0, "a gap between video frames longer than this is a stall (default 1s, HLS 5s)")
	fs.IntVar(&cfg.Stalled, "stalled", 0, "extra HTTP-FLV/WS-FLV players that connect and never read")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "skip TLS certificate verification")
	fs.StringVar(&label.server, "server", "", "server label for the JSON report (ripple, nginx-rtmp, lal)")
	fs.StringVar(&label.scenario, "scenario", "", "scenario label for the JSON report (e.g. httpflv-1000)")
	pids := fs.String("pid", "", "server process ids to sample (comma-separated, summed)")
	jsonOut := fs.String("json", "", "also write the report as JSON to this file (- for stdout)")
	cpuProfile := fs.String("cpuprofile", "", "write the bench tool's own CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if fs.NArg() != 1 {
		return errors.New("play needs one URL")
	}
	if cfg.Players < 1 || cfg.Players > 20000 {
		return fmt.Errorf("-n %d out of range [1, 20000]", cfg.Players)
	}
	if cfg.Duration <= 0 || cfg.Duration > time.Hour {
		return fmt.Errorf("-d %s out of range (0, 1h]", cfg.Duration)
	}
	cfg.URL = fs.Arg(0)
	if !flagSet(fs, "ramp") {
		cfg.Ramp = min(time.Duration(cfg.Players)*2*time.Millisecond, 5*time.Second)
	}
	for _, s := range strings.Split(*pids, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		pid, err := strconv.Atoi(s)
		if err != nil || pid <= 0 {
			return fmt.Errorf("-pid %q is not a process id", s)
		}
		cfg.PIDs = append(cfg.PIDs, pid)
	}
	r, err := bench.Play(ctx, cfg)
	if r == nil {
		return err
	}
	r.Server, r.Scenario = label.server, label.scenario
	if werr := r.WriteText(stdout); werr != nil {
		return werr
	}
	if *jsonOut != "" {
		w := stdout
		if *jsonOut != "-" {
			f, ferr := os.Create(*jsonOut)
			if ferr != nil {
				return ferr
			}
			defer f.Close()
			w = f
		}
		if werr := r.WriteJSON(w); werr != nil {
			return werr
		}
	}
	return err
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func runTable(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("table needs report.json files")
	}
	var reports []*bench.Report
	for _, path := range args {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var r bench.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		reports = append(reports, &r)
	}
	return bench.WriteTable(stdout, reports)
}
