package server

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPprofOnItsOwnListener(t *testing.T) {
	cfg := testConfig(t)
	cfg.Debug.PprofListen = "127.0.0.1:0"
	r := start(t, cfg)
	addr := r.pprof.addr()
	require.NotNil(t, addr)

	resp, err := http.Get("http://" + addr.String() + "/debug/pprof/goroutine?debug=1")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), "goroutine profile:")

	// Never on the public port.
	resp, err = http.Get("http://" + r.HTTPAddr().String() + "/debug/pprof/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	_, err = r.stop(t)
	require.NoError(t, err)
	_, err = http.Get("http://" + addr.String() + "/debug/pprof/")
	require.Error(t, err, "the profiler stops with the server")
}

func TestPprofOffByDefault(t *testing.T) {
	r := start(t, testConfig(t))
	require.Nil(t, r.pprof.addr())
}

func TestPprofListenErrorNamesKey(t *testing.T) {
	cfg := testConfig(t)
	cfg.Debug.PprofListen = "nope"
	_, err := New(cfg, nil)
	require.ErrorContains(t, err, `config: debug.pprof_listen: "nope" is not host:port`)
}
