package config

import (
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits checked by Validate.
const (
	MinChunkSize = 128   // RTMP 1.0 §5.4.1: the initial chunk size
	MaxChunkSize = 65536 // larger chunks only delay interleaving of audio and video
	// MaxMessageSize is the largest RTMP message: the message length field
	// of a type-0 chunk header is 3 bytes (RTMP 1.0 §5.3.1.2.1).
	MaxMessageSize = 1<<24 - 1
	MinMessageSize = 1024
	MinAckWindow   = 1024
	MaxAckWindow   = math.MaxUint32 // 4-byte field (RTMP 1.0 §5.4.4)
	MaxQueueSize   = 1 << 20
	// MaxMergeWindow bounds hub.merge_window: beyond a second the added
	// latency defeats live playback, and the queue must hold a window.
	MaxMergeWindow = time.Second
	MaxOverflows   = 1024 // the hub's cap (hub.MaxOverflowsLimit)
	maxNameLen     = 128
)

// Validate checks every key and returns the first error, naming the key.
// It is pure: no I/O, no defaults applied.
func (c *Config) Validate() error {
	errs := []error{
		logLevels.check("log.level", c.Log.Level),
		logFormats.check("log.format", c.Log.Format),

		plainListen("rtmp.listen", c.RTMP.Listen, c.RTMP.TLS, "rtmp.tls.listen"),
		c.RTMP.TLS.validate("rtmp.tls"),
		inRange("rtmp.chunk_size", int64(c.RTMP.ChunkSize), MinChunkSize, MaxChunkSize),
		positive("rtmp.handshake_timeout", c.RTMP.HandshakeTimeout),
		positive("rtmp.read_timeout", c.RTMP.ReadTimeout),
		positive("rtmp.write_timeout", c.RTMP.WriteTimeout),
		atLeast("rtmp.max_connections", int64(c.RTMP.MaxConnections), 0),
		atLeast("rtmp.max_connections_per_ip", int64(c.RTMP.MaxConnectionsPerIP), 0),
		positive("rtmp.connect_timeout", c.RTMP.ConnectTimeout),
		inRange("rtmp.max_message_size", int64(c.RTMP.MaxMessageSize), MinMessageSize, MaxMessageSize),
		positive("rtmp.play_wait", c.RTMP.PlayWait),
		inRange("rtmp.ack_window", int64(c.RTMP.AckWindow), MinAckWindow, MaxAckWindow),

		plainListen("http.listen", c.HTTP.Listen, c.HTTP.TLS, "http.tls.listen"),
		c.HTTP.TLS.validate("http.tls"),
		headerValue("http.allow_origin", c.HTTP.AllowOrigin),
		positive("http.write_timeout", c.HTTP.WriteTimeout),
		positive("http.read_timeout", c.HTTP.ReadTimeout),
		atLeast("http.max_connections", int64(c.HTTP.MaxConnections), 0),
		atLeast("http.max_connections_per_ip", int64(c.HTTP.MaxConnectionsPerIP), 0),

		inRange("hub.queue_size", int64(c.Hub.QueueSize), 1, MaxQueueSize),
		atLeast("hub.queue_max_bytes", int64(c.Hub.QueueMaxBytes), int64(c.RTMP.MaxMessageSize)),
		atLeast("hub.gop_cache_max_packets", int64(c.Hub.GOPCacheMaxPackets), 1),
		atLeast("hub.gop_cache_max_bytes", int64(c.Hub.GOPCacheMaxBytes), 1),
		positive("hub.gop_cache_max_duration", c.Hub.GOPCacheMaxDuration),
		atLeast("hub.max_streams", int64(c.Hub.MaxStreams), 0),
		nonNegative("hub.reconnect_grace", c.Hub.ReconnectGrace),
		inRange("hub.slow_reader_max_overflows", int64(c.Hub.SlowReaderMaxOverflows), 1, MaxOverflows),
		positive("hub.slow_reader_window", c.Hub.SlowReaderWindow),
		publishPolicies.check("hub.publish_policy", c.Hub.PublishPolicy),
		durationRange("hub.merge_window", c.Hub.MergeWindow, 0, MaxMergeWindow),
	}
	errs = append(errs, c.validateApps())
	errs = append(errs, c.HLS.validate())
	errs = append(errs, c.validateAPI())
	errs = append(errs, c.validateAuth())
	errs = append(errs, c.validateRelay())
	errs = append(errs, c.validateCluster())
	errs = append(errs, c.validateTranscode())
	errs = append(errs, c.validateRecord())
	errs = append(errs, c.validateThumbnail())
	errs = append(errs, positive("shutdown_timeout", c.ShutdownTimeout))
	errs = append(errs, nonNegative("shutdown_delay", c.ShutdownDelay))
	if c.Debug.PprofListen != "" {
		errs = append(errs, listenAddr("debug.pprof_listen", c.Debug.PprofListen))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateApps() error {
	names := make([]string, 0, len(c.Apps))
	for name := range c.Apps {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := appName(name); err != nil {
			return err
		}
		if p := c.Apps[name].PublishPolicy; p != 0 { // unset inherits hub.publish_policy
			if err := publishPolicies.check("apps."+name+".publish_policy", p); err != nil {
				return err
			}
		}
	}
	return nil
}

// appName applies the hub's stream-name rule to every segment of an app:
// [A-Za-z0-9._~-]{1,128}, not "." or "..", segments joined by "/".
func appName(name string) error {
	for seg := range strings.SplitSeq(name, "/") {
		ok := seg != "" && len(seg) <= maxNameLen && seg != "." && seg != ".."
		for i := 0; ok && i < len(seg); i++ {
			ch := seg[i]
			ok = ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' ||
				ch == '.' || ch == '_' || ch == '~' || ch == '-'
		}
		if !ok {
			return fmt.Errorf("config: apps: %q is not a valid app name: want segments of [A-Za-z0-9._~-]{1,%d} joined by \"/\"", name, maxNameLen)
		}
	}
	return nil
}

func inRange(key string, v, lo, hi int64) error {
	if v < lo || v > hi {
		return fmt.Errorf("config: %s: %d out of range [%d, %d]", key, v, lo, hi)
	}
	return nil
}

func atLeast(key string, v, lo int64) error {
	if v < lo {
		return fmt.Errorf("config: %s: %d must be >= %d", key, v, lo)
	}
	return nil
}

func positive(key string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("config: %s: %s must be > 0", key, d)
	}
	return nil
}

func nonNegative(key string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("config: %s: %s must be >= 0", key, d)
	}
	return nil
}

// listenAddr accepts what net.Listen("tcp", ...) accepts with a numeric
// port: "host:port", ":port", "[::1]:port"; port 0 picks a free port.
func listenAddr(key, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("config: %s: %q is not host:port: %w", key, addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("config: %s: %q: port %q is not a number in [0, 65535]", key, addr, port)
	}
	return nil
}

// headerValue rejects values that cannot be sent as an HTTP header, and the
// empty value, which httpflv would silently read as "*".
func headerValue(key, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("config: %s: %q is empty (use \"*\" to allow any origin)", key, v)
	}
	if strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("config: %s: %q contains a line break", key, v)
	}
	return nil
}
