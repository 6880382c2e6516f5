package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

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

func TestHLSEntryKey(t *testing.T) {
	for _, tc := range []struct {
		path, key string
		ok        bool
	}{
		{"/live/cam.m3u8", "live/cam", true},
		{"/a/b/c.m3u8", "a/b/c", true},
		{"/live/cam/media.m3u8", "", false},
		{"/live/cam/seg12.ts", "", false},
		{"/cam.m3u8", "", false},
		{"/live/../x.m3u8", "", false},
	} {
		key, ok := hlsEntryKey(tc.path)
		require.Equal(t, tc.ok, ok, tc.path)
		if ok {
			require.Equal(t, tc.key, key)
		}
	}
	require.Equal(t, "token=abc", stripHLSParams("_HLS_msn=4&token=abc&_HLS_part=1"))
	require.Equal(t, "token=abc&x=1", stripHLSParams("token=abc&x=1"))
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
