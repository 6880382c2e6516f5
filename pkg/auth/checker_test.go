package auth

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newChecker(t *testing.T, r Rules, now time.Time) *Checker {
	t.Helper()
	c, err := New(Config{Rules: r, Now: func() time.Time { return now }})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Shutdown(context.Background())) })
	return c
}

func TestCheckerRules(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	rules := Rules{
		Publish: ActionRules{Secret: "gpub", Deny: []string{"203.0.113.0/24"}},
		Play:    ActionRules{Allow: []string{"10.0.0.0/8", "192.0.2.0/24"}},
		Apps: map[string]AppRules{
			"live": {
				Publish: ActionRules{Secret: "livepub", Deny: []string{"10.9.0.0/16"}},
				Play:    ActionRules{Secret: "liveplay", Allow: []string{"192.0.2.0/24"}, Deny: []string{"192.0.2.66"}},
			},
			"open": {}, // inherits everything
		},
	}
	c := newChecker(t, rules, now)
	exp := now.Add(time.Minute)
	req := func(app, stream, query, ip string) Request {
		return Request{App: app, Stream: stream, Query: query, RemoteIP: ip, Protocol: "rtmp"}
	}
	for _, tc := range []struct {
		name    string
		play    bool
		req     Request
		wantErr error
	}{
		{"publish_app_secret", false, req("live", "a", SignQuery("livepub", "live", "a", exp), "10.1.1.1:4000"), nil},
		{"publish_global_secret_refused_in_app", false, req("live", "a", SignQuery("gpub", "live", "a", exp), "10.1.1.1:4000"), ErrUnauthorized},
		{"publish_play_secret_refused", false, req("live", "a", SignQuery("liveplay", "live", "a", exp), "10.1.1.1:4000"), ErrUnauthorized},
		{"publish_unsigned", false, req("live", "a", "", "10.1.1.1:4000"), ErrUnauthorized},
		{"publish_app_deny", false, req("live", "a", SignQuery("livepub", "live", "a", exp), "10.9.3.4:4000"), ErrForbidden},
		{"publish_global_deny_applies_to_app", false, req("live", "a", SignQuery("livepub", "live", "a", exp), "203.0.113.5:1"), ErrForbidden},
		{"publish_inherited_secret", false, req("open", "x", SignQuery("gpub", "open", "x", exp), "10.1.1.1:4000"), nil},
		{"publish_other_app_global", false, req("other", "x", SignQuery("gpub", "other", "x", exp), "10.1.1.1:4000"), nil},
		{"play_app_signed_allowed_ip", true, req("live", "a", SignQuery("liveplay", "live", "a", exp), "192.0.2.10:5"), nil},
		{"play_app_allow_replaces_global", true, req("live", "a", SignQuery("liveplay", "live", "a", exp), "10.1.1.1:5"), ErrForbidden},
		{"play_deny_wins_over_allow", true, req("live", "a", SignQuery("liveplay", "live", "a", exp), "192.0.2.66:5"), ErrForbidden},
		{"play_app_unsigned", true, req("live", "a", "", "192.0.2.10:5"), ErrUnauthorized},
		{"play_global_no_secret", true, req("other", "x", "", "10.1.1.1:5"), nil},
		{"play_global_allow", true, req("other", "x", "", "172.16.0.1:5"), ErrForbidden},
		{"play_unparseable_addr_with_allow", true, req("other", "x", "", "pipe"), ErrForbidden},
		// Keys nested under an app get the app's rules, not the global
		// ones: rtmp://h/live/x/cam1 must not escape apps.live.auth.
		{"publish_nested_key_unsigned", false, req("live/x", "a", "", "10.1.1.1:4000"), ErrUnauthorized},
		{"publish_nested_key_global_secret", false, req("live/x", "a", SignQuery("gpub", "live/x", "a", exp), "10.1.1.1:4000"), ErrUnauthorized},
		{"publish_nested_key_app_secret", false, req("live/x", "a", SignQuery("livepub", "live/x", "a", exp), "10.1.1.1:4000"), nil},
		{"play_nested_key_deep", true, req("live/x/y", "a", "", "192.0.2.10:5"), ErrUnauthorized},
		{"play_prefix_is_not_app", true, req("livex", "a", "", "10.1.1.1:5"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.play {
				err = c.CheckPlay(context.Background(), tc.req)
			} else {
				err = c.CheckPublish(context.Background(), tc.req)
			}
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			require.NotEmpty(t, Reason(err))
		})
	}

	t.Run("reload", func(t *testing.T) {
		r := req("other", "x", "", "172.16.0.1:5")
		require.ErrorIs(t, c.CheckPlay(context.Background(), r), ErrForbidden)
		require.NoError(t, c.Reload(Rules{}))
		require.NoError(t, c.CheckPlay(context.Background(), r))
		require.NoError(t, c.CheckPublish(context.Background(), req("live", "a", "", "1.2.3.4:5")))
		// A broken reload keeps the old rules.
		require.Error(t, c.Reload(Rules{Play: ActionRules{Deny: []string{"bogus"}}}))
		require.NoError(t, c.CheckPlay(context.Background(), r))
	})
}

func TestNewRejectsBadRules(t *testing.T) {
	for _, r := range []Rules{
		{Publish: ActionRules{Allow: []string{"10.0.0.0/40"}}},
		{Apps: map[string]AppRules{"live": {Play: ActionRules{Deny: []string{"x"}}}}},
		{Retries: -1},
	} {
		_, err := New(Config{Rules: r})
		require.Error(t, err)
	}
}

// hookServer answers hook POSTs with status after delay (none when zero)
// and hands every decoded body to got.
func hookServer(t *testing.T, status int, delay time.Duration, body string) (*httptest.Server, chan hookBody) {
	t.Helper()
	got := make(chan hookBody, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b hookBody
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || r.Method != http.MethodPost ||
			r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		got <- b
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// downURL is an address where nothing listens.
func downURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr + "/hook"
}

func TestSyncHooks(t *testing.T) {
	type server struct {
		status int
		delay  time.Duration
		body   string
		down   bool
	}
	accept := server{status: 200, body: "0"}
	reject := server{status: 403, body: "banned user\nsecond line"}
	rejectEmpty := server{status: 500}
	slow := server{status: 200, delay: 5 * time.Second}
	down := server{down: true}
	for _, tc := range []struct {
		name       string
		srv        server
		failOpen   bool
		wantErr    bool
		wantReason string
	}{
		{"accept_closed", accept, false, false, ""},
		{"accept_open", accept, true, false, ""},
		{"reject_closed", reject, false, true, "rejected by on_publish hook: banned user"},
		{"reject_open", reject, true, true, "rejected by on_publish hook: banned user"},
		{"reject_500_open", rejectEmpty, true, true, "rejected by on_publish hook: HTTP 500"},
		{"timeout_closed", slow, false, true, "on_publish hook unavailable"},
		{"timeout_open", slow, true, false, ""},
		{"down_closed", down, false, true, "on_publish hook unavailable"},
		{"down_open", down, true, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := ""
			var got chan hookBody
			if tc.srv.down {
				url = downURL(t)
			} else {
				var srv *httptest.Server
				srv, got = hookServer(t, tc.srv.status, tc.srv.delay, tc.srv.body)
				url = srv.URL
			}
			c := newChecker(t, Rules{
				ServerID:  "edge-1",
				OnPublish: Hook{URL: url, Timeout: 200 * time.Millisecond, FailOpen: tc.failOpen},
			}, time.Now())
			req := Request{App: "live", Stream: "cam", Query: "user=7", ClientID: "42",
				RemoteIP: "192.0.2.1:6000", Protocol: "rtmp"}
			start := time.Now()
			err := c.CheckPublish(context.Background(), req)
			require.Less(t, time.Since(start), 3*time.Second, "the hook timeout must bound the check")
			if tc.wantErr {
				require.ErrorIs(t, err, ErrForbidden)
				require.Equal(t, tc.wantReason, Reason(err))
			} else {
				require.NoError(t, err)
			}
			if got != nil {
				select {
				case b := <-got:
					require.Equal(t, hookBody{Action: ActionPublish, App: "live", Stream: "cam", ClientID: "42",
						IP: "192.0.2.1", Query: "user=7", Protocol: "rtmp", ServerID: "edge-1"}, b)
				case <-time.After(5 * time.Second):
					t.Fatal("hook not called")
				}
			}
		})
	}

	t.Run("play_hook_only_for_play", func(t *testing.T) {
		srv, got := hookServer(t, 403, 0, "")
		c := newChecker(t, Rules{OnPlay: Hook{URL: srv.URL}}, time.Now())
		req := Request{App: "live", Stream: "cam", RemoteIP: "192.0.2.1:6000", Protocol: "http-flv"}
		require.NoError(t, c.CheckPublish(context.Background(), req))
		require.ErrorIs(t, c.CheckPlay(context.Background(), req), ErrForbidden)
		b := <-got
		require.Equal(t, ActionPlay, b.Action)
		require.Equal(t, "http-flv", b.Protocol)
	})

	t.Run("signature_checked_before_hook", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
		defer srv.Close()
		c := newChecker(t, Rules{Publish: ActionRules{Secret: "k"}, OnPublish: Hook{URL: srv.URL}}, time.Now())
		require.ErrorIs(t, c.CheckPublish(context.Background(), Request{App: "live", Stream: "x"}), ErrUnauthorized)
		require.Zero(t, calls.Load())
	})

	t.Run("client_gone", func(t *testing.T) {
		srv, _ := hookServer(t, 200, 5*time.Second, "")
		c := newChecker(t, Rules{OnPlay: Hook{URL: srv.URL, Timeout: 10 * time.Second, FailOpen: true}}, time.Now())
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := c.CheckPlay(ctx, Request{App: "live", Stream: "x"})
		require.ErrorIs(t, err, context.Canceled, "a cancelled check must not fail open")
	})
}

// TestSessionsBounded: the admitted-session map never holds more than
// maxSessionBytes, whatever clients put in their queries.
func TestSessionsBounded(t *testing.T) {
	var s sessions
	query := strings.Repeat("q", 4096)
	n := 2*maxSessionBytes/(len(query)+sessionOverhead) + 10
	for i := range n {
		s.admit(idxPlay, Request{App: "live", Stream: "s", Query: query, RemoteIP: "10.0.0.1:" + strconv.Itoa(i), Protocol: "hls"})
	}
	require.LessOrEqual(t, s.bytes, maxSessionBytes)
	require.Less(t, len(s.m), n, "entries beyond the budget are not remembered")
	total := 0
	for k, v := range s.m {
		total += sessionSize(k, v)
	}
	require.Equal(t, total, s.bytes, "the byte count matches the entries")

	// Releasing gives the budget back; re-admitting a key replaces it.
	r := Request{App: "live", Stream: "s", Query: query, RemoteIP: "10.0.0.1:0", Protocol: "hls"}
	_, ok := s.release(idxPlay, r)
	require.True(t, ok)
	s.admit(idxPlay, r)
	s.admit(idxPlay, r)
	total = 0
	for k, v := range s.m {
		total += sessionSize(k, v)
	}
	require.Equal(t, total, s.bytes)
}

func TestPlayRestricted(t *testing.T) {
	c := newChecker(t, Rules{Apps: map[string]AppRules{"live": {Play: ActionRules{Secret: "k"}}}}, time.Now())
	require.True(t, c.PlayRestricted("live/cam"))
	require.True(t, c.PlayRestricted("live/x/cam"), "nested keys are under the app")
	require.False(t, c.PlayRestricted("open/cam"))
	require.NoError(t, c.Reload(Rules{Play: ActionRules{Deny: []string{"10.0.0.0/8"}}}))
	require.True(t, c.PlayRestricted("open/cam"))
	require.NoError(t, c.Reload(Rules{OnPlay: Hook{URL: "http://127.0.0.1:1/on_play"}}))
	require.True(t, c.PlayRestricted("open/cam"))
	require.NoError(t, c.Reload(Rules{Publish: ActionRules{Secret: "p"}}))
	require.False(t, c.PlayRestricted("open/cam"), "publish rules do not restrict plays")
}
