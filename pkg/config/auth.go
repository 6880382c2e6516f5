package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Auth configures who may publish and play (pkg/auth): signed URLs, IP
// lists and HTTP hooks. Everything here can be reloaded with SIGHUP.
// Address lists are strings of CIDRs or addresses separated by commas or
// spaces ("10.0.0.0/8, 192.0.2.7"), so that the environment can set them.
type Auth struct {
	// PublishSecret and PlaySecret, when set, require a signed URL:
	// ?expires=UNIX&token=hex(HMAC-SHA256(secret, "{app}/{stream}:{expires}")).
	PublishSecret string `mapstructure:"publish_secret"`
	PlaySecret    string `mapstructure:"play_secret"`
	PublishAllow  string `mapstructure:"publish_allow"` // empty: everyone
	PublishDeny   string `mapstructure:"publish_deny"`
	PlayAllow     string `mapstructure:"play_allow"`
	PlayDeny      string `mapstructure:"play_deny"`
	Hooks         Hooks  `mapstructure:"hooks"`
}

// Hooks are HTTP callbacks, JSON POSTs in the spirit of SRS's.
type Hooks struct {
	ServerID     string        `mapstructure:"server_id"` // sent as server_id
	OnPublish    SyncHook      `mapstructure:"on_publish"`
	OnPlay       SyncHook      `mapstructure:"on_play"`
	OnUnpublish  AsyncHook     `mapstructure:"on_unpublish"`
	OnStop       AsyncHook     `mapstructure:"on_stop"`
	OnRecordDone AsyncHook     `mapstructure:"on_record_done"` // a recording file is complete
	Retries      int           `mapstructure:"retries"`        // on_unpublish/on_stop
	RetryBackoff time.Duration `mapstructure:"retry_backoff"`  // first wait, doubled per retry
	QueueSize    int           `mapstructure:"queue_size"`     // pending on_unpublish/on_stop
}

// SyncHook can refuse: a non-2xx answer rejects; Policy decides when the
// hook does not answer within Timeout (or is down).
type SyncHook struct {
	URL     string        `mapstructure:"url"` // "": no hook
	Timeout time.Duration `mapstructure:"timeout"`
	Policy  HookPolicy    `mapstructure:"policy"` // fail_closed, fail_open
}

// AsyncHook is a notification, retried in the background.
type AsyncHook struct {
	URL     string        `mapstructure:"url"`
	Timeout time.Duration `mapstructure:"timeout"`
}

// AppAuth overrides Auth for one app (apps.NAME.auth). An empty secret
// inherits the global one; a non-empty allow list replaces the global one;
// deny lists add up.
type AppAuth struct {
	PublishSecret string `mapstructure:"publish_secret"`
	PlaySecret    string `mapstructure:"play_secret"`
	PublishAllow  string `mapstructure:"publish_allow"`
	PublishDeny   string `mapstructure:"publish_deny"`
	PlayAllow     string `mapstructure:"play_allow"`
	PlayDeny      string `mapstructure:"play_deny"`
}

// Bounds of the hook settings.
const (
	MaxHookTimeout   = time.Minute
	MaxHookRetries   = 20
	MaxHookQueueSize = 1 << 20
)

// SplitList splits an address list value at commas and whitespace.
func SplitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

func (c *Config) validateAuth() error {
	a := c.Auth
	type kv struct{ key, v string }
	lists := []kv{
		{"auth.publish_allow", a.PublishAllow}, {"auth.publish_deny", a.PublishDeny},
		{"auth.play_allow", a.PlayAllow}, {"auth.play_deny", a.PlayDeny},
		{"http.trusted_proxies", c.HTTP.TrustedProxies},
	}
	secrets := []kv{
		{"auth.publish_secret", a.PublishSecret}, {"auth.play_secret", a.PlaySecret},
		{"auth.hooks.server_id", a.Hooks.ServerID},
	}
	names := make([]string, 0, len(c.Apps))
	for name := range c.Apps {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		aa, p := c.Apps[name].Auth, "apps."+name+".auth."
		lists = append(lists,
			kv{p + "publish_allow", aa.PublishAllow}, kv{p + "publish_deny", aa.PublishDeny},
			kv{p + "play_allow", aa.PlayAllow}, kv{p + "play_deny", aa.PlayDeny})
		secrets = append(secrets,
			kv{p + "publish_secret", aa.PublishSecret}, kv{p + "play_secret", aa.PlaySecret})
	}
	for _, l := range lists {
		if err := cidrList(l.key, l.v); err != nil {
			return err
		}
	}
	for _, s := range secrets {
		if strings.ContainsFunc(s.v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return fmt.Errorf("config: %s: contains control characters", s.key)
		}
	}
	h := a.Hooks
	for _, sh := range []struct {
		key  string
		hook SyncHook
	}{{"auth.hooks.on_publish", h.OnPublish}, {"auth.hooks.on_play", h.OnPlay}} {
		if err := hookURL(sh.key+".url", sh.hook.URL); err != nil {
			return err
		}
		if err := hookTimeout(sh.key+".timeout", sh.hook.Timeout); err != nil {
			return err
		}
		if err := hookPolicies.check(sh.key+".policy", sh.hook.Policy); err != nil {
			return err
		}
	}
	for _, ah := range []struct {
		key  string
		hook AsyncHook
	}{{"auth.hooks.on_unpublish", h.OnUnpublish}, {"auth.hooks.on_stop", h.OnStop},
		{"auth.hooks.on_record_done", h.OnRecordDone}} {
		if err := hookURL(ah.key+".url", ah.hook.URL); err != nil {
			return err
		}
		if err := hookTimeout(ah.key+".timeout", ah.hook.Timeout); err != nil {
			return err
		}
	}
	if err := inRange("auth.hooks.retries", int64(h.Retries), 0, MaxHookRetries); err != nil {
		return err
	}
	if err := positive("auth.hooks.retry_backoff", h.RetryBackoff); err != nil {
		return err
	}
	return inRange("auth.hooks.queue_size", int64(h.QueueSize), 1, MaxHookQueueSize)
}

// cidrList checks an address list: CIDRs or bare addresses.
func cidrList(key, v string) error {
	for _, e := range SplitList(v) {
		var err error
		if strings.Contains(e, "/") {
			_, err = netip.ParsePrefix(e)
		} else {
			_, err = netip.ParseAddr(e)
		}
		if err != nil {
			return fmt.Errorf("config: %s: %q is not an IP address or CIDR prefix", key, e)
		}
	}
	return nil
}

func hookURL(key, v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("config: %s: %q is not an http:// or https:// URL", key, v)
	}
	return nil
}

func hookTimeout(key string, d time.Duration) error {
	if d <= 0 || d > MaxHookTimeout {
		return fmt.Errorf("config: %s: %s out of range (0, %s]", key, d, MaxHookTimeout)
	}
	return nil
}
