package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/auth"
	"github.com/ripplemedia/ripple/pkg/config"
)

func TestClientIP(t *testing.T) {
	trusted, err := auth.ParseIPList(config.SplitList("10.0.0.0/8, 127.0.0.1, 2001:db8::/32"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string // "" = RemoteAddr unchanged
	}{
		{"untrusted_peer_ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, ""},
		{"trusted_peer_no_header", "10.0.0.2:5000", nil, ""},
		{"one_hop", "10.0.0.2:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"right_most_untrusted", "10.0.0.2:5000", []string{"6.6.6.6, 198.51.100.1, 10.1.1.1"}, "198.51.100.1"},
		{"spoofed_left_part_ignored", "127.0.0.1:80", []string{"1.1.1.1", "198.51.100.7"}, "198.51.100.7"},
		{"all_trusted_left_most", "10.0.0.2:5000", []string{"10.9.9.9, 10.1.1.1"}, "10.9.9.9"},
		{"ipv6_and_port", "[2001:db8::1]:443", []string{"[2001:db8::5]:1234, 2001:db8:ffff::1", "[2606:4700::1]:3333"}, "2606:4700::1"},
		{"ipv4_mapped", "[::ffff:10.0.0.2]:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"garbage_beyond_client_unused", "10.0.0.2:5000", []string{"not-an-ip, 198.51.100.1"}, "198.51.100.1"},
		{"garbage_to_believe", "10.0.0.2:5000", []string{"198.51.100.1, unknown"}, ""},
		{"empty_entries", "10.0.0.2:5000", []string{" , 198.51.100.1 ,"}, "198.51.100.1"},
		{"only_empty", "10.0.0.2:5000", []string{" , "}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a authPart
			a.trusted.Store(&trusted)
			var seen string
			h := a.realIP(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr }))
			r := httptest.NewRequest(http.MethodGet, "/live/cam.flv", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			want := tc.want
			if want == "" {
				want = tc.peer
			}
			require.Equal(t, want, seen)
		})
	}
	t.Run("no_trusted_proxies", func(t *testing.T) {
		var a authPart
		a.trusted.Store(&auth.IPList{})
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "127.0.0.1:1"
		r.Header.Set("X-Forwarded-For", "198.51.100.1")
		var seen string
		a.realIP(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr })).ServeHTTP(httptest.NewRecorder(), r)
		require.Equal(t, "127.0.0.1:1", seen)
	})
}

// TestAdmit: the one admission check refuses long queries before any rule,
// applies per-app rules to nested keys for every protocol, and remembers
// admitted HLS viewers (only when an on_play hook would be asked) in a
// bounded cache keyed by a hash.
func TestAdmit(t *testing.T) {
	hooked := make(chan string, 64)
	hook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		hooked <- r.URL.Path
	}))
	defer hook.Close()
	cfg := testConfig(t)
	cfg.Apps = map[string]config.App{"live": {Auth: config.AppAuth{PlaySecret: "k"}}}
	cfg.Auth.Hooks.OnPlay.URL = hook.URL + "/on_play"
	r := start(t, cfg)
	ctx := context.Background()

	long := access.Request{Action: access.Play, Protocol: access.ProtoHTTPFLV, Key: "live/cam",
		Query: strings.Repeat("q", access.MaxQuery+1), RemoteAddr: "192.0.2.1:5000"}
	var tooLong *access.QueryTooLongError
	require.ErrorAs(t, r.auth.admit(ctx, long), &tooLong)
	require.Empty(t, hooked, "a long query never reaches a hook")

	for _, proto := range []string{access.ProtoRTMP, access.ProtoHTTPFLV, access.ProtoWSFLV, access.ProtoHLS} {
		req := access.Request{Action: access.Play, Protocol: proto, Key: "live/x/cam", RemoteAddr: "192.0.2.1:5000"}
		require.ErrorIs(t, r.auth.admit(ctx, req), auth.ErrUnauthorized, "%s: nested key under apps.live", proto)
		req.Query = auth.SignQuery("k", "live/x", "cam", time.Now().Add(time.Hour))
		require.NoError(t, r.auth.admit(ctx, req), proto)
		<-hooked
	}

	// HLS: the second request of the same viewer is answered from the
	// cache; another query (or address) asks again.
	req := access.Request{Action: access.Play, Protocol: access.ProtoHLS, Key: "live/cam",
		Query: auth.SignQuery("k", "live", "cam", time.Now().Add(time.Hour)), RemoteAddr: "192.0.2.7:1000"}
	require.NoError(t, r.auth.admit(ctx, req))
	<-hooked
	req.RemoteAddr = "192.0.2.7:2000" // same client, another port
	require.NoError(t, r.auth.admit(ctx, req))
	require.Empty(t, hooked, "cached")
	req.RemoteAddr = "192.0.2.8:1000"
	require.NoError(t, r.auth.admit(ctx, req))
	<-hooked
	require.Equal(t, 3, r.auth.hls.len()) // the signed nested-key HLS play above, and these two
}

func TestHLSCacheBounded(t *testing.T) {
	var c hlsAuthCache
	for i := range hlsAuthMaxSize + 10 {
		c.put(hlsCacheKey("192.0.2.1", "live/cam", strconv.Itoa(i)))
	}
	require.Equal(t, hlsAuthMaxSize, c.len())
	require.True(t, c.ok(hlsCacheKey("192.0.2.1", "live/cam", "0")))
	require.False(t, c.ok(hlsCacheKey("192.0.2.1", "live/cam", strconv.Itoa(hlsAuthMaxSize+5))), "not remembered beyond the cap")
	// The key is injective over its parts: no query can pose as another
	// address or stream.
	require.NotEqual(t, hlsCacheKey("1", "2", "3"), hlsCacheKey("12", "", "3"))
}

// TestRequestLimits: 414 for a long query on any path, 400 for a body on
// GET/HEAD/OPTIONS, bodies capped elsewhere.
func TestRequestLimits(t *testing.T) {
	var l limitsPart
	l.log = slog.New(slog.DiscardHandler)
	var body int64
	h := l.requests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		body = n
		if err != nil {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		}
	}))
	for _, tc := range []struct {
		name, method, target string
		body                 string
		status               int
	}{
		{"ok", http.MethodGet, "/live/cam.flv?token=x", "", http.StatusOK},
		{"long_query", http.MethodGet, "/live/cam.m3u8?" + strings.Repeat("a", access.MaxQuery+1), "", http.StatusRequestURITooLong},
		{"long_query_api", http.MethodDelete, "/api/v1/clients/1?" + strings.Repeat("a", access.MaxQuery+1), "", http.StatusRequestURITooLong},
		{"get_with_body", http.MethodGet, "/", "x", http.StatusBadRequest},
		{"head_with_body", http.MethodHead, "/live/cam.flv", "x", http.StatusBadRequest},
		{"post_body_ok", http.MethodPost, "/api/v1/x", "abc", http.StatusOK},
		{"post_body_too_big", http.MethodPost, "/api/v1/x", strings.Repeat("b", maxBody+1), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rd io.Reader
			if tc.body != "" {
				rd = strings.NewReader(tc.body)
			}
			req := httptest.NewRequest(tc.method, tc.target, rd)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, tc.status, rec.Code)
			if tc.name == "post_body_ok" {
				require.EqualValues(t, 3, body)
			}
		})
	}
}

// TestAuthReload: SIGHUP's Reload swaps the auth rules and the trusted
// proxies in place; a broken list changes nothing.
func TestAuthReload(t *testing.T) {
	cfg := testConfig(t)
	r := start(t, cfg)
	req := auth.Request{App: "live", Stream: "cam", RemoteIP: "192.0.2.1:5000", Protocol: "rtmp"}
	require.NoError(t, r.Checker().CheckPlay(context.Background(), req))

	next := cfg
	next.Auth.PlayDeny = "192.0.2.0/24"
	next.HTTP.TrustedProxies = "127.0.0.1"
	res, err := r.Reload(next)
	require.NoError(t, err)
	require.Contains(t, res.Applied, "auth")
	require.ErrorIs(t, r.Checker().CheckPlay(context.Background(), req), auth.ErrForbidden)
	require.Equal(t, 1, r.auth.trusted.Load().Len())

	next.Apps = map[string]config.App{"live": {Auth: config.AppAuth{PlaySecret: "k"}}}
	_, err = r.Reload(next)
	require.NoError(t, err)
	err = r.Checker().CheckPlay(context.Background(), auth.Request{App: "live", Stream: "cam", RemoteIP: "10.0.0.1:1"})
	require.ErrorIs(t, err, auth.ErrUnauthorized, "the app's play secret applies")
}
