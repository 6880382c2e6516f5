// Package config owns Ripple's file and environment schema. Load builds a
// Config in four layers, each overriding the previous one:
//
//  1. the embedded defaults.yaml (the single source of default values),
//  2. an optional YAML file,
//  3. environment variables RIPPLE_<KEY> with "." replaced by "_"
//     (RIPPLE_RTMP_CHUNK_SIZE sets rtmp.chunk_size),
//  4. the command-line flags that were actually set,
//
// and then calls Validate. Every error names the offending key.
//
// The per-app section (apps) is read from the YAML file only: its keys are
// app names, which are case-sensitive and may contain dots, neither of which
// survives viper's dotted, lower-cased key space.
//
// The package imports nothing from the project: pkg/server translates Config
// into each package's own Config.
package config

import (
	_ "embed"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// EnvPrefix prefixes every environment variable Load reads.
const EnvPrefix = "RIPPLE"

//go:embed defaults.yaml
var defaultsYAML []byte

// Config is the whole configuration. Field tags are the snake_case keys of
// the YAML file; see ripple.example.yaml for what each one means.
type Config struct {
	Log             Log            `mapstructure:"log"`
	RTMP            RTMP           `mapstructure:"rtmp"`
	HTTP            HTTP           `mapstructure:"http"`
	Hub             Hub            `mapstructure:"hub"`
	HLS             HLS            `mapstructure:"hls"`
	Apps            map[string]App `mapstructure:"apps"`
	API             API            `mapstructure:"api"`
	Auth            Auth           `mapstructure:"auth"`
	Relay           Relay          `mapstructure:"relay"`
	Cluster         Cluster        `mapstructure:"cluster"`
	Record          Record         `mapstructure:"record"`
	Thumbnail       Thumbnail      `mapstructure:"thumbnail"`
	Transcode       Transcode      `mapstructure:"transcode"`
	ShutdownTimeout time.Duration  `mapstructure:"shutdown_timeout"`
	ShutdownDelay   time.Duration  `mapstructure:"shutdown_delay"` // not ready, still serving, before draining
	Debug           Debug          `mapstructure:"debug"`
}

// Debug configures diagnostics an operator turns on to profile a server.
type Debug struct {
	// PprofListen serves net/http/pprof on its own listener when set
	// (e.g. "127.0.0.1:6060"); never on the public HTTP port.
	PprofListen string `mapstructure:"pprof_listen"`
}

// Log configures the process logger.
type Log struct {
	Level  LogLevel  `mapstructure:"level"`  // debug, info, warn, error
	Format LogFormat `mapstructure:"format"` // text, json
}

// RTMP configures the RTMP listener and its sessions.
type RTMP struct {
	// Listen is the plain RTMP address; empty turns it off (allowed only
	// with TLS.Listen set).
	Listen string `mapstructure:"listen"`
	// TLS is the RTMPS listener (rtmp.tls.*): the same RTMP server behind
	// TLS; off by default.
	TLS              TLS           `mapstructure:"tls"`
	ChunkSize        ByteSize      `mapstructure:"chunk_size"`
	HandshakeTimeout time.Duration `mapstructure:"handshake_timeout"`
	ReadTimeout      time.Duration `mapstructure:"read_timeout"`
	WriteTimeout     time.Duration `mapstructure:"write_timeout"`
	MaxConnections   int           `mapstructure:"max_connections"` // 0: unlimited
	// MaxConnectionsPerIP caps the connections of one client address;
	// 0: unlimited.
	MaxConnectionsPerIP int `mapstructure:"max_connections_per_ip"`
	// ConnectTimeout bounds the time from the end of the handshake to a
	// publish or play: a connection still without one is closed.
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`
	MaxMessageSize ByteSize      `mapstructure:"max_message_size"`
	PlayWait       time.Duration `mapstructure:"play_wait"`
	AckWindow      ByteSize      `mapstructure:"ack_window"`
	// ProxyProtocol requires a PROXY v1/v2 header (from a load balancer)
	// on every RTMP connection; its client address replaces the peer's.
	ProxyProtocol bool `mapstructure:"proxy_protocol"`
}

// HTTP configures the HTTP listener (HTTP-FLV, WebSocket-FLV, web page).
type HTTP struct {
	// Listen is the plain HTTP address; empty turns it off (allowed only
	// with TLS.Listen set).
	Listen string `mapstructure:"listen"`
	// TLS is the HTTPS listener (http.tls.*): the same handler (HTTP-FLV,
	// WSS-FLV, HLS, API, page) behind TLS; off by default.
	TLS          TLS           `mapstructure:"tls"`
	AllowOrigin  string        `mapstructure:"allow_origin"`
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	// ReadTimeout bounds reading a request's headers and body; a
	// streaming response (FLV players, the event stream, blocking HLS
	// reloads) is bounded by its write deadlines instead.
	ReadTimeout time.Duration `mapstructure:"read_timeout"`
	// MaxConnections caps open HTTP connections (players included);
	// MaxConnectionsPerIP those of one client address (trusted proxies
	// exempt). 0: unlimited.
	MaxConnections      int `mapstructure:"max_connections"`
	MaxConnectionsPerIP int `mapstructure:"max_connections_per_ip"`
	// TrustedProxies lists the CIDRs whose X-Forwarded-For is believed
	// (comma or space separated); empty: X-Forwarded-For is ignored.
	TrustedProxies string `mapstructure:"trusted_proxies"`
}

// Hub configures the stream registry and fan-out.
type Hub struct {
	QueueSize              int           `mapstructure:"queue_size"`
	QueueMaxBytes          ByteSize      `mapstructure:"queue_max_bytes"` // media bytes a reader's queue may pin
	GOPCache               bool          `mapstructure:"gop_cache"`
	GOPCacheMaxPackets     int           `mapstructure:"gop_cache_max_packets"`
	GOPCacheMaxBytes       ByteSize      `mapstructure:"gop_cache_max_bytes"`
	GOPCacheMaxDuration    time.Duration `mapstructure:"gop_cache_max_duration"`
	MaxStreams             int           `mapstructure:"max_streams"` // 0: unlimited
	ReconnectGrace         time.Duration `mapstructure:"reconnect_grace"`
	SlowReaderMaxOverflows int           `mapstructure:"slow_reader_max_overflows"`
	SlowReaderWindow       time.Duration `mapstructure:"slow_reader_window"`
	PublishPolicy          PublishPolicy `mapstructure:"publish_policy"` // reject, takeover
	MergeWindow            time.Duration `mapstructure:"merge_window"`   // 0: write per video frame
}

// App holds per-app overrides. Empty fields inherit the global setting.
type App struct {
	PublishPolicy PublishPolicy `mapstructure:"publish_policy"` // unset (inherit), reject, takeover
	Auth          AppAuth       `mapstructure:"auth"`
	// Forward lists relay destinations (rtmp:// templates, relay.go).
	Forward []string `mapstructure:"forward"`
	// Edge puts the app in edge mode (relay.go).
	Edge Edge `mapstructure:"edge"`
	// Record overrides record for the app's streams (record.go).
	Record AppRecord `mapstructure:"record"`
	// Transcode is the app's rendition ladder and TranscodeOn when it
	// runs (transcode.go).
	Transcode   []TranscodeRung `mapstructure:"transcode"`
	TranscodeOn TranscodeMode   `mapstructure:"transcode_on"`
}

// PublishPolicyFor returns the publish policy of app: its override if it
// has one, else hub.publish_policy.
func (c *Config) PublishPolicyFor(app string) PublishPolicy {
	if a, ok := c.Apps[app]; ok && a.PublishPolicy != 0 {
		return a.PublishPolicy
	}
	return c.Hub.PublishPolicy
}

// Default returns the built-in configuration: defaults.yaml alone, without
// the environment.
func Default() (Config, error) {
	return load("", nil, false)
}

// Load reads the configuration: defaults, then the YAML file at path (none
// if path is ""; a missing file is an error), then RIPPLE_* environment
// variables, then the flags in fs registered by RegisterFlags that were set
// on the command line (fs may be nil). The result is validated.
func Load(path string, fs *pflag.FlagSet) (Config, error) {
	return load(path, fs, true)
}

func load(path string, fs *pflag.FlagSet, env bool) (Config, error) {
	v := viper.New()
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))

	defaults, _, err := parseYAML("defaults.yaml", defaultsYAML)
	if err != nil {
		return Config{}, err // a broken build: TestDefaults catches it
	}
	for key, val := range flatten(defaults, "") {
		v.SetDefault(key, val)
		if !env {
			continue
		}
		// Bind explicitly: viper's AutomaticEnv only answers Get, and
		// Unmarshal only sees keys it already knows.
		if err := v.BindEnv(key); err != nil {
			return Config{}, fmt.Errorf("config: bind env for %s: %w", key, err)
		}
	}

	var apps map[string]map[string]any
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		var file map[string]any
		file, apps, err = parseYAML(path, b)
		if err != nil {
			return Config{}, err
		}
		if err := v.MergeConfigMap(file); err != nil {
			return Config{}, fmt.Errorf("config: %s: %w", path, err)
		}
	}

	if fs != nil {
		for _, f := range flagKeys {
			if fl := fs.Lookup(f.name); fl != nil && fl.Changed {
				v.Set(f.key, fl.Value.String())
			}
		}
	}

	var cfg Config
	if err := v.Unmarshal(&cfg, viper.DecodeHook(decodeHook)); err != nil {
		return Config{}, decodeError("", err)
	}
	if cfg.Apps, err = decodeApps(apps); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// defaultString returns the built-in default of key as text, for help.
func defaultString(key string) string {
	defaults, _, err := parseYAML("defaults.yaml", defaultsYAML)
	if err != nil {
		return ""
	}
	if val, ok := flatten(defaults, "")[key]; ok {
		return fmt.Sprint(val)
	}
	return ""
}
