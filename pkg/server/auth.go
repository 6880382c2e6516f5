package server

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/auth"
	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/proxyproto"
)

// authPart wires pkg/auth and the real-client-address features into the
// server: the Checker behind RTMP, HTTP-FLV and HLS plays and publishes,
// hub events to the asynchronous hooks, the PROXY protocol listener and
// X-Forwarded-For from trusted proxies. auth.*, apps.*.auth and
// http.trusted_proxies reload on SIGHUP.
type authPart struct {
	chk     *auth.Checker
	log     *slog.Logger
	hub     *hub.Hub // watched from Start on
	trusted atomic.Pointer[auth.IPList]
	httpIDs atomic.Uint64 // client ids of HTTP players ("http-N")
	hls     hlsAuthCache
	targets hookTargets // the on_publish answer's restream targets (forwards.go)
	unwatch func()      // set by Start
}

// authRules maps the auth section and every app's auth settings.
func authRules(cfg config.Config) auth.Rules {
	a := cfg.Auth
	rules := auth.Rules{
		Publish:  auth.ActionRules{Secret: a.PublishSecret, Allow: config.SplitList(a.PublishAllow), Deny: config.SplitList(a.PublishDeny)},
		Play:     auth.ActionRules{Secret: a.PlaySecret, Allow: config.SplitList(a.PlayAllow), Deny: config.SplitList(a.PlayDeny)},
		Apps:     make(map[string]auth.AppRules, len(cfg.Apps)),
		ServerID: a.Hooks.ServerID,
		OnPublish: auth.Hook{URL: a.Hooks.OnPublish.URL, Timeout: a.Hooks.OnPublish.Timeout,
			FailOpen: a.Hooks.OnPublish.Policy == config.HookFailOpen},
		OnPlay: auth.Hook{URL: a.Hooks.OnPlay.URL, Timeout: a.Hooks.OnPlay.Timeout,
			FailOpen: a.Hooks.OnPlay.Policy == config.HookFailOpen},
		OnUnpublish:  auth.AsyncHook{URL: a.Hooks.OnUnpublish.URL, Timeout: a.Hooks.OnUnpublish.Timeout},
		OnStop:       auth.AsyncHook{URL: a.Hooks.OnStop.URL, Timeout: a.Hooks.OnStop.Timeout},
		OnRecordDone: auth.AsyncHook{URL: a.Hooks.OnRecordDone.URL, Timeout: a.Hooks.OnRecordDone.Timeout},
		Retries:      a.Hooks.Retries,
		RetryBackoff: a.Hooks.RetryBackoff,
	}
	for name, app := range cfg.Apps {
		aa := app.Auth
		rules.Apps[name] = auth.AppRules{
			Publish: auth.ActionRules{Secret: aa.PublishSecret, Allow: config.SplitList(aa.PublishAllow), Deny: config.SplitList(aa.PublishDeny)},
			Play:    auth.ActionRules{Secret: aa.PlaySecret, Allow: config.SplitList(aa.PlayAllow), Deny: config.SplitList(aa.PlayDeny)},
		}
	}
	return rules
}

// initAuth builds the Checker and registers it and its reload step. Call
// it once the hub exists, before the RTMP and HTTP-FLV servers are built.
func (s *Server) initAuth(cfg config.Config) error {
	chk, err := auth.New(auth.Config{Logger: s.log, QueueSize: cfg.Auth.Hooks.QueueSize, Rules: authRules(cfg),
		Panics: &s.panics})
	if err != nil {
		return err
	}
	s.auth.chk, s.auth.log, s.auth.hub = chk, s.log, s.hub
	// After the hub closed: every on_unpublish/on_stop is queued by then;
	// Shutdown delivers them within what is left of shutdown_timeout.
	s.add(part{name: "auth hooks", stage: stageAfterHub, c: &s.auth})
	if err := s.auth.setTrusted(cfg); err != nil {
		return err
	}
	s.OnReload("auth", []string{"auth", "apps.*.auth", "http.trusted_proxies"}, s.auth.reload)
	return nil
}

// Start turns hub events into on_unpublish and on_stop (see watch).
func (a *authPart) Start() { a.watch(a.hub) }

// Shutdown stops watching the hub and delivers the queued notifications
// within ctx. Those still queued when ctx ends are counted as dropped, not
// reported: the hooks are best effort.
func (a *authPart) Shutdown(ctx context.Context) error {
	a.stopWatching()
	_ = a.chk.Shutdown(ctx)
	return nil
}

// Close stops watching the hub and drops the queued notifications.
func (a *authPart) Close() error {
	a.stopWatching()
	return a.chk.Close()
}

func (a *authPart) stopWatching() {
	if a.unwatch != nil {
		a.unwatch()
		a.unwatch = nil
	}
}

// reload takes the new auth rules and trusted proxies, all or nothing.
func (a *authPart) reload(cfg config.Config) error {
	trusted, err := auth.ParseIPList(config.SplitList(cfg.HTTP.TrustedProxies))
	if err != nil {
		return err
	}
	if err := a.chk.Reload(authRules(cfg)); err != nil {
		return err
	}
	a.trusted.Store(&trusted)
	a.hls.clear()
	return nil
}

func (a *authPart) setTrusted(cfg config.Config) error {
	trusted, err := auth.ParseIPList(config.SplitList(cfg.HTTP.TrustedProxies))
	if err != nil {
		return err
	}
	a.trusted.Store(&trusted)
	return nil
}

// Checker is the server's auth checker.
func (s *Server) Checker() *auth.Checker { return s.auth.chk }

// watch turns hub events into on_unpublish and on_stop. The callback only
// queues (auth's notify never blocks): hook HTTP never runs in it. Internal
// publishers and readers (relays, HLS segmenters) were never checked and are
// not reported.
func (a *authPart) watch(h *hub.Hub) {
	a.unwatch = h.Watch(func(e hub.Event) {
		switch e.Type {
		case hub.EventUnpublish:
			if e.Publisher.Protocol != access.ProtoRTMP || e.Publisher.Source != "" {
				return // internal, or a rendition: its source's publish was checked
			}
			app, stream := auth.SplitKey(e.Key)
			a.chk.NotifyUnpublish(auth.Request{App: app, Stream: stream, Query: e.Publisher.Query,
				RemoteIP: e.Publisher.RemoteAddr, Protocol: e.Publisher.Protocol})
		case hub.EventReaderLeave:
			switch e.Reader.Protocol {
			case access.ProtoRTMP, access.ProtoHTTPFLV, access.ProtoWSFLV:
			default:
				return
			}
			app, stream := auth.SplitKey(e.Key)
			a.chk.NotifyStop(auth.Request{App: app, Stream: stream, Query: e.Reader.Query,
				RemoteIP: e.Reader.RemoteAddr, Protocol: e.Reader.Protocol})
		}
	})
}

// proxyListener wraps the RTMP listener with the PROXY protocol when
// rtmp.proxy_protocol is on; the header must arrive within
// rtmp.handshake_timeout.
func proxyListener(cfg config.Config, log *slog.Logger, ln net.Listener, panics *guard.Recorder) net.Listener {
	if !cfg.RTMP.ProxyProtocol {
		return ln
	}
	return proxyproto.NewListener(proxyproto.Config{Logger: log, Timeout: cfg.RTMP.HandshakeTimeout, Panics: panics}, ln)
}

// realIP sets r.RemoteAddr to the client's address from X-Forwarded-For
// when the peer is a trusted proxy (http.trusted_proxies), before the FLV,
// HLS and API handlers see the request. The client is the right-most
// address not itself trusted: every proxy appends the peer it saw, so
// entries left of the first untrusted one may be forged by the client.
func (a *authPart) realIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if trusted := a.trusted.Load(); !trusted.Empty() {
			if ip, ok := clientIP(*trusted, r.RemoteAddr, r.Header.Values("X-Forwarded-For")); ok {
				r.RemoteAddr = ip
			}
		}
		next.ServeHTTP(w, r)
	})
}

// clientIP applies X-Forwarded-For (the header's values, in order) for a
// request from peer. ok is false when the peer is not trusted, the header is
// absent, or an entry that would have to be believed is not an address.
func clientIP(trusted auth.IPList, peer string, xff []string) (string, bool) {
	p, ok := auth.ParseAddr(peer)
	if !ok || !trusted.Contains(p) || len(xff) == 0 {
		return "", false
	}
	hops := strings.Split(strings.Join(xff, ","), ",")
	var client netip.Addr
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		a, ok := auth.ParseAddr(h)
		if !ok {
			return "", false
		}
		client = a
		if !trusted.Contains(a) {
			break
		}
	}
	if !client.IsValid() {
		return "", false
	}
	return client.String(), true
}

// admit is the one admission check (access.Func) that every protocol asks
// before a publish or a play: RTMP publish and play, HTTP-FLV GET and HEAD,
// WS-FLV, and every HLS object (pkg/hls decides which under
// hls.auth_scope). A query over access.MaxQuery is refused (414 over HTTP)
// before any rule or hook sees it. The rules are per app, where a key's app
// is the longest configured app it lies under (access.MatchApp), the same
// for every protocol.
func (a *authPart) admit(ctx context.Context, r access.Request) error {
	if err := access.CheckQuery(r.Query); err != nil {
		return err
	}
	app, stream := r.Split()
	req := auth.Request{App: app, Stream: stream, Query: r.Query, ClientID: r.ClientID,
		RemoteIP: r.RemoteAddr, Protocol: r.Protocol}
	switch {
	case r.Action == access.Publish:
		targets, err := a.chk.CheckPublishForward(ctx, req)
		if err == nil {
			a.targets.put(r.Key, r.RemoteAddr, targets) // forwards.go
		}
		return err
	case r.Protocol == access.ProtoHLS, r.Protocol == access.ProtoThumbnail, r.Protocol == access.ProtoRecord:
		// Requests that come again and again (a playlist per part, a
		// thumbnail per refresh, a Range per seek) share HLS's cache.
		return a.admitHLS(ctx, req)
	}
	if req.ClientID == "" {
		req.ClientID = "http-" + strconv.FormatUint(a.httpIDs.Add(1), 10)
	}
	return a.chk.CheckPlay(ctx, req)
}

// admitHLS checks an HLS request. A player reloads its playlist every
// segment (every part for LL-HLS) and fetches every segment, so when an
// on_play hook is configured an admitted (client address, stream, query) is
// remembered for hlsAuthTTL instead of asking the hook each time; signed
// URLs and IP lists are checked locally on every request.
func (a *authPart) admitHLS(ctx context.Context, req auth.Request) error {
	if !a.chk.HasPlayHook() {
		return a.chk.CheckPlay(ctx, req)
	}
	ip := req.RemoteIP
	if addr, ok := auth.ParseAddr(req.RemoteIP); ok {
		ip = addr.String() // a player reconnects from other ports
	}
	ck := hlsCacheKey(ip, req.Key(), req.Query)
	if a.hls.ok(ck) {
		return nil
	}
	err := a.chk.CheckPlay(ctx, req)
	if err == nil {
		a.hls.put(ck)
	}
	return err
}

// HLS admission cache bounds: entries are a fixed 16-byte hash and a
// deadline, so memory is bounded by the entry count whatever the clients'
// queries (about 6 MB at the cap).
const (
	hlsAuthTTL     = 30 * time.Second
	hlsAuthMaxSize = 100_000
)

type hlsKey [16]byte

// hlsCacheKey hashes what an admission depends on. SHA-256 (truncated):
// a client must not be able to craft a query that collides with another
// viewer's admitted one.
func hlsCacheKey(ip, key, query string) hlsKey {
	h := sha256.New()
	for _, s := range [...]string{ip, key, query} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var k hlsKey
	copy(k[:], h.Sum(nil))
	return k
}

// hlsAuthCache remembers admitted HLS plays until they expire.
type hlsAuthCache struct {
	mu sync.Mutex
	m  map[hlsKey]time.Time // key → expiry
}

func (c *hlsAuthCache) ok(k hlsKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, found := c.m[k]
	return found && time.Now().Before(exp)
}

func (c *hlsAuthCache) put(k hlsKey) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[hlsKey]time.Time)
	}
	if len(c.m) >= hlsAuthMaxSize {
		for k, exp := range c.m {
			if now.After(exp) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= hlsAuthMaxSize {
			return // not remembered: the next request asks again
		}
	}
	c.m[k] = now.Add(hlsAuthTTL)
}

// len returns the entries held (tests).
func (c *hlsAuthCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// clear forgets every admission (after a reload, the new rules apply to the
// next request).
func (c *hlsAuthCache) clear() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}
