package record

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/ingest"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	waitFor = 10 * time.Second
	testKey = "live/cam"
)

// testLogger logs to stderr when RECORD_TEST_LOG is set, else discards.
func testLogger() *slog.Logger {
	if os.Getenv("RECORD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// clock is a settable Config.Now.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	tick time.Duration // added after each Now
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 7, 15, 30, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(c.tick)
	return t
}

func (c *clock) Tick(d time.Duration) {
	c.mu.Lock()
	c.tick = d
	c.mu.Unlock()
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a hub, a Manager recording into a temporary directory, and the
// events it sent.
type env struct {
	t      *testing.T
	hub    *hub.Hub
	m      *Manager
	dir    string
	clock  *clock
	events chan Event
	rule   Rule
	rules  map[string]Rule // per key, overriding rule
	mu     sync.Mutex

	progress chan progress
}

type progress struct {
	key string
	dts int64
}

// setup is what options change before the Manager starts.
type setup struct {
	cfg   *Config
	hc    *hub.Config
	hooks []func(*Manager) // run on the Manager before Start (e.g. to replace m.create)
}

type envOpt func(*setup)

func graceZero(s *setup) { s.hc.ReconnectGrace = 0 }

func withManager(f func(*Manager)) envOpt {
	return func(s *setup) { s.hooks = append(s.hooks, f) }
}

func withHub(f func(*hub.Config)) envOpt {
	return func(s *setup) { f(s.hc) }
}

func withConfig(f func(*Config)) envOpt {
	return func(s *setup) { f(s.cfg) }
}

// sync waits until the recording of key has handled the packets up to
// dts (the stream timeline's, as the hub rewrote it in the packet).
func (e *env) sync(key string, dts int64) {
	e.t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case p := <-e.progress:
			if p.key == key && p.dts >= dts {
				return
			}
		case <-timeout:
			e.t.Fatalf("recording of %s did not reach DTS %d", key, dts)
		}
	}
}

// writeSync publishes packets and waits until the recording handled them.
func (e *env) writeSync(key string, p *hub.Publisher, pkts ...*av.Packet) {
	e.t.Helper()
	write(e.t, p, pkts...)
	var last int64
	for _, pk := range pkts {
		last = max(last, pk.DTS)
	}
	e.sync(key, last)
}

func newEnv(t *testing.T, rule Rule, opts ...envOpt) *env {
	t.Helper()
	e := &env{
		t: t, dir: t.TempDir(), clock: newClock(), events: make(chan Event, 4096), rule: rule, rules: map[string]Rule{},
		progress: make(chan progress, 1<<16),
	}
	hc := hub.Config{
		QueueSize:      8192,
		ReconnectGrace: time.Minute,
		Validator:      func() hub.PacketValidator { return ingest.New() },
	}
	cfg := Config{
		Logger: testLogger(),
		Root:   e.dir,
		Rule: func(key string) Rule {
			e.mu.Lock()
			defer e.mu.Unlock()
			if r, ok := e.rules[key]; ok {
				return r
			}
			return e.rule
		},
		OnEvent: func(ev Event) {
			select {
			case e.events <- ev:
			default:
				panic("record test: event channel full")
			}
		},
		Now:           e.clock.Now,
		RetryInterval: time.Second,
		SweepInterval: time.Hour, // tests call sweep themselves
	}
	st := setup{cfg: &cfg, hc: &hc}
	for _, o := range opts {
		o(&st)
	}
	e.hub = hub.New(hc)
	e.m = New(cfg, e.hub)
	e.m.onBatch = func(key string, dts int64) {
		select {
		case e.progress <- progress{key, dts}:
		default:
			panic("record test: progress channel full")
		}
	}
	for _, h := range st.hooks {
		h(e.m)
	}
	e.m.Start()
	t.Cleanup(func() {
		require.NoError(t, e.m.Close())
		e.hub.Close()
	})
	return e
}

// publish claims key on the hub.
func (e *env) publish(key string) *hub.Publisher {
	e.t.Helper()
	p, err := e.hub.Publish(key, hub.PublisherInfo{Protocol: access.ProtoRTMP})
	require.NoError(e.t, err)
	return p
}

// write publishes packets.
func write(t *testing.T, p *hub.Publisher, pkts ...*av.Packet) {
	t.Helper()
	for _, pk := range pkts {
		require.NoError(t, p.WritePacket(pk))
	}
}

// wait returns the next event of type typ (others are skipped and
// returned in skipped order).
func (e *env) wait(typ EventType) Event {
	e.t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case ev := <-e.events:
			if ev.Type == typ {
				return ev
			}
		case <-timeout:
			e.t.Fatalf("no %s event within %s", typ, waitFor)
		}
	}
}

// next returns the next event, whatever its type.
func (e *env) next() Event {
	e.t.Helper()
	select {
	case ev := <-e.events:
		return ev
	case <-time.After(waitFor):
		e.t.Fatalf("no event within %s", waitFor)
	}
	return Event{}
}

// noEvent checks no event is pending.
func (e *env) noEvent() {
	e.t.Helper()
	select {
	case ev := <-e.events:
		e.t.Fatalf("unexpected event %s (%v)", ev.Type, ev.Err)
	default:
	}
}

// fixture returns the media/ clip's packets, repeated n times back to
// back (timestamps continued, the headers sent once), as ingest makes
// them.
func fixture(t testing.TB, n int) []*av.Packet {
	t.Helper()
	clip := mediatest.LoadFLV(t, mediatest.RepoPath(t, "media/h264_aac_gop2s.flv"))
	var end int64
	for _, p := range clip {
		end = max(end, p.DTS)
	}
	end += 40 // one frame at 25 fps
	var out []*av.Packet
	for i := range n {
		for _, p := range clip {
			if i > 0 && (p.Header || p.Kind == av.KindData) {
				continue
			}
			q := &av.Packet{Kind: p.Kind, Codec: p.Codec, Keyframe: p.Keyframe, Header: p.Header,
				DTS: p.DTS + int64(i)*end, CTS: p.CTS, Data: p.Data}
			out = append(out, q)
		}
	}
	return out
}

// generated returns headers and n media packets of the generator.
func generated(cfg mediatest.Config, n int) []*av.Packet {
	g := mediatest.New(cfg)
	return append(g.Headers(), g.Packets(n)...)
}

// probe is what ffprobe tells of a file.
type probe struct {
	Streams []struct {
		CodecType string `json:"codec_type"`
		CodecName string `json:"codec_name"`
	} `json:"streams"`
	Packets []struct {
		CodecType string `json:"codec_type"`
		PTS       string `json:"pts_time"`
		Duration  string `json:"duration_time"`
		Flags     string `json:"flags"`
	} `json:"packets"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

// ffprobe reads a whole file with ffprobe.
func ffprobe(t *testing.T, path string) probe {
	t.Helper()
	bin := "/usr/bin/ffprobe"
	if _, err := os.Stat(bin); err != nil {
		if testing.Short() {
			t.Skip("ffprobe missing (short mode)")
		}
		t.Fatalf("ffprobe missing: %v", err)
	}
	cmd := exec.Command(bin, "-v", "error", "-show_entries",
		"stream=codec_type,codec_name:format=duration:packet=codec_type,pts_time,duration_time,flags",
		"-of", "json", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "ffprobe %s: %s", path, stderr.String())
	var p probe
	require.NoError(t, json.Unmarshal(out, &p))
	return p
}

// codecs returns codec_type → codec_name.
func (p probe) codecs() map[string]string {
	out := map[string]string{}
	for _, s := range p.Streams {
		out[s.CodecType] = s.CodecName
	}
	return out
}

// end returns the end of the latest packet of a type ("" any), seconds.
func (p probe) end(typ string) float64 {
	var e float64
	for _, pk := range p.Packets {
		if typ != "" && pk.CodecType != typ {
			continue
		}
		pts, _ := strconv.ParseFloat(pk.PTS, 64)
		d, _ := strconv.ParseFloat(pk.Duration, 64)
		e = max(e, pts+d)
	}
	return e
}

// first returns the first packet of a type.
func (p probe) first(typ string) (pts float64, key bool) {
	for _, pk := range p.Packets {
		if pk.CodecType == typ {
			v, _ := strconv.ParseFloat(pk.PTS, 64)
			return v, len(pk.Flags) > 0 && pk.Flags[0] == 'K'
		}
	}
	return -1, false
}

func (p probe) duration() float64 {
	d, _ := strconv.ParseFloat(p.Format.Duration, 64)
	return d
}

// files lists the regular files under dir, relative, '/'-separated.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	require.NoError(t, err)
	return out
}
