package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func wantAuthDefaults() Auth {
	return Auth{Hooks: Hooks{
		OnPublish:    SyncHook{Timeout: 3 * time.Second, Policy: HookFailClosed},
		OnPlay:       SyncHook{Timeout: 3 * time.Second, Policy: HookFailClosed},
		OnUnpublish:  AsyncHook{Timeout: 5 * time.Second},
		OnStop:       AsyncHook{Timeout: 5 * time.Second},
		OnRecordDone: AsyncHook{Timeout: 5 * time.Second},
		Retries:      3,
		RetryBackoff: time.Second,
		QueueSize:    1024,
	}}
}

func TestValidateAuth(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		err  string // "" = valid
	}{
		{"lists", func(c *Config) {
			c.Auth.PublishAllow = "10.0.0.0/8, 192.0.2.7 2001:db8::/32"
			c.HTTP.TrustedProxies = "127.0.0.1,::1"
		}, ""},
		{"bad cidr", func(c *Config) { c.Auth.PlayDeny = "10.0.0.0/33" },
			`config: auth.play_deny: "10.0.0.0/33" is not an IP address or CIDR prefix`},
		{"bad trusted proxy", func(c *Config) { c.HTTP.TrustedProxies = "lb.example" },
			`config: http.trusted_proxies: "lb.example" is not an IP address or CIDR prefix`},
		{"bad app list", func(c *Config) { c.Apps = map[string]App{"live": {Auth: AppAuth{PublishAllow: "x"}}} },
			`config: apps.live.auth.publish_allow: "x" is not an IP address or CIDR prefix`},
		{"secret control char", func(c *Config) { c.Auth.PlaySecret = "a\nb" },
			"config: auth.play_secret: contains control characters"},
		{"hook url scheme", func(c *Config) { c.Auth.Hooks.OnPublish.URL = "ftp://x/y" },
			`config: auth.hooks.on_publish.url: "ftp://x/y" is not an http:// or https:// URL`},
		{"hook url ok", func(c *Config) { c.Auth.Hooks.OnStop.URL = "https://hooks.example/stop" }, ""},
		{"hook policy", func(c *Config) { c.Auth.Hooks.OnPlay.Policy = 0 },
			`config: auth.hooks.on_play.policy: "" is not one of fail_closed, fail_open`},
		{"hook timeout", func(c *Config) { c.Auth.Hooks.OnPlay.Timeout = 0 },
			"config: auth.hooks.on_play.timeout: 0s out of range (0, 1m0s]"},
		{"async timeout", func(c *Config) { c.Auth.Hooks.OnUnpublish.Timeout = 2 * time.Minute },
			"config: auth.hooks.on_unpublish.timeout: 2m0s out of range (0, 1m0s]"},
		{"retries", func(c *Config) { c.Auth.Hooks.Retries = -1 },
			"config: auth.hooks.retries: -1 out of range [0, 20]"},
		{"backoff", func(c *Config) { c.Auth.Hooks.RetryBackoff = 0 },
			"config: auth.hooks.retry_backoff: 0s must be > 0"},
		{"queue", func(c *Config) { c.Auth.Hooks.QueueSize = 0 },
			"config: auth.hooks.queue_size: 0 out of range [1, 1048576]"},
	} {
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

// TestLoadAuth reads the auth section, per-app auth and the proxy keys from
// a file and the environment.
func TestLoadAuth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ripple.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`
rtmp:
  proxy_protocol: true
http:
  trusted_proxies: "10.0.0.0/8"
auth:
  publish_secret: pub
  play_deny: "203.0.113.0/24"
  hooks:
    on_publish:
      url: http://127.0.0.1:9000/on_publish
      policy: fail_open
apps:
  Live.TV:
    auth:
      play_secret: liveplay
      play_allow: "192.0.2.0/24"
`), 0o600))
	t.Setenv("RIPPLE_AUTH_HOOKS_ON_STOP_URL", "http://127.0.0.1:9000/on_stop")
	t.Setenv("RIPPLE_AUTH_PLAY_SECRET", "envplay")
	c, err := Load(path, nil)
	require.NoError(t, err)
	require.True(t, c.RTMP.ProxyProtocol)
	require.Equal(t, "10.0.0.0/8", c.HTTP.TrustedProxies)
	want := wantAuthDefaults()
	want.PublishSecret, want.PlaySecret, want.PlayDeny = "pub", "envplay", "203.0.113.0/24"
	want.Hooks.OnPublish.URL, want.Hooks.OnPublish.Policy = "http://127.0.0.1:9000/on_publish", HookFailOpen
	want.Hooks.OnStop.URL = "http://127.0.0.1:9000/on_stop"
	require.Equal(t, want, c.Auth)
	require.Equal(t, AppAuth{PlaySecret: "liveplay", PlayAllow: "192.0.2.0/24"}, c.Apps["Live.TV"].Auth)
	require.Equal(t, []string{"a", "b", "c"}, SplitList(" a,b  c,"))
}
