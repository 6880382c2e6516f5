package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/api"
)

// TestRestreamTargets wires the per-stream targets end to end in-process:
// the on_publish hook's answer names one, the API adds another; both push
// to a second server, show redacted with their source, and the API's one
// is removed again.
func TestRestreamTargets(t *testing.T) {
	dest := start(t, testConfig(t))
	destURL := "rtmp://" + dest.RTMPAddr().String() + "/live/"
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"forward": [%q]}`, destURL+"hooked-secret")
	}))
	defer hook.Close()
	cfg := testConfig(t)
	cfg.Auth.Hooks.OnPublish.URL = hook.URL
	origin := start(t, cfg)
	pub, gen, err := publish(t, origin, "live", "cam")
	require.NoError(t, err)
	defer pub.Close()
	live := func(key string) func() bool {
		return func() bool { _, ok := dest.hub.Stream(key); return ok }
	}
	require.Eventually(t, live("live/hooked-secret"), waitTimeout, 10*time.Millisecond, "the hook's target")

	body, err := json.Marshal(api.TargetRequest{URL: destURL + "api-secret"})
	require.NoError(t, err)
	resp, err := http.Post(origin.url("/api/v1/streams/live/cam/forwards"), "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	var added api.Relay
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&added))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, "api", added.Source)
	require.Equal(t, destURL+"****", added.Target, "the key is redacted")
	for _, p := range gen.Packets(50) {
		require.NoError(t, pub.WritePacket(p))
	}
	require.Eventually(t, live("live/api-secret"), waitTimeout, 10*time.Millisecond, "the API's target")

	var list []api.Relay
	resp, err = http.Get(origin.url("/api/v1/streams/live/cam/forwards"))
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	resp.Body.Close()
	require.Len(t, list, 2)
	sources := map[string]string{}
	for _, r := range list {
		sources[r.Source] = r.Target
		require.NotContains(t, r.Target, "secret")
	}
	require.Equal(t, map[string]string{"hook": destURL + "****", "api": destURL + "****"}, sources)

	req, err := http.NewRequest(http.MethodDelete, origin.url(fmt.Sprintf("/api/v1/streams/live/cam/forwards/%d", added.ID)), nil)
	require.NoError(t, err)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Eventually(t, func() bool { return !live("live/api-secret")() }, waitTimeout, 10*time.Millisecond,
		"a removed target ends its stream downstream")
	require.True(t, live("live/hooked-secret")(), "the other target goes on")
	require.NotContains(t, origin.logs.String(), "secret", "no stream key in the logs")
}
