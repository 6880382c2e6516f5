package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ripplemedia/ripple/pkg/auth"
	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/httpflv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/proxyproto"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// authPart wires pkg/auth and the real-client-address features into the
// server: the Checker behind RTMP, HTTP-FLV and HLS plays and publishes,
// hub events to the asynchronous hooks, the PROXY protocol listener and
// X-Forwarded-For from trusted proxies. auth.*, apps.*.auth and
// http.trusted_proxies reload on SIGHUP.
type authPart struct {
	chk     *auth.Checker
	log     *slog.Logger
	trusted atomic.Pointer[auth.IPList]
	httpIDs atomic.Uint64 // client ids of HTTP players ("http-N")
	hls     hlsAuthCache
	unwatch func()
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

// initAuth builds the Checker and registers its reload and shutdown steps.
// Call it before the RTMP and HTTP-FLV servers are built.
func (s *Server) initAuth(cfg config.Config) error {
	chk, err := auth.New(auth.Config{Logger: s.log, QueueSize: cfg.Auth.Hooks.QueueSize, Rules: authRules(cfg)})
	if err != nil {
		return err
	}
	s.auth.chk, s.auth.log = chk, s.log
	if err := s.auth.setTrusted(cfg); err != nil {
		chk.Close(context.Background())
		return err
	}
	s.OnReload("auth", []string{"auth", "apps.*.auth", "http.trusted_proxies"}, s.auth.reload)
	// After the hub closed: every on_unpublish/on_stop is queued by then;
	// deliver them within what is left of shutdown_timeout.
	s.onShutdown(stageAfterHub, "auth hooks", func(ctx context.Context) error {
		if s.auth.unwatch != nil {
			s.auth.unwatch()
		}
		chk.Close(ctx)
		return nil
	})
	return nil
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

// Checker is the server's auth checker, for components wired elsewhere
// (HLS): CheckPlay(ctx, auth.Request{...Protocol: "hls"}).
func (s *Server) Checker() *auth.Checker { return s.auth.chk }

// authorizeRTMP is rtmp.ServerConfig.Authorize. The client id is the
// connection id of the RTMP logs ("conn=N").
func (a *authPart) authorizeRTMP(ctx context.Context, r rtmp.AuthRequest) error {
	req := auth.Request{
		App: r.App, Stream: r.Stream, Query: r.Query, ClientID: "rtmp-" + strconv.FormatUint(r.ConnID, 10),
		RemoteIP: r.RemoteAddr, Protocol: "rtmp",
	}
	if r.Publish {
		return a.chk.CheckPublish(ctx, req)
	}
	return a.chk.CheckPlay(ctx, req)
}

// authorizeFLV is httpflv.Config.Authorize.
func (a *authPart) authorizeFLV(ctx context.Context, r httpflv.AuthRequest) error {
	return a.chk.CheckPlay(ctx, auth.Request{
		App: r.App, Stream: r.Stream, Query: r.Query, ClientID: "http-" + strconv.FormatUint(a.httpIDs.Add(1), 10),
		RemoteIP: r.RemoteAddr, Protocol: r.Protocol,
	})
}

// watch turns hub events into on_unpublish and on_stop. The callback only
// queues (auth's notify never blocks): hook HTTP never runs in it. Internal
// publishers and readers (relays, HLS segmenters) were never checked and are
// not reported.
func (a *authPart) watch(h *hub.Hub) {
	a.unwatch = h.Watch(func(e hub.Event) {
		switch e.Type {
		case hub.EventUnpublish:
			if e.Publisher.Protocol != "rtmp" {
				return
			}
			app, stream := auth.SplitKey(e.Key)
			a.chk.NotifyUnpublish(auth.Request{App: app, Stream: stream, Query: e.Publisher.Query,
				RemoteIP: e.Publisher.RemoteAddr, Protocol: e.Publisher.Protocol})
		case hub.EventReaderLeave:
			switch e.Reader.Protocol {
			case "rtmp", "http-flv", "ws-flv":
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
func proxyListener(cfg config.Config, log *slog.Logger, ln net.Listener) net.Listener {
	if !cfg.RTMP.ProxyProtocol {
		return ln
	}
	return proxyproto.NewListener(ln, proxyproto.Config{Logger: log, Timeout: cfg.RTMP.HandshakeTimeout})
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

// gateHLS checks plays of HLS: the entry playlist /{app...}/{stream}.m3u8
// must pass CheckPlay (signed URL, IP lists, on_play). Segments and the
// per-stream media playlists under /{app}/{stream}/ stay public so that
// their URLs are stable and CDN-cacheable. Players reload the playlist
// every segment, so an admitted (client, stream, query) is remembered for
// hlsAuthTTL instead of asking the on_play hook each time.
func (a *authPart) gateHLS(h hlsPart, next http.Handler) http.Handler {
	if h.m == nil {
		return next // no HLS: .m3u8 requests are not plays
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := hlsEntryKey(r.URL.Path)
		if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			next.ServeHTTP(w, r)
			return
		}
		if err := a.checkHLS(r, key); err != nil {
			if r.Context().Err() != nil {
				return
			}
			status := http.StatusForbidden
			var ae *auth.Error
			if errors.As(err, &ae) {
				status = ae.HTTPStatus()
			}
			a.log.Info("play refused", "proto", "hls", "remote", r.RemoteAddr, "stream", key, "status", status, "err", err)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(err.Error() + "\n")) // the client may be gone: nothing to do
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hlsEntryKey returns the stream key of an entry playlist request.
func hlsEntryKey(path string) (string, bool) {
	p, ok := strings.CutSuffix(strings.TrimPrefix(path, "/"), ".m3u8")
	if !ok || !strings.Contains(p, "/") || strings.HasSuffix(p, "/media") {
		return "", false
	}
	return p, hub.ValidKey(p)
}

const (
	hlsAuthTTL     = 30 * time.Second
	hlsAuthMaxSize = 100_000
)

func (a *authPart) checkHLS(r *http.Request, key string) error {
	ip := r.RemoteAddr
	if addr, ok := auth.ParseAddr(r.RemoteAddr); ok {
		ip = addr.String() // a player reconnects from other ports
	}
	q := stripHLSParams(r.URL.RawQuery)
	ck := ip + " " + key + "?" + q
	if a.hls.ok(ck) {
		return nil
	}
	app, stream := auth.SplitKey(key)
	err := a.chk.CheckPlay(r.Context(), auth.Request{App: app, Stream: stream, Query: q,
		RemoteIP: r.RemoteAddr, Protocol: "hls"})
	if err == nil {
		a.hls.put(ck)
	}
	return err
}

// stripHLSParams drops the LL-HLS delivery directives (_HLS_msn,
// _HLS_part, _HLS_skip), which change on every blocking reload.
func stripHLSParams(raw string) string {
	if !strings.Contains(raw, "_HLS_") {
		return raw
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return raw
	}
	for k := range q {
		if strings.HasPrefix(k, "_HLS_") {
			delete(q, k)
		}
	}
	return q.Encode()
}

// hlsAuthCache remembers admitted HLS plays until they expire.
type hlsAuthCache struct {
	mu sync.Mutex
	m  map[string]time.Time // key → expiry
}

func (c *hlsAuthCache) ok(k string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, found := c.m[k]
	return found && time.Now().Before(exp)
}

func (c *hlsAuthCache) put(k string) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]time.Time)
	}
	if len(c.m) >= hlsAuthMaxSize {
		for k, exp := range c.m {
			if now.After(exp) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= hlsAuthMaxSize {
			return // not remembered: the next reload asks again
		}
	}
	c.m[k] = now.Add(hlsAuthTTL)
}

// clear forgets every admission (after a reload, the new rules apply to the
// next playlist request).
func (c *hlsAuthCache) clear() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}
