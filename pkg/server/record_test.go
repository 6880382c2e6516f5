package server

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/api"
	"github.com/ripplemedia/ripple/pkg/auth"
	"github.com/ripplemedia/ripple/pkg/config"
)

// A template the recorder cannot map back to a stream is a config error
// naming its key, found before anything listens.
func TestRecordPathChecked(t *testing.T) {
	cfg := testConfig(t)
	cfg.Record.Path = "rec/{stream}/{time}.{ext}"
	_, err := New(cfg, nil)
	require.ErrorContains(t, err, "config: record.path: ")
	require.ErrorContains(t, err, "{app}")

	cfg = testConfig(t)
	cfg.Apps = map[string]config.App{"live": {Record: config.AppRecord{Path: "rec/{app}-{stream}/{time}.{ext}"}}}
	_, err = New(cfg, nil)
	require.ErrorContains(t, err, "config: apps.live.record.path: ")
}

// The wiring: a stream recorded by the API is listed, served under
// /recordings/ with Range requests behind the stream's play auth (as is
// its thumbnail route), and counted by the metrics.
func TestRecordingsServed(t *testing.T) {
	cfg := testConfig(t)
	cfg.Record.Path = filepath.Join(t.TempDir(), "{app}", "{stream}", "{time}.{ext}")
	cfg.Auth.PlaySecret = "k"
	r := start(t, cfg)
	pub, gen, err := publish(t, r, "live", "cam")
	require.NoError(t, err)
	defer pub.Close()

	resp, err := http.Post(r.url("/api/v1/streams/live/cam/record"), "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	// A few more GOPs: the recorder starts at a keyframe and writes whole
	// fragments.
	for _, p := range gen.Packets(200) {
		require.NoError(t, pub.WritePacket(p))
	}
	var list []api.Recording
	require.Eventually(t, func() bool {
		resp, err := http.Get(r.url("/api/v1/recordings?app=live&stream=cam"))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		list = nil
		return json.NewDecoder(resp.Body).Decode(&list) == nil && len(list) == 1 && list[0].SizeBytes > 1000
	}, waitTimeout, 20*time.Millisecond, "the recording is listed with bytes in it")
	rec := list[0]
	require.True(t, rec.InProgress)
	require.Equal(t, "fmp4", rec.Format)
	require.Equal(t, "/recordings/"+rec.Name, rec.URL)

	get := func(path, rng string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, r.url(path), nil)
		require.NoError(t, err)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		return resp
	}
	resp = get(rec.URL, "bytes=0-7")
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "play auth: no signature")
	resp = get("/live/cam.jpg", "")
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "the thumbnail too")

	signed := rec.URL + "?" + auth.SignQuery("k", "live", "cam", time.Now().Add(time.Hour))
	resp = get(signed, "bytes=0-7")
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, "video/mp4", resp.Header.Get("Content-Type"))
	require.Equal(t, "ftyp", string(body[4:8]), "an MP4 file starts with ftyp")

	resp = get("/metrics", "")
	m, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(m), "ripple_recordings_active 1")
	require.Contains(t, string(m), "ripple_recording_bytes_total")

	req, err := http.NewRequest(http.MethodDelete, r.url("/api/v1/streams/live/cam/record"), nil)
	require.NoError(t, err)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}
