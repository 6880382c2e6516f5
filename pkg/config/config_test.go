package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// clearEnv hides any RIPPLE_* variables of the machine running the tests:
// viper ignores empty variables.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, EnvPrefix+"_") {
			t.Setenv(name, "")
		}
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ripple.yaml")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func wantDefaults() Config {
	return Config{
		Log: Log{Level: LogInfo, Format: LogText},
		RTMP: RTMP{
			Listen:              ":1935",
			ChunkSize:           60000,
			HandshakeTimeout:    5 * time.Second,
			ReadTimeout:         30 * time.Second,
			WriteTimeout:        10 * time.Second,
			MaxConnections:      2000,
			MaxMessageSize:      8 * MiB,
			ConnectTimeout:      10 * time.Second,
			MaxConnectionsPerIP: 100,
			PlayWait:            3 * time.Second,
			AckWindow:           2_500_000,
		},
		HTTP: HTTP{Listen: ":8080", AllowOrigin: "*", WriteTimeout: 10 * time.Second, ReadTimeout: 20 * time.Second,
			MaxConnections: 10000, MaxConnectionsPerIP: 200},
		Hub: Hub{
			QueueSize:              1024,
			QueueMaxBytes:          32 * MiB,
			GOPCache:               true,
			GOPCacheMaxPackets:     3000,
			GOPCacheMaxBytes:       16 * MiB,
			GOPCacheMaxDuration:    10 * time.Second,
			MaxStreams:             1000,
			ReconnectGrace:         5 * time.Second,
			SlowReaderMaxOverflows: 3,
			SlowReaderWindow:       30 * time.Second,
			PublishPolicy:          PolicyReject,
		},
		HLS:             wantHLSDefaults(),
		Apps:            map[string]App{},
		API:             API{EventsStatsInterval: 2 * time.Second, EventsKeepAlive: 15 * time.Second},
		Auth:            wantAuthDefaults(),
		Relay:           wantRelayDefaults(),
		Cluster:         Cluster{Lease: 10 * time.Second},
		Transcode:       Transcode{FFmpeg: "ffmpeg", MaxProcesses: 4, IdleTimeout: 30 * time.Second},
		Record:          wantRecordDefaults(),
		Thumbnail:       wantThumbnailDefaults(),
		ShutdownTimeout: 10 * time.Second,
	}
}

// loadCases feed TestLoad and, through their file contents, FuzzParseYAML.
var loadCases = []struct {
	name  string
	file  string // written to a temp file when non-empty
	env   map[string]string
	args  []string
	want  func(c *Config) // edits wantDefaults() into the expected config
	err   string          // substring of the error; "%s" stands for the file path
	exact bool            // err is the whole message
}{
	{name: "defaults"},
	{
		name: "empty file",
		file: "# nothing\n",
	},
	{
		name: "file overrides",
		file: `
log:
  level: debug
  format: json
rtmp:
  listen: "127.0.0.1:19350"
  chunk_size: 8KiB
  read_timeout: 1m
  max_message_size: 4 MiB
  ack_window: 2.5MB
hub:
  gop_cache: false
  reconnect_grace: 0s
  publish_policy: takeover
apps:
  live:
    publish_policy: reject
  Studio.HD/main: {publish_policy: takeover}
  bare:
shutdown_timeout: 3s
`,
		want: func(c *Config) {
			c.Log = Log{Level: LogDebug, Format: LogJSON}
			c.RTMP.Listen = "127.0.0.1:19350"
			c.RTMP.ChunkSize = 8192
			c.RTMP.ReadTimeout = time.Minute
			c.RTMP.MaxMessageSize = 4 * MiB
			c.RTMP.AckWindow = 2_500_000
			c.Hub.GOPCache = false
			c.Hub.ReconnectGrace = 0
			c.Hub.PublishPolicy = PolicyTakeover
			c.Apps = map[string]App{
				"live":           {PublishPolicy: PolicyReject},
				"Studio.HD/main": {PublishPolicy: PolicyTakeover},
				"bare":           {},
			}
			c.ShutdownTimeout = 3 * time.Second
		},
	},
	{
		name: "yaml anchors and merge keys",
		file: `
apps:
  base: &base {publish_policy: takeover}
  live: {<<: *base}
  other:
    <<: *base
    publish_policy: reject
`,
		want: func(c *Config) {
			c.Apps = map[string]App{
				"base":  {PublishPolicy: PolicyTakeover},
				"live":  {PublishPolicy: PolicyTakeover},
				"other": {PublishPolicy: PolicyReject},
			}
		},
	},
	{
		name: "env overrides defaults",
		env: map[string]string{
			"RIPPLE_RTMP_LISTEN":                   "127.0.0.1:19350",
			"RIPPLE_HTTP_LISTEN":                   "127.0.0.1:18080",
			"RIPPLE_LOG_LEVEL":                     "debug",
			"RIPPLE_RTMP_CHUNK_SIZE":               "60000",
			"RIPPLE_HUB_GOP_CACHE":                 "false",
			"RIPPLE_HUB_GOP_CACHE_MAX_DURATION":    "2s",
			"RIPPLE_HUB_SLOW_READER_MAX_OVERFLOWS": "7",
			"RIPPLE_SHUTDOWN_TIMEOUT":              "1m30s",
		},
		want: func(c *Config) {
			c.RTMP.Listen = "127.0.0.1:19350"
			c.HTTP.Listen = "127.0.0.1:18080"
			c.Log.Level = LogDebug
			c.RTMP.ChunkSize = 60000
			c.Hub.GOPCache = false
			c.Hub.GOPCacheMaxDuration = 2 * time.Second
			c.Hub.SlowReaderMaxOverflows = 7
			c.ShutdownTimeout = 90 * time.Second
		},
	},
	{
		name: "env overrides file",
		file: "rtmp:\n  listen: \":1936\"\n  chunk_size: 1024\n",
		env:  map[string]string{"RIPPLE_RTMP_LISTEN": ":1937"},
		want: func(c *Config) {
			c.RTMP.Listen = ":1937"
			c.RTMP.ChunkSize = 1024
		},
	},
	{
		name: "flags override env and file",
		file: "rtmp:\n  listen: \":1936\"\nlog:\n  level: warn\n",
		env:  map[string]string{"RIPPLE_RTMP_LISTEN": ":1937", "RIPPLE_HTTP_LISTEN": ":8081"},
		args: []string{"--rtmp-listen", ":1938", "--http-listen=:8082", "--log-level", "error"},
		want: func(c *Config) {
			c.RTMP.Listen = ":1938"
			c.HTTP.Listen = ":8082"
			c.Log.Level = LogError
		},
	},
	{
		name: "unset flags do not override",
		file: "http:\n  listen: \":8081\"\n",
		env:  map[string]string{"RIPPLE_RTMP_LISTEN": ":1937"},
		args: []string{"--log-level=debug"},
		want: func(c *Config) {
			c.HTTP.Listen = ":8081"
			c.RTMP.Listen = ":1937"
			c.Log.Level = LogDebug
		},
	},
	{
		name:  "unknown key names the key and suggests",
		file:  "rtmp:\n  listen: \":1935\"\n  chunk_sizee: 4096\n",
		err:   "config: %s:3: rtmp.chunk_sizee: unknown key (did you mean chunk_size?)",
		exact: true,
	},
	{
		name:  "unknown section",
		file:  "rmtp:\n  listen: \":1935\"\n",
		err:   "config: %s:1: rmtp: unknown key (did you mean rtmp?)",
		exact: true,
	},
	{
		name:  "unknown app key",
		file:  "apps:\n  live:\n    publish: takeover\n",
		err:   "config: %s:3: apps.live.publish: unknown key",
		exact: true,
	},
	{
		name:  "keys are case-sensitive",
		file:  "RTMP:\n  listen: \":1935\"\n",
		err:   "config: %s:1: RTMP: unknown key",
		exact: true,
	},
	{
		name:  "duplicate key",
		file:  "http:\n  listen: \":1\"\n  listen: \":2\"\n",
		err:   "config: %s:3: http.listen: duplicate key (first at line 2)",
		exact: true,
	},
	{
		name:  "section given a value",
		file:  "rtmp: 5\n",
		err:   `config: %s:1: rtmp: expected a mapping, got "5"`,
		exact: true,
	},
	{
		name:  "value given a mapping",
		file:  "rtmp:\n  listen:\n    port: 1935\n",
		err:   "config: %s:3: rtmp.listen: expected a value, got a mapping",
		exact: true,
	},
	{
		name:  "value missing",
		file:  "rtmp:\n  listen:\n",
		err:   "config: %s:2: rtmp.listen: no value",
		exact: true,
	},
	{
		name: "yaml syntax error",
		file: "rtmp:\n  listen: [\n",
		err:  "config: %s: yaml:",
	},
	{
		name:  "bad duration in file",
		file:  "rtmp:\n  read_timeout: 5x\n",
		err:   `config: rtmp.read_timeout: invalid duration "5x" (want a number with a unit, like "5s" or "500ms")`,
		exact: true,
	},
	{
		name:  "duration without unit",
		file:  "rtmp:\n  handshake_timeout: 5\n",
		err:   `config: rtmp.handshake_timeout: duration 5 has no unit (write "5s" for seconds)`,
		exact: true,
	},
	{
		name: "bad duration in env",
		env:  map[string]string{"RIPPLE_HUB_RECONNECT_GRACE": "soon"},
		err:  `config: hub.reconnect_grace: invalid duration "soon"`,
	},
	{
		name:  "bad integer in env",
		env:   map[string]string{"RIPPLE_RTMP_MAX_CONNECTIONS": "many"},
		err:   `config: rtmp.max_connections: "many" is not an integer`,
		exact: true,
	},
	{
		name:  "fractional integer",
		file:  "hub:\n  queue_size: 10.5\n",
		err:   "config: hub.queue_size: 10.5 is not a whole number",
		exact: true,
	},
	{
		name: "bad size",
		file: "rtmp:\n  max_message_size: 8XB\n",
		err:  `config: rtmp.max_message_size: invalid size "8XB": unknown unit "XB"`,
	},
	{
		name:  "bad boolean in env",
		env:   map[string]string{"RIPPLE_HUB_GOP_CACHE": "maybe"},
		err:   `config: hub.gop_cache: "maybe" is not a boolean (true or false)`,
		exact: true,
	},
	{
		name:  "validation runs after loading",
		file:  "rtmp:\n  chunk_size: 100\n",
		err:   "config: rtmp.chunk_size: 100 out of range [128, 65536]",
		exact: true,
	},
	{
		name:  "app policy validated",
		file:  "apps:\n  live:\n    publish_policy: x\n",
		err:   `config: apps.live.publish_policy: "x" is not one of reject, takeover`,
		exact: true,
	},
	{
		name: "flag validated",
		args: []string{"--rtmp-listen", "1935"},
		err:  `config: rtmp.listen: "1935" is not host:port`,
	},
}

func TestLoad(t *testing.T) {
	for _, tc := range loadCases {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			path := ""
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			RegisterFlags(fs)
			require.NoError(t, fs.Parse(tc.args))

			cfg, err := Load(path, fs)
			if tc.err != "" {
				require.Error(t, err)
				want := strings.ReplaceAll(tc.err, "%s", path)
				if tc.exact {
					require.Equal(t, want, err.Error())
				} else {
					require.Contains(t, err.Error(), want)
				}
				return
			}
			require.NoError(t, err)
			want := wantDefaults()
			if tc.want != nil {
				tc.want(&want)
			}
			require.Equal(t, want, cfg)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	clearEnv(t)
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path, nil)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Contains(t, err.Error(), path)
	require.True(t, strings.HasPrefix(err.Error(), "config: "), err.Error())
}

// TestEveryKeyFromEnv proves each key is reachable from its RIPPLE_*
// variable: a value invalid for every type must fail naming that key.
func TestEveryKeyFromEnv(t *testing.T) {
	for _, key := range Keys() {
		t.Run(key, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(EnvName(key), "bad\nvalue")
			_, err := Load("", nil)
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), "config: "+key+": "), err.Error())
		})
	}
}

func TestDefaultIgnoresEnv(t *testing.T) {
	t.Setenv("RIPPLE_RTMP_LISTEN", ":1")
	cfg, err := Default()
	require.NoError(t, err)
	require.Equal(t, wantDefaults(), cfg)
}

// TestDefaultsCoverSchema keeps defaults.yaml and the Config struct in step:
// every key has exactly one default, and no default is orphaned.
func TestDefaultsCoverSchema(t *testing.T) {
	file, apps, err := parseYAML("defaults.yaml", defaultsYAML)
	require.NoError(t, err)
	require.Empty(t, apps, "defaults.yaml must not define apps")
	keys := make([]string, 0)
	for k := range flatten(file, "") {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	require.Equal(t, Keys(), keys)
}

// TestExampleFile checks that ripple.example.yaml loads, restates the
// defaults, and documents every key.
func TestExampleFile(t *testing.T) {
	clearEnv(t)
	const path = "../../ripple.example.yaml"
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	file, _, err := parseYAML(path, b)
	require.NoError(t, err)
	var keys []string
	for k := range flatten(file, "") {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	require.Equal(t, Keys(), keys, "ripple.example.yaml must document every key")

	cfg, err := Load(path, nil)
	require.NoError(t, err)
	want := wantDefaults()
	cfg.Apps = want.Apps // the example shows an app override; the rest must be the defaults
	require.Equal(t, want, cfg)
}

func TestPublishPolicyFor(t *testing.T) {
	c := wantDefaults()
	c.Apps = map[string]App{"live": {PublishPolicy: PolicyTakeover}, "inherit": {}}
	for app, want := range map[string]PublishPolicy{"live": PolicyTakeover, "inherit": PolicyReject, "other": PolicyReject, "Live": PolicyReject} {
		require.Equal(t, want, c.PublishPolicyFor(app), app)
	}
}

func TestRegisterFlags(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"-c", "x.yaml"}))
	path, err := fs.GetString(FlagConfig)
	require.NoError(t, err)
	require.Equal(t, "x.yaml", path)
	require.Equal(t, ":1935", fs.Lookup("rtmp-listen").DefValue)
	require.Contains(t, fs.Lookup("http-listen").Usage, "RIPPLE_HTTP_LISTEN")
}

func TestEnvName(t *testing.T) {
	require.Equal(t, "RIPPLE_RTMP_CHUNK_SIZE", EnvName("rtmp.chunk_size"))
	require.Equal(t, "RIPPLE_SHUTDOWN_TIMEOUT", EnvName("shutdown_timeout"))
}

func FuzzParseYAML(f *testing.F) {
	f.Add(defaultsYAML)
	for _, tc := range loadCases {
		f.Add([]byte(tc.file))
	}
	known := Keys()
	appKeys := configSchema.fields["apps"].elem.fields
	f.Fuzz(func(t *testing.T, b []byte) {
		file, apps, err := parseYAML("fuzz.yaml", b)
		if err != nil {
			return
		}
		for k := range flatten(file, "") {
			if !slices.Contains(known, k) {
				t.Fatalf("unknown key %q accepted", k)
			}
		}
		for name, app := range apps {
			for k := range app {
				if _, ok := appKeys[k]; !ok {
					t.Fatalf("unknown key apps.%s.%s accepted", name, k)
				}
			}
		}
	})
}
