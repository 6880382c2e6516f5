package auth

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
)

// ActionRules are the rules for one action (publish or play).
type ActionRules struct {
	// Secret, when set, requires a signed URL (see SignQuery). In an app's
	// rules "" inherits the global secret.
	Secret string
	// Allow, when not empty, admits only these CIDRs. An app's non-empty
	// Allow replaces the global one.
	Allow []string
	// Deny refuses these CIDRs. Global and app lists add up; deny wins over
	// allow.
	Deny []string
}

// AppRules override the global rules for one app.
type AppRules struct {
	Publish, Play ActionRules
}

// Rules is everything Reload can change.
type Rules struct {
	Publish, Play ActionRules
	Apps          map[string]AppRules

	// ServerID is sent as "server_id" in hook bodies (omitted when "").
	ServerID string

	OnPublish, OnPlay   Hook
	OnUnpublish, OnStop AsyncHook
	// OnRecordDone is told about each finished recording file.
	OnRecordDone AsyncHook
	// Retries is how many times an asynchronous hook is retried after the
	// first attempt; RetryBackoff the first wait, doubled each time.
	Retries      int
	RetryBackoff time.Duration
}

const (
	idxPublish = 0
	idxPlay    = 1
)

// policy is one action's rules for one app, resolved.
type policy struct {
	secret      string
	allow, deny IPList
}

// compiled is an immutable, validated Rules; Reload swaps it atomically.
type compiled struct {
	rules  Rules
	global [2]policy
	apps   map[string][2]policy
	track  bool // an async hook is set: remember admitted sessions
}

func compile(r Rules) (*compiled, error) {
	c := &compiled{rules: r, apps: make(map[string][2]policy, len(r.Apps))}
	var err error
	for i, ar := range []ActionRules{r.Publish, r.Play} {
		if c.global[i], err = resolve(ar, nil, actionName(i), ""); err != nil {
			return nil, err
		}
	}
	for app, a := range r.Apps {
		var pp [2]policy
		for i, ar := range []ActionRules{a.Publish, a.Play} {
			g := c.global[i]
			if pp[i], err = resolve(ar, &g, actionName(i), app); err != nil {
				return nil, err
			}
		}
		c.apps[app] = pp
	}
	if c.rules.Retries < 0 {
		return nil, fmt.Errorf("auth: retries %d must be >= 0", c.rules.Retries)
	}
	if c.rules.RetryBackoff <= 0 {
		c.rules.RetryBackoff = DefaultRetryBackoff
	}
	c.track = r.OnUnpublish.URL != "" || r.OnStop.URL != ""
	return c, nil
}

// resolve turns ar into a policy; parent is the global policy it inherits
// from (nil for the global one itself).
func resolve(ar ActionRules, parent *policy, action, app string) (policy, error) {
	where := action
	if app != "" {
		where = fmt.Sprintf("app %q %s", app, action)
	}
	allow, err := ParseIPList(ar.Allow)
	if err != nil {
		return policy{}, fmt.Errorf("%s allow: %w", where, err)
	}
	deny, err := ParseIPList(ar.Deny)
	if err != nil {
		return policy{}, fmt.Errorf("%s deny: %w", where, err)
	}
	p := policy{secret: ar.Secret, allow: allow, deny: deny}
	if parent != nil {
		if p.secret == "" {
			p.secret = parent.secret
		}
		if p.allow.Empty() {
			p.allow = parent.allow
		}
		p.deny = IPList{prefixes: append(append([]netip.Prefix(nil), parent.deny.prefixes...), deny.prefixes...)}
	}
	return p, nil
}

func actionName(i int) string {
	if i == idxPublish {
		return "publish"
	}
	return "play"
}

// policy returns the rules for a stream key: those of the configured app
// the key lies under (the longest one: "live/x/cam1" is under "live" unless
// "live/x" is configured too; see access.MatchApp), else the global ones.
// Matching the app by the key's whole directory would let a client escape
// apps.live.auth by publishing to rtmp://host/live/x/cam1.
func (c *compiled) policy(key string, idx int) policy {
	if len(c.apps) > 0 {
		app, ok := access.MatchApp(key, func(a string) bool { _, ok := c.apps[a]; return ok })
		if ok {
			return c.apps[app][idx]
		}
	}
	return c.global[idx]
}
