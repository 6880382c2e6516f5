package server

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// TestReloadClassifies is the reload table: which changed keys reach which
// parts, and which need a restart.
func TestReloadClassifies(t *testing.T) {
	cases := []struct {
		name        string
		change      func(c *config.Config)
		applied     []string
		restart     []string
		wantChanged []string
	}{
		{"nothing", func(*config.Config) {}, nil, nil, nil},
		{"log level", func(c *config.Config) { c.Log.Level = config.LogDebug },
			[]string{"log"}, nil, []string{"log.level"}},
		{"global policy", func(c *config.Config) { c.Hub.PublishPolicy = config.PolicyTakeover },
			[]string{"publish_policy"}, nil, []string{"hub.publish_policy"}},
		{"app policy", func(c *config.Config) {
			c.Apps = map[string]config.App{"studio": {PublishPolicy: config.PolicyReject}}
		}, []string{"publish_policy"}, nil, []string{"apps.studio.publish_policy"}},
		{"app added", func(c *config.Config) {
			c.Apps = map[string]config.App{"studio": {PublishPolicy: config.PolicyTakeover}, "new.app": {}}
		}, []string{"publish_policy", "auth"}, nil, []string{"apps.new.app"}}, // a new app may bring auth rules
		{"listeners and sizes need a restart", func(c *config.Config) {
			c.RTMP.Listen = "127.0.0.1:1"
			c.RTMP.ChunkSize = 128
			c.Hub.QueueSize = 64
		}, nil, []string{"hub.queue_size", "rtmp.chunk_size", "rtmp.listen"},
			[]string{"hub.queue_size", "rtmp.chunk_size", "rtmp.listen"}},
		{"mixed", func(c *config.Config) {
			c.Log.Level = config.LogWarn
			c.Log.Format = config.LogJSON
			c.Hub.PublishPolicy = config.PolicyTakeover
		}, []string{"publish_policy", "log"}, []string{"log.format"},
			[]string{"hub.publish_policy", "log.format", "log.level"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Apps = map[string]config.App{"studio": {PublishPolicy: config.PolicyTakeover}}
			r := start(t, cfg)
			var levels []config.LogLevel
			r.OnReload("log", []string{"log.level"}, func(c config.Config) error {
				levels = append(levels, c.Log.Level)
				return nil
			})
			next := cfg
			next.Apps = map[string]config.App{"studio": cfg.Apps["studio"]}
			tc.change(&next)

			res, err := r.Reload(next)
			require.NoError(t, err)
			require.Equal(t, tc.wantChanged, res.Changed)
			require.Equal(t, tc.applied, res.Applied)
			require.Equal(t, tc.restart, res.Restart)
			if cfg.Log.Level != next.Log.Level {
				require.Equal(t, []config.LogLevel{next.Log.Level}, levels)
			} else {
				require.Empty(t, levels, "a part whose keys did not change is not called")
			}
			require.Contains(t, r.logs.String(), `msg="config reloaded"`)
		})
	}
}

// TestReloadAppliesPolicy: the reloaded publish policy decides the next
// publish while the live publisher keeps its stream.
func TestReloadAppliesPolicy(t *testing.T) {
	cfg := testConfig(t)
	r := start(t, cfg)
	first, _, err := publish(t, r, "live", "cam")
	require.NoError(t, err)
	defer first.Close()
	_, _, err = publish(t, r, "live", "cam")
	require.Error(t, err, "reject: the second publisher is refused")
	require.Equal(t, hub.PolicyReject, r.reload.publishPolicy("live"))

	next := cfg
	next.Hub.PublishPolicy = config.PolicyTakeover
	res, err := r.Reload(next)
	require.NoError(t, err)
	require.Equal(t, []string{"publish_policy"}, res.Applied)
	_, live := r.hub.Stream("live/cam")
	require.True(t, live, "reload does not touch the live publisher")

	second, _, err := publish(t, r, "live", "cam")
	require.NoError(t, err, "takeover after reload")
	defer second.Close()
}

// TestReloadKeepsOldConfigOnError: an invalid configuration or a failing
// part changes nothing that is reported as running; pending restarts stay
// listed until the process restarts.
func TestReloadKeepsOldConfigOnError(t *testing.T) {
	cfg := testConfig(t)
	r := start(t, cfg)
	calls := 0
	fail := true
	r.OnReload("hooks", []string{"log.level"}, func(config.Config) error {
		calls++
		if fail {
			return errors.New("hooks: url \"x\" is not absolute")
		}
		return nil
	})

	bad := cfg
	bad.RTMP.ChunkSize = 1
	_, err := r.Reload(bad)
	require.EqualError(t, err, "config: rtmp.chunk_size: 1 out of range [128, 65536]")
	require.Zero(t, calls)

	next := cfg
	next.Log.Level = config.LogDebug
	next.HTTP.Listen = "127.0.0.1:1"
	_, err = r.Reload(next)
	require.EqualError(t, err, `server: reload hooks: hooks: url "x" is not absolute`)
	require.Equal(t, 1, calls)

	// Not advanced: the same file again retries the failed part.
	fail = false
	res, err := r.Reload(next)
	require.NoError(t, err)
	require.Equal(t, 2, calls)
	require.Equal(t, []string{"hooks"}, res.Applied)
	require.Equal(t, []string{"http.listen"}, res.Restart)

	// Applied now: nothing changes, but the listener still needs a restart.
	res, err = r.Reload(next)
	require.NoError(t, err)
	require.Empty(t, res.Changed)
	require.Empty(t, res.Applied)
	require.Equal(t, []string{"http.listen"}, res.Restart)
	require.Equal(t, 2, calls)
}

func TestKeyMatch(t *testing.T) {
	cases := []struct {
		pattern, key string
		want         bool
	}{
		{"auth", "auth", true},
		{"auth", "auth.publish.secret", true},
		{"auth", "authz", false},
		{"log.level", "log.level", true},
		{"log.level", "log.format", false},
		{"apps.*.publish_policy", "apps.live.publish_policy", true},
		{"apps.*.publish_policy", "apps.my.app/x.publish_policy", true},
		{"apps.*.publish_policy", "apps.live.auth", false},
		{"apps.*.publish_policy", "apps.live", false}, // whole apps: see appChanges
		{"apps.*", "apps.live.anything", true},
		{"apps.*.auth", "apps.live.auth.secret", true},
		{"relay.*", "relay", false},
	}
	for _, tc := range cases {
		t.Run(tc.pattern+" "+tc.key, func(t *testing.T) {
			require.Equal(t, tc.want, keyMatch(tc.pattern, tc.key))
		})
	}
}

// TestClassifyNewApp: an app that appears is classified by the fields it
// sets: a part owning one of them applies it, a field no part owns needs a
// restart.
func TestClassifyNewApp(t *testing.T) {
	parts := []reloadPart{{name: "publish_policy", keys: []string{"hub.publish_policy", "apps.*.publish_policy"}}}
	var a, b config.Config
	b.Apps = map[string]config.App{"x.y": {
		PublishPolicy: config.PolicyTakeover,
		Auth:          config.AppAuth{PlaySecret: "s3cret"},
	}}
	for _, tc := range []struct {
		name     string
		from, to config.Config
	}{{"added", a, b}, {"removed", b, a}} {
		t.Run(tc.name, func(t *testing.T) {
			keys := withAppFields(config.Diff(tc.from, tc.to), tc.from, tc.to)
			owners, rest := classify(parts, keys, appChanges(tc.from, tc.to))
			require.Len(t, owners, 1)
			require.Equal(t, "publish_policy", owners[0].name)
			require.Equal(t, []string{"apps.x.y.auth.play_secret"}, rest)
		})
	}
}
