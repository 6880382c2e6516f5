package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(c *Config)
		err  string // "" = valid
	}{
		{name: "defaults", edit: func(*Config) {}},
		{name: "log level", edit: func(c *Config) { c.Log.Level = LogError + 1 },
			err: `config: log.level: "LogLevel(5)" is not one of debug, info, warn, error`},
		{name: "log format", edit: func(c *Config) { c.Log.Format = 0 },
			err: `config: log.format: "" is not one of text, json`},
		{name: "rtmp listen without port", edit: func(c *Config) { c.RTMP.Listen = "localhost" },
			err: `config: rtmp.listen: "localhost" is not host:port: address localhost: missing port in address`},
		{name: "rtmp listen bad port", edit: func(c *Config) { c.RTMP.Listen = ":rtmp" },
			err: `config: rtmp.listen: ":rtmp": port "rtmp" is not a number in [0, 65535]`},
		{name: "rtmp listen port too big", edit: func(c *Config) { c.RTMP.Listen = "127.0.0.1:70000" },
			err: `config: rtmp.listen: "127.0.0.1:70000": port "70000" is not a number in [0, 65535]`},
		{name: "listen port 0 and ipv6", edit: func(c *Config) { c.RTMP.Listen = "[::1]:0"; c.HTTP.Listen = "127.0.0.1:0" }},
		{name: "chunk size low", edit: func(c *Config) { c.RTMP.ChunkSize = 100 },
			err: "config: rtmp.chunk_size: 100 out of range [128, 65536]"},
		{name: "chunk size high", edit: func(c *Config) { c.RTMP.ChunkSize = 65537 },
			err: "config: rtmp.chunk_size: 65537 out of range [128, 65536]"},
		{name: "chunk size bounds", edit: func(c *Config) { c.RTMP.ChunkSize = 128; c.RTMP.MaxMessageSize = MaxMessageSize }},
		{name: "handshake timeout", edit: func(c *Config) { c.RTMP.HandshakeTimeout = 0 },
			err: "config: rtmp.handshake_timeout: 0s must be > 0"},
		{name: "read timeout", edit: func(c *Config) { c.RTMP.ReadTimeout = -time.Second },
			err: "config: rtmp.read_timeout: -1s must be > 0"},
		{name: "rtmp write timeout", edit: func(c *Config) { c.RTMP.WriteTimeout = 0 },
			err: "config: rtmp.write_timeout: 0s must be > 0"},
		{name: "max connections negative", edit: func(c *Config) { c.RTMP.MaxConnections = -1 },
			err: "config: rtmp.max_connections: -1 must be >= 0"},
		{name: "unlimited connections and streams", edit: func(c *Config) { c.RTMP.MaxConnections = 0; c.Hub.MaxStreams = 0 }},
		{name: "max message size over 24 bits", edit: func(c *Config) { c.RTMP.MaxMessageSize = 16 * MiB },
			err: "config: rtmp.max_message_size: 16777216 out of range [1024, 16777215]"},
		{name: "play wait", edit: func(c *Config) { c.RTMP.PlayWait = 0 },
			err: "config: rtmp.play_wait: 0s must be > 0"},
		{name: "ack window", edit: func(c *Config) { c.RTMP.AckWindow = 1 << 32 },
			err: "config: rtmp.ack_window: 4294967296 out of range [1024, 4294967295]"},
		{name: "http listen", edit: func(c *Config) { c.HTTP.Listen = "" },
			err: `config: http.listen: empty (only allowed when http.tls.listen is set)`},
		{name: "https only", edit: func(c *Config) {
			c.HTTP.Listen = ""
			c.HTTP.TLS = TLS{Listen: ":8443", CertFile: "c.pem", KeyFile: "k.pem"}
		}},
		{name: "rtmps only", edit: func(c *Config) {
			c.RTMP.Listen = ""
			c.RTMP.TLS = TLS{Listen: "127.0.0.1:0", CertFile: "c.pem", KeyFile: "k.pem"}
		}},
		{name: "rtmp tls listen bad", edit: func(c *Config) { c.RTMP.TLS = TLS{Listen: "1936", CertFile: "c", KeyFile: "k"} },
			err: `config: rtmp.tls.listen: "1936" is not host:port: address 1936: missing port in address`},
		{name: "rtmp tls without cert", edit: func(c *Config) { c.RTMP.TLS = TLS{Listen: ":1936", KeyFile: "k"} },
			err: `config: rtmp.tls.cert_file: empty, but rtmp.tls.listen is set (want a PEM certificate file)`},
		{name: "http tls without key", edit: func(c *Config) { c.HTTP.TLS = TLS{Listen: ":8443", CertFile: "c"} },
			err: `config: http.tls.key_file: empty, but http.tls.listen is set (want a PEM private key file)`},
		{name: "tls files without listen are kept", edit: func(c *Config) { c.HTTP.TLS = TLS{CertFile: "c", KeyFile: "k"} }},
		{name: "tls file control character", edit: func(c *Config) { c.HTTP.TLS.KeyFile = "k\n" },
			err: `config: http.tls.key_file: "k\n" contains a control character`},
		{name: "allow origin empty", edit: func(c *Config) { c.HTTP.AllowOrigin = "" },
			err: `config: http.allow_origin: "" is empty (use "*" to allow any origin)`},
		{name: "allow origin list", edit: func(c *Config) { c.HTTP.AllowOrigin = "https://a.example, https://b.example" }},
		{name: "allow origin header injection", edit: func(c *Config) { c.HTTP.AllowOrigin = "*\r\nX: y" },
			err: `config: http.allow_origin: "*\r\nX: y" contains a line break`},
		{name: "http write timeout", edit: func(c *Config) { c.HTTP.WriteTimeout = 0 },
			err: "config: http.write_timeout: 0s must be > 0"},
		{name: "http read timeout", edit: func(c *Config) { c.HTTP.ReadTimeout = 0 },
			err: "config: http.read_timeout: 0s must be > 0"},
		{name: "http max connections per ip", edit: func(c *Config) { c.HTTP.MaxConnectionsPerIP = -1 },
			err: "config: http.max_connections_per_ip: -1 must be >= 0"},
		{name: "rtmp connect timeout", edit: func(c *Config) { c.RTMP.ConnectTimeout = 0 },
			err: "config: rtmp.connect_timeout: 0s must be > 0"},
		{name: "rtmp max connections per ip", edit: func(c *Config) { c.RTMP.MaxConnectionsPerIP = -1 },
			err: "config: rtmp.max_connections_per_ip: -1 must be >= 0"},
		{name: "queue max bytes below a message", edit: func(c *Config) { c.Hub.QueueMaxBytes = MiB },
			err: "config: hub.queue_max_bytes: 1048576 must be >= 8388608"},
		{name: "queue size", edit: func(c *Config) { c.Hub.QueueSize = 0 },
			err: "config: hub.queue_size: 0 out of range [1, 1048576]"},
		{name: "gop packets", edit: func(c *Config) { c.Hub.GOPCacheMaxPackets = 0 },
			err: "config: hub.gop_cache_max_packets: 0 must be >= 1"},
		{name: "gop bytes", edit: func(c *Config) { c.Hub.GOPCacheMaxBytes = -5 },
			err: "config: hub.gop_cache_max_bytes: -5 must be >= 1"},
		{name: "gop duration", edit: func(c *Config) { c.Hub.GOPCacheMaxDuration = 0 },
			err: "config: hub.gop_cache_max_duration: 0s must be > 0"},
		{name: "max streams", edit: func(c *Config) { c.Hub.MaxStreams = -2 },
			err: "config: hub.max_streams: -2 must be >= 0"},
		{name: "reconnect grace zero is valid", edit: func(c *Config) { c.Hub.ReconnectGrace = 0 }},
		{name: "reconnect grace negative", edit: func(c *Config) { c.Hub.ReconnectGrace = -time.Millisecond },
			err: "config: hub.reconnect_grace: -1ms must be >= 0"},
		{name: "overflows", edit: func(c *Config) { c.Hub.SlowReaderMaxOverflows = 0 },
			err: "config: hub.slow_reader_max_overflows: 0 out of range [1, 1024]"},
		{name: "overflow window", edit: func(c *Config) { c.Hub.SlowReaderWindow = 0 },
			err: "config: hub.slow_reader_window: 0s must be > 0"},
		{name: "merge window negative", edit: func(c *Config) { c.Hub.MergeWindow = -time.Millisecond },
			err: "config: hub.merge_window: -1ms out of range [0s, 1s]"},
		{name: "merge window too long", edit: func(c *Config) { c.Hub.MergeWindow = 2 * time.Second },
			err: "config: hub.merge_window: 2s out of range [0s, 1s]"},
		{name: "publish policy", edit: func(c *Config) { c.Hub.PublishPolicy = 0 },
			err: `config: hub.publish_policy: "" is not one of reject, takeover`},
		{name: "app policy", edit: func(c *Config) { c.Apps = map[string]App{"live": {PublishPolicy: 7}} },
			err: `config: apps.live.publish_policy: "PublishPolicy(7)" is not one of reject, takeover`},
		{name: "app policies valid", edit: func(c *Config) {
			c.Apps = map[string]App{"live": {PublishPolicy: PolicyTakeover}, "a/b.c": {}, "x~y_z-1": {PublishPolicy: PolicyReject}}
		}},
		{name: "first bad app in name order", edit: func(c *Config) {
			c.Apps = map[string]App{"zz": {PublishPolicy: 8}, "aa": {PublishPolicy: 9}}
		}, err: `config: apps.aa.publish_policy: "PublishPolicy(9)" is not one of reject, takeover`},
		{name: "app name with space", edit: func(c *Config) { c.Apps = map[string]App{"li ve": {}} },
			err: `config: apps: "li ve" is not a valid app name: want segments of [A-Za-z0-9._~-]{1,128} joined by "/"`},
		{name: "app name dot-dot", edit: func(c *Config) { c.Apps = map[string]App{"live/..": {}} },
			err: `config: apps: "live/.." is not a valid app name: want segments of [A-Za-z0-9._~-]{1,128} joined by "/"`},
		{name: "app name empty segment", edit: func(c *Config) { c.Apps = map[string]App{"live/": {}} },
			err: `config: apps: "live/" is not a valid app name: want segments of [A-Za-z0-9._~-]{1,128} joined by "/"`},
		{name: "shutdown timeout", edit: func(c *Config) { c.ShutdownTimeout = 0 },
			err: "config: shutdown_timeout: 0s must be > 0"},
		{name: "first error wins", edit: func(c *Config) { c.Log.Level = 0; c.ShutdownTimeout = 0 },
			err: `config: log.level: "" is not one of debug, info, warn, error`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := wantDefaults()
			tc.edit(&c)
			err := c.Validate()
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.err)
		})
	}
}
