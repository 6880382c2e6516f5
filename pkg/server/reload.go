package server

import (
	"errors"
	"fmt"
	"github.com/ripplemedia/ripple/pkg/access"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// A reloadPart is a component that can take a new configuration while
// running (SIGHUP), without dropping anyone: it swaps what it reads per
// request or per connection (an atomic.Pointer, a locked field), so
// clients already admitted keep going and the next ones see the new rules.
type reloadPart struct {
	name string
	// keys are the config keys the part owns, as key patterns: "auth" owns
	// auth and everything below it; "apps.*.publish_policy" owns that field
	// of every app ("*" stands for an app name, which may hold dots), and
	// then also an app being added or removed ("apps.NAME").
	keys []string
	// apply takes the whole new, validated configuration. It must be
	// idempotent, and all-or-nothing: on error the part keeps its old
	// settings (validate first, then swap).
	apply func(cfg config.Config) error
	// always: applied on every reload, changed keys or not (certificates:
	// a renewal rewrites the files, not the configuration).
	always bool
}

// reloader is the Server's SIGHUP state.
type reloader struct {
	mu    sync.Mutex
	boot  config.Config // what Run started with: listeners, sizes, timeouts
	cur   config.Config // what the reloadable parts last applied
	parts []reloadPart

	policy atomic.Pointer[policyTable] // hub publish policies, per app
}

// OnReload registers a reloadable part: on Reload, when a key matching one
// of keys changed, apply gets the new configuration (see reloadPart). Parts
// are applied in registration order. Call it before Run; cmd/ripple uses it
// for log.level, pkg/server files for their components.
func (s *Server) OnReload(name string, keys []string, apply func(cfg config.Config) error) {
	s.reload.mu.Lock()
	defer s.reload.mu.Unlock()
	s.reload.parts = append(s.reload.parts, reloadPart{name: name, keys: keys, apply: apply})
}

// ReloadResult says what a Reload did.
type ReloadResult struct {
	Changed []string // every key that differs from the running configuration
	Applied []string // parts that took the new configuration
	// Restart lists changed keys no part can apply while running: they take
	// effect at the next start (listen addresses, chunk size, queue sizes…).
	// Keys changed by an earlier reload and still pending are included.
	Restart []string
}

// Reload applies the parts of cfg that can change while running and logs
// one line: what changed, which parts applied it, and which keys need a
// restart. cfg must come from config.Load (it is validated again here; an
// invalid one changes nothing). On a part's error the parts applied before
// it keep the new settings and the error names them and the part; nothing
// is logged (the caller logs the error); the running
// configuration is not advanced, so the next reload applies everything
// again (parts are idempotent).
func (s *Server) Reload(cfg config.Config) (ReloadResult, error) {
	if err := cfg.Validate(); err != nil {
		return ReloadResult{}, err
	}
	if s.Draining() {
		return ReloadResult{}, errors.New("server: reload: shutting down")
	}
	r := &s.reload
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := config.Diff(r.cur, cfg)
	parts, _ := classify(r.parts, withAppFields(changed, r.cur, cfg), appChanges(r.cur, cfg))
	parts = withAlways(r.parts, parts)
	_, restart := classify(r.parts, withAppFields(config.Diff(r.boot, cfg), r.boot, cfg), appChanges(r.boot, cfg))
	res := ReloadResult{Changed: changed, Restart: restart}
	for _, p := range parts {
		if err := p.apply(cfg); err != nil {
			what := p.name
			if len(res.Applied) > 0 {
				what += " (after " + strings.Join(res.Applied, ", ") + " applied)"
			}
			return res, fmt.Errorf("server: reload %s: %w", what, err)
		}
		res.Applied = append(res.Applied, p.name)
	}
	r.cur = cfg
	s.log.Info("config reloaded", "changed", orNone(changed), "applied", orNone(res.Applied),
		"restart_required", orNone(restart))
	return res, nil
}

// onEveryReload registers a part like OnReload whose apply also runs on
// every reload in which none of its keys changed.
func (s *Server) onEveryReload(name string, keys []string, apply func(cfg config.Config) error) {
	s.reload.mu.Lock()
	defer s.reload.mu.Unlock()
	s.reload.parts = append(s.reload.parts, reloadPart{name: name, keys: keys, apply: apply, always: true})
}

// withAlways returns the parts of all (in registration order) that are in
// owners or always apply.
func withAlways(all, owners []reloadPart) []reloadPart {
	var out []reloadPart
	for _, p := range all {
		if p.always || slices.ContainsFunc(owners, func(o reloadPart) bool { return o.name == p.name }) {
			out = append(out, p)
		}
	}
	return out
}

// Draining reports whether shutdown has begun.
func (s *Server) Draining() bool { return s.ops.draining.Load() }

// classify returns the parts owning at least one of keys (in registration
// order) and the keys no part owns. wholeApps are the keys of apps added or
// removed ("apps.NAME"): every part with an "apps.*…" pattern owns them, as
// an app appearing or going away changes each of its fields at once. (An
// app name may contain dots, so the key alone cannot say whether
// "apps.a.b" is an app or a field.)
func classify(parts []reloadPart, keys []string, wholeApps map[string]bool) (owners []reloadPart, rest []string) {
	hit := make([]bool, len(parts))
	for _, k := range keys {
		owned := false
		for i, p := range parts {
			if slices.ContainsFunc(p.keys, func(pat string) bool {
				if wholeApps[k] {
					return strings.HasPrefix(pat, appsPrefix+"*")
				}
				return keyMatch(pat, k)
			}) {
				hit[i], owned = true, true
			}
		}
		if !owned {
			rest = append(rest, k)
		}
	}
	for i, p := range parts {
		if hit[i] {
			owners = append(owners, p)
		}
	}
	return owners, rest
}

const appsPrefix = "apps."

// keyMatch reports whether the dotted key is owned by pattern: equal, or
// below it ("auth" owns "auth.secret"); in a pattern, "*" stands for any
// non-empty name, dots included ("apps.*.publish_policy").
func keyMatch(pattern, key string) bool {
	before, after, wild := strings.Cut(pattern, "*")
	if !wild {
		return key == pattern || strings.HasPrefix(key, pattern+".")
	}
	name, ok := strings.CutPrefix(key, before)
	if !ok {
		return false
	}
	if after == "" {
		return name != ""
	}
	if i := strings.LastIndex(name, after); i > 0 {
		rest := name[i+len(after):]
		return rest == "" || strings.HasPrefix(rest, ".")
	}
	return false
}

// withAppFields adds, for every app added or removed between a and b, the
// keys of its fields that are set ("apps.NAME.forward"): an app appearing
// with a forward list must be classified like that forward list changing,
// so a key no part can apply is reported as needing a restart.
func withAppFields(keys []string, a, b config.Config) []string {
	out := slices.Clone(keys)
	for key := range appChanges(a, b) {
		name := strings.TrimPrefix(key, appsPrefix)
		app, ok := b.Apps[name]
		if !ok {
			app = a.Apps[name]
		}
		empty := config.Config{Apps: map[string]config.App{name: {}}}
		set := config.Config{Apps: map[string]config.App{name: app}}
		out = append(out, config.Diff(empty, set)...)
	}
	return out
}

// appChanges returns the keys "apps.NAME" of the apps added or removed
// between a and b.
func appChanges(a, b config.Config) map[string]bool {
	out := make(map[string]bool)
	for name := range a.Apps {
		if _, ok := b.Apps[name]; !ok {
			out[appsPrefix+name] = true
		}
	}
	for name := range b.Apps {
		if _, ok := a.Apps[name]; !ok {
			out[appsPrefix+name] = true
		}
	}
	return out
}

func orNone(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// policyTable is the hub's per-app publish policy, swapped as a whole on
// reload: a publish reads one pointer and one map.
type policyTable struct {
	def   hub.PublishPolicy
	byApp map[string]hub.PublishPolicy
}

// newPolicyTable resolves every app's policy of cfg (validated) once.
func newPolicyTable(cfg config.Config) *policyTable {
	t := &policyTable{def: toPolicy(cfg.Hub.PublishPolicy), byApp: make(map[string]hub.PublishPolicy, len(cfg.Apps))}
	for app := range cfg.Apps {
		t.byApp[app] = toPolicy(cfg.PublishPolicyFor(app))
	}
	return t
}

// lookup answers for a key's directory, which the hub passes ("live/x"
// for live/x/cam1): the policy of the longest configured app it lies under
// (access.MatchApp), as for auth, else the global one.
func (t *policyTable) lookup(dir string) hub.PublishPolicy {
	if p, ok := t.byApp[dir]; ok {
		return p
	}
	if app, ok := access.MatchApp(dir+"/", t.has); ok {
		return t.byApp[app]
	}
	return t.def
}

func (t *policyTable) has(app string) bool {
	_, ok := t.byApp[app]
	return ok
}

// publishPolicy is hub.Config.Policy: the current table's answer.
func (r *reloader) publishPolicy(dir string) hub.PublishPolicy {
	return r.policy.Load().lookup(dir)
}

// setPolicy builds the table of cfg (validated) and swaps it in. Publishers
// already live keep their stream; the policy decides the next publish.
func (r *reloader) setPolicy(cfg config.Config) error {
	r.policy.Store(newPolicyTable(cfg))
	return nil
}

// initReload records the boot configuration and registers the parts
// pkg/server itself can reload. Called by New before the hub is built.
func (s *Server) initReload(cfg config.Config) {
	s.reload.boot, s.reload.cur = cfg, cfg
	_ = s.reload.setPolicy(cfg) // cannot fail on a validated config
	s.OnReload("publish_policy", []string{"hub.publish_policy", "apps.*.publish_policy"}, s.reload.setPolicy)
}
