//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/auth"
	"github.com/ripplemedia/ripple/pkg/proxyproto"
)

// Auth settings of the ripple binary (pkg/config auth section).
const (
	envPublishSecret = "RIPPLE_AUTH_PUBLISH_SECRET"
	envPlaySecret    = "RIPPLE_AUTH_PLAY_SECRET"
	envPublishDeny   = "RIPPLE_AUTH_PUBLISH_DENY"
	envPlayDeny      = "RIPPLE_AUTH_PLAY_DENY"
	envOnPublishURL  = "RIPPLE_AUTH_HOOKS_ON_PUBLISH_URL"
	envOnPlayURL     = "RIPPLE_AUTH_HOOKS_ON_PLAY_URL"
	envOnPlayPolicy  = "RIPPLE_AUTH_HOOKS_ON_PLAY_POLICY"
	envOnPlayTimeout = "RIPPLE_AUTH_HOOKS_ON_PLAY_TIMEOUT"
	envOnUnpublish   = "RIPPLE_AUTH_HOOKS_ON_UNPUBLISH_URL"
	envOnStop        = "RIPPLE_AUTH_HOOKS_ON_STOP_URL"
	envProxyProtocol = "RIPPLE_RTMP_PROXY_PROTOCOL"
	envTrusted       = "RIPPLE_HTTP_TRUSTED_PROXIES"
)

const authTimeout = 30 * time.Second

// signed appends a signed query to key ("live/cam") for secret, valid for
// ttl (negative: already expired).
func signed(key, secret string, ttl time.Duration) string {
	app, stream := auth.SplitKey(key)
	return key + "?" + auth.SignQuery(secret, app, stream, time.Now().Add(ttl))
}

// flvSigned is the HTTP-FLV URL of key with a signed query.
func flvSigned(s *server, key, secret string, ttl time.Duration) string {
	return s.flvURL(key) + strings.TrimPrefix(signed(key, secret, ttl), key)
}

// ffmpegRun runs ffmpeg with args and returns its exit code and output.
func ffmpegRun(t *testing.T, name string, args ...string) (int, string) {
	t.Helper()
	p := startProc(t, name, ffmpegBin, append(append([]string{}, ffmpegBase...), args...), nil)
	code, err := p.exitCode(authTimeout)
	require.NoError(t, err, name)
	return code, p.out.String()
}

// ffmpegPlay reads 25 video packets of url (RTMP or HTTP-FLV) with ffmpeg (stream copy).
func ffmpegPlay(t *testing.T, url string) (int, string) {
	t.Helper()
	return ffmpegRun(t, "player "+url, "-i", url, "-frames:v", "25", "-c", "copy", "-f", "null", "-")
}

// httpStatus GETs url (with header "X-Forwarded-For" when xff is set) and
// returns the status and the first bytes of the body.
func httpStatus(t *testing.T, url, xff string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), authTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b := make([]byte, 512)
	n, _ := io.ReadAtLeast(resp.Body, b, 13) // an FLV header, or the error text
	return resp.StatusCode, string(b[:n])
}

// TestAuthSignedURLs: with publish and play secrets set, ffmpeg publishing
// without a token or with an expired one is refused with the server's
// reason (and exits non-zero), a signed publish streams; players over RTMP
// and HTTP-FLV need a play token (the publish secret does not do).
func TestAuthSignedURLs(t *testing.T) {
	t.Parallel()
	const (
		pubSecret  = "e2e-publish-secret"
		playSecret = "e2e-play-secret"
		key        = "live/signed"
	)
	clip := mediaPath(t, "h264_aac_gop2s.mp4")
	srv := startServer(t, envPublishSecret+"="+pubSecret, envPlaySecret+"="+playSecret)

	for _, tc := range []struct {
		name, url, reason string
	}{
		{"unsigned", srv.rtmpURL("live/nosig"), "signed URL required"},
		{"expired", srv.rtmpURL(signed("live/old", pubSecret, -time.Minute)), "token expired"},
		{"play_secret", srv.rtmpURL(signed("live/wrong", playSecret, time.Hour)), "invalid token"},
	} {
		t.Run("publish_"+tc.name+"_refused", func(t *testing.T) {
			code, out := ffmpegRun(t, "publisher "+tc.name, "-re", "-i", clip, "-c", "copy", "-f", "flv", tc.url)
			assert.NotZero(t, code, "ffmpeg must fail")
			// ffmpeg prints the onStatus description: "Server error: auth: unauthorized: ...".
			assert.Contains(t, out, "Server error")
			assert.Contains(t, out, tc.reason)
			_, err := srv.out.waitFor(10*time.Second, 0, func(s string) bool {
				return strings.Contains(s, `msg="conn closed"`) && strings.Contains(s, tc.reason)
			})
			require.NoError(t, err, "one close line names the refusal")
		})
	}

	pub := publishLoop(t, srv, signed(key, pubSecret, time.Hour), clip)
	srv.waitLive(t, key, pub)

	t.Run("rtmp_play", func(t *testing.T) {
		code, out := ffmpegPlay(t, srv.rtmpURL(signed(key, playSecret, time.Hour)))
		assert.Zero(t, code, "signed RTMP play: %s", out)
		for _, tc := range []struct{ name, url, reason string }{
			{"unsigned", srv.rtmpURL(key), "signed URL required"},
			{"expired", srv.rtmpURL(signed(key, playSecret, -time.Second)), "token expired"},
			{"publish_secret", srv.rtmpURL(signed(key, pubSecret, time.Hour)), "invalid token"},
		} {
			code, out := ffmpegPlay(t, tc.url)
			assert.NotZero(t, code, tc.name)
			assert.Contains(t, out, tc.reason, tc.name)
		}
	})

	t.Run("http_flv_play", func(t *testing.T) {
		status, body := httpStatus(t, flvSigned(srv, key, playSecret, time.Hour), "")
		assert.Equal(t, http.StatusOK, status)
		assert.True(t, strings.HasPrefix(body, "FLV"), "FLV header, got %q", body)
		// ffmpeg reads the signed HTTP-FLV URL too.
		code, out := ffmpegPlay(t, flvSigned(srv, key, playSecret, time.Hour))
		assert.Zero(t, code, "signed HTTP-FLV play with ffmpeg: %s", out)
		for _, tc := range []struct{ name, url, reason string }{
			{"unsigned", srv.flvURL(key), "signed URL required"},
			{"expired", flvSigned(srv, key, playSecret, -time.Second), "token expired"},
			{"publish_secret", flvSigned(srv, key, pubSecret, time.Hour), "invalid token"},
		} {
			status, body := httpStatus(t, tc.url, "")
			assert.Equal(t, http.StatusUnauthorized, status, tc.name)
			assert.Contains(t, body, tc.reason, tc.name)
		}
	})
	t.Run("hls", func(t *testing.T) {
		base := "http://" + srv.HTTPAddr + "/" + key + ".m3u8"
		status, body := httpStatus(t, base, "")
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Contains(t, body, "signed URL required")
		signedURL := base + strings.TrimPrefix(signed(key, playSecret, time.Hour), key)
		playlist := hlsPlaylist(t, signedURL)
		// hls.auth_scope all (the default): every URI of the playlist
		// carries the viewer's token, and nothing is served without it.
		seg := lastURI(playlist)
		require.NotEmpty(t, seg, "a segment in:\n%s", playlist)
		require.Contains(t, seg, "?", "the segment URI carries the token:\n%s", playlist)
		u, err := url.Parse(signedURL)
		require.NoError(t, err)
		segURL, err := u.Parse(seg)
		require.NoError(t, err)
		status, _ = httpStatus(t, segURL.String(), "")
		assert.Equal(t, http.StatusOK, status, "segment %s with its token", segURL)
		segURL.RawQuery = ""
		status, _ = httpStatus(t, segURL.String(), "")
		assert.Equal(t, http.StatusUnauthorized, status, "segment %s without a token", segURL)
		media := "http://" + srv.HTTPAddr + "/" + key + "/media.m3u8"
		status, _ = httpStatus(t, media, "")
		assert.Equal(t, http.StatusUnauthorized, status, "media playlist without a token")
		// ffmpeg plays the signed entry URL as it is.
		code, out := ffmpegPlay(t, signedURL)
		assert.Zero(t, code, "signed HLS play with ffmpeg: %s", out)
	})
	require.False(t, pub.exited(), "the signed publisher kept streaming: %v", pub.result())
}

// lastURI returns the last URI line of a playlist.
func lastURI(playlist string) string {
	var uri string
	for _, line := range strings.Split(playlist, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			uri = line
		}
	}
	return uri
}

// hlsPlaylist GETs a playlist URL until it answers 200 (the muxer needs a
// first segment: 503 until then) and returns the body.
func hlsPlaylist(t *testing.T, u string) string {
	t.Helper()
	deadline := time.Now().Add(authTimeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), authTimeout)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		require.NoError(t, err)
		if resp.StatusCode == http.StatusOK {
			require.True(t, strings.HasPrefix(string(b), "#EXTM3U"), "%s", b)
			return string(b)
		}
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "%s", b)
		require.True(t, time.Now().Before(deadline), "no playlist within %s", authTimeout)
		<-tick.C
	}
}

// hookRecorder is an HTTP hook endpoint: it records every body by action
// and refuses on_publish for streams named "banned".
type hookRecorder struct {
	srv    *httptest.Server
	bodies chan map[string]any
}

func newHookRecorder(t *testing.T) *hookRecorder {
	h := &hookRecorder{bodies: make(chan map[string]any, 64)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]any
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		h.bodies <- b
		if b["action"] == "on_publish" && b["stream"] == "banned" {
			http.Error(w, "stream key banned by the backend", http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// next returns the next body whose action is action (others are skipped).
func (h *hookRecorder) next(t *testing.T, action string) map[string]any {
	t.Helper()
	deadline := time.After(authTimeout)
	for {
		select {
		case b := <-h.bodies:
			if b["action"] == action {
				return b
			}
		case <-deadline:
			t.Fatalf("no %s hook call within %s", action, authTimeout)
		}
	}
}

// TestAuthHooks: on_publish refuses a stream key (ffmpeg prints the
// backend's text), on_unpublish and on_stop arrive when the publisher and a
// player leave, and an on_play hook that is down refuses plays when
// fail_closed.
func TestAuthHooks(t *testing.T) {
	t.Parallel()
	clip := mediaPath(t, "h264_aac_gop2s.mp4")
	hooks := newHookRecorder(t)
	down, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	downURL := "http://" + down.Addr().String() + "/on_play"
	require.NoError(t, down.Close())

	srv := startServer(t,
		envOnPublishURL+"="+hooks.srv.URL+"/on_publish",
		envOnUnpublish+"="+hooks.srv.URL+"/on_unpublish",
		envOnStop+"="+hooks.srv.URL+"/on_stop",
		envOnPlayURL+"="+downURL, envOnPlayPolicy+"=fail_closed", envOnPlayTimeout+"=1s",
	)

	t.Run("on_publish_refuses", func(t *testing.T) {
		code, out := ffmpegRun(t, "banned publisher", "-re", "-i", clip, "-c", "copy", "-f", "flv", srv.rtmpURL("live/banned?user=9"))
		assert.NotZero(t, code)
		assert.Contains(t, out, "stream key banned by the backend")
		b := hooks.next(t, "on_publish")
		assert.Equal(t, "live", b["app"])
		assert.Equal(t, "banned", b["stream"])
		assert.Equal(t, "user=9", b["query"])
		assert.Equal(t, "127.0.0.1", b["ip"])
		assert.Equal(t, "rtmp", b["protocol"])
		assert.NotEmpty(t, b["client_id"])
	})

	const key = "live/hooked"
	pub := publishLoop(t, srv, key+"?user=1", clip)
	srv.waitLive(t, key, pub)
	onPublish := hooks.next(t, "on_publish")
	assert.Equal(t, "hooked", onPublish["stream"])

	t.Run("on_play_down_fail_closed", func(t *testing.T) {
		status, body := httpStatus(t, srv.flvURL(key), "")
		assert.Equal(t, http.StatusForbidden, status)
		assert.Contains(t, body, "on_play hook unavailable")
		code, out := ffmpegPlay(t, srv.rtmpURL(key))
		assert.NotZero(t, code)
		assert.Contains(t, out, "on_play hook unavailable")
	})

	t.Run("on_unpublish", func(t *testing.T) {
		pub.kill() // the encoder dies: TCP close is an unpublish too
		b := hooks.next(t, "on_unpublish")
		assert.Equal(t, "hooked", b["stream"])
		assert.Equal(t, "user=1", b["query"])
		assert.Equal(t, onPublish["client_id"], b["client_id"], "same client id as on_publish")
	})
}

// TestAuthOnStop: an HTTP-FLV player admitted by on_play is reported by
// on_stop when it leaves, with the same client id and its query.
func TestAuthOnStop(t *testing.T) {
	t.Parallel()
	clip := mediaPath(t, "h264_aac_gop2s.mp4")
	hooks := newHookRecorder(t)
	srv := startServer(t, envOnPlayURL+"="+hooks.srv.URL+"/on_play", envOnStop+"="+hooks.srv.URL+"/on_stop")
	const key = "live/watched"
	pub := publishLoop(t, srv, key, clip)
	srv.waitLive(t, key, pub)

	status, body := httpStatus(t, srv.flvURL(key)+"?viewer=42", "") // reads a little, then closes
	require.Equal(t, http.StatusOK, status, body)
	play := hooks.next(t, "on_play")
	assert.Equal(t, "http-flv", play["protocol"])
	assert.Equal(t, "viewer=42", play["query"])
	stop := hooks.next(t, "on_stop")
	assert.Equal(t, "watched", stop["stream"])
	assert.Equal(t, "viewer=42", stop["query"])
	assert.Equal(t, play["client_id"], stop["client_id"])
}

// proxyFront is a tiny TCP load balancer in front of the RTMP port: it
// prefixes every connection it forwards with a PROXY header naming client
// as the source.
func proxyFront(t *testing.T, target string, v2 bool, client netip.AddrPort) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	dst := netip.MustParseAddrPort(target)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				hdr := proxyproto.AppendV1(nil, client, dst)
				if v2 {
					// With a TLV, as AWS NLB and HAProxy send.
					hdr = proxyproto.AppendV2(nil, client, dst, []byte{0x05, 0x00, 0x03, 'a', 'b', 'c'})
				}
				if _, err := up.Write(hdr); err != nil {
					return
				}
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(up, c); _ = up.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, up); _ = c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
				<-done
				<-done
			}()
		}
	}()
	return ln.Addr().String()
}

// TestRealClientAddress: with rtmp.proxy_protocol on, ffmpeg publishing
// through a PROXY v1 or v2 front shows up in the logs, the API and the IP
// lists with the address the header carried; a connection without a header
// is closed with one log line. Over HTTP, X-Forwarded-For from a trusted
// proxy (loopback here) sets the client address the deny list and the API
// see.
func TestRealClientAddress(t *testing.T) {
	t.Parallel()
	clip := mediaPath(t, "h264_aac_gop2s.mp4")
	srv := startServer(t, envProxyProtocol+"=true", envPublishDeny+"=198.51.100.0/24",
		envTrusted+"=127.0.0.1", envPlayDeny+"=192.0.2.66")

	for _, tc := range []struct {
		name   string
		v2     bool
		client netip.AddrPort
	}{
		{"v1", false, netip.MustParseAddrPort("203.0.113.7:40001")},
		{"v2_ipv6", true, netip.MustParseAddrPort("[2001:db8::7]:40002")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			front := proxyFront(t, srv.RTMPAddr, tc.v2, tc.client)
			key := "live/proxied_" + tc.name
			args := append(append([]string{}, ffmpegBase...), "-re", "-stream_loop", "-1", "-i", clip, "-c", "copy", "-f", "flv", "rtmp://"+front+"/"+key)
			pub := startProc(t, "publisher via proxy "+key, ffmpegBin, args, nil)
			srv.waitLive(t, key, pub)
			_, err := srv.out.waitFor(10*time.Second, 0, func(s string) bool {
				return strings.Contains(s, `msg="publish started"`) && strings.Contains(s, "remote="+tc.client.String()) &&
					strings.Contains(s, key)
			})
			require.NoError(t, err, "the publish log line names the proxied client")
			var st apiStream
			srv.apiGet(t, "/api/v1/streams/"+key, &st)
			require.NotNil(t, st.Publisher)
			assert.Equal(t, tc.client.String(), st.Publisher.RemoteAddr)
		})
	}

	t.Run("deny_list_sees_proxied_address", func(t *testing.T) {
		front := proxyFront(t, srv.RTMPAddr, true, netip.MustParseAddrPort("198.51.100.9:5000"))
		code, out := ffmpegRun(t, "denied publisher", "-re", "-i", clip, "-c", "copy", "-f", "flv", "rtmp://"+front+"/live/denied")
		assert.NotZero(t, code)
		assert.Contains(t, out, "address 198.51.100.9 is denied")
	})

	t.Run("no_header_closed", func(t *testing.T) {
		c, err := net.Dial("tcp", srv.RTMPAddr)
		require.NoError(t, err)
		defer c.Close()
		local := c.LocalAddr().String()
		_, err = c.Write(append([]byte{3}, make([]byte, 1536)...)) // a bare RTMP C0+C1
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(authTimeout)))
		_, err = io.Copy(io.Discard, c)
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server must close the connection")
		line, err := srv.out.waitFor(10*time.Second, 0, contains("remote="+local))
		require.NoError(t, err)
		assert.Contains(t, line, "bad proxy protocol header")
		assert.Len(t, srv.out.matching(0, contains("remote="+local)), 1, "one log line")
	})

	t.Run("x_forwarded_for", func(t *testing.T) {
		// A stream of its own: the v1 subtest's publisher and proxy end
		// with that subtest, and its stream outlives them only for the
		// reconnect grace, which the subtests in between can exceed on a
		// loaded machine.
		const key = "live/proxied_xff"
		front := proxyFront(t, srv.RTMPAddr, false, netip.MustParseAddrPort("203.0.113.8:40003"))
		args := append(append([]string{}, ffmpegBase...), "-re", "-stream_loop", "-1", "-i", clip, "-c", "copy", "-f", "flv", "rtmp://"+front+"/"+key)
		pub := startProc(t, "publisher via proxy "+key, ffmpegBin, args, nil)
		srv.waitLive(t, key, pub)

		status, body := httpStatus(t, srv.flvURL(key), "6.6.6.6, 192.0.2.66")
		assert.Equal(t, http.StatusForbidden, status, "the deny list sees the forwarded client")
		assert.Contains(t, body, "address 192.0.2.66 is denied")

		// A player behind the proxy shows up in the API with its own address.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.flvURL(key), nil)
		require.NoError(t, err)
		req.Header.Set("X-Forwarded-For", "192.0.2.10")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		pollAPI(t, srv, "/api/v1/clients", authTimeout, func(cs []apiClient) bool {
			for _, c := range cs {
				if c.Protocol == "http-flv" && c.RemoteAddr == "192.0.2.10" {
					return true
				}
			}
			return false
		})
	})
}
