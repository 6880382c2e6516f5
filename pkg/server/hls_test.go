package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/hls"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

func TestIsHLSPath(t *testing.T) {
	cases := []struct {
		path string
		want bool
	}{
		{"/live/cam.m3u8", true},
		{"/a/b/cam.m3u8", true},
		{"/live/cam/media.m3u8", true},
		{"/live/cam/abc-1.ts", true},
		{"/live/cam/abc-1.2.m4s", true},
		{"/live/cam/abc-init1.mp4", true},
		{"/cam.m3u8", false}, // no app: the page's 404
		{"/live/cam.flv", false},
		{"/", false},
		{"/app.js", false},
		{"/api/v1/streams", false},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, isHLSPath(tc.path), tc.path)
	}
}

func TestHLSConfigMapping(t *testing.T) {
	cfg := testConfig(t)
	cfg.HLS.Variant = config.HLSVariantLowLatency
	cfg.HTTP.AllowOrigin = "https://a.example"
	hc := hlsConfig(cfg, nil)
	require.Equal(t, hls.VariantLowLatency, hc.Variant)
	require.Equal(t, "https://a.example", hc.AllowOrigin, "inherits http.allow_origin")
	require.Equal(t, 2*time.Second, hc.SegmentDuration)
	require.Equal(t, 3, hc.SegmentKeep)

	cfg.HLS.AllowOrigin = "https://b.example"
	cfg.HLS.Variant = config.HLSVariantFMP4
	cfg.HLS.AuthScope = config.HLSAuthScopeEntry
	hc = hlsConfig(cfg, nil)
	require.Equal(t, hls.VariantFMP4, hc.Variant)
	require.Equal(t, hls.AuthScopeEntry, hc.AuthScope)
	require.Equal(t, "https://b.example", hc.AllowOrigin)
}

// TestHLSEnumMapping: every hls.variant and hls.auth_scope maps to the
// pkg/hls value of the same name.
func TestHLSEnumMapping(t *testing.T) {
	for _, v := range []config.HLSVariant{config.HLSVariantMPEGTS, config.HLSVariantFMP4, config.HLSVariantLowLatency} {
		require.Equal(t, v.String(), hlsVariant(v).String())
	}
	for _, s := range []config.HLSAuthScope{config.HLSAuthScopeAll, config.HLSAuthScopeEntry} {
		require.Equal(t, s.String(), hlsAuthScope(s).String())
	}
}

// TestHLSThroughServer publishes over RTMP and plays HLS through the real
// HTTP router: playlists and segments reach pkg/hls, the page and HTTP-FLV
// keep their paths, and hls.enabled: false turns it all off.
func TestHLSThroughServer(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		t.Run(map[bool]string{true: "enabled", false: "disabled"}[enabled], func(t *testing.T) {
			cfg := testConfig(t)
			cfg.HLS.Enabled = enabled
			r := start(t, cfg)

			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			c, err := rtmp.Dial(ctx, "rtmp://"+r.RTMPAddr().String()+"/live", rtmp.ClientConfig{})
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.Publish(ctx, "cam"))
			gen := mediatest.New(mediatest.Config{})
			for _, p := range gen.Headers() {
				require.NoError(t, c.WritePacket(p))
			}
			for _, p := range gen.Packets(600) { // about 8 s of media, sent at once
				require.NoError(t, c.WritePacket(p))
			}

			// The first playlist request waits (bounded) for a segment.
			resp, err := http.Get(r.url("/live/cam.m3u8"))
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			if !enabled {
				require.Equal(t, http.StatusNotFound, resp.StatusCode)
				return
			}
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "application/vnd.apple.mpegurl", resp.Header.Get("Content-Type"))
			var seg string
			for l := range strings.SplitSeq(string(body), "\n") {
				if strings.HasSuffix(l, ".ts") {
					seg = l
					break
				}
			}
			require.NotEmpty(t, seg, string(body))
			resp, err = http.Get(r.url("/live/" + seg))
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "video/mp2t", resp.Header.Get("Content-Type"))

			// Neighbours keep their routes.
			resp, err = http.Head(r.url("/live/cam.flv"))
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			resp, err = http.Get(r.url("/"))
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
		})
	}
}

// TestHLSViewersCounted: the API and the metrics report HLS players from
// the viewers' requests, not the muxer's hub reader.
func TestHLSViewersCounted(t *testing.T) {
	r := start(t, testConfig(t))
	pub, g, err := publish(t, r, "live", "cam")
	require.NoError(t, err)
	defer pub.Close()
	for _, p := range g.Packets(300) { // segments to serve
		require.NoError(t, pub.WritePacket(p))
	}
	playersOf := func() (int, map[string]int) {
		var s struct {
			Players           int            `json:"players"`
			PlayersByProtocol map[string]int `json:"players_by_protocol"`
		}
		status, body := get(t, r.url("/api/v1/streams/live/cam"), "")
		require.Equal(t, http.StatusOK, status, body)
		require.NoError(t, json.Unmarshal([]byte(body), &s))
		return s.Players, s.PlayersByProtocol
	}
	n, by := playersOf()
	require.Zero(t, n, "no viewer yet")
	require.Empty(t, by)

	for _, ua := range []string{"hls.js", "VLC"} {
		req, err := http.NewRequest(http.MethodGet, r.url("/live/cam.m3u8"), nil)
		require.NoError(t, err)
		req.Header.Set("User-Agent", ua)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	// The muxer's reader (it has served the playlists) is a client, not a
	// player.
	_, body := get(t, r.url("/api/v1/clients"), "")
	require.Contains(t, body, `"protocol":"hls"`)
	n, by = playersOf()
	require.Equal(t, 2, n)
	require.Equal(t, map[string]int{"hls": 2}, by)
	_, metrics := get(t, r.url("/metrics"), "")
	require.Contains(t, metrics, `ripple_stream_players{app="live",protocol="hls",stream="cam"} 2`)
	require.Contains(t, metrics, "ripple_players 2")
}
