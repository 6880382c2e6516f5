package bench

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadProc(t *testing.T) {
	self, err := ReadProc([]int{0})
	require.NoError(t, err)
	require.Positive(t, self.RSS)
	byPID, err := ReadProc([]int{os.Getpid()})
	require.NoError(t, err)
	require.InDelta(t, float64(self.RSS), float64(byPID.RSS), float64(64<<20)) // same process, moments apart
	both, err := ReadProc([]int{0, os.Getpid()})
	require.NoError(t, err)
	require.Greater(t, both.RSS, self.RSS/2*3) // summed
	_, err = ReadProc([]int{1 << 30})
	require.Error(t, err)
	busy, total := MachineCPU()
	require.Positive(t, total)
	require.LessOrEqual(t, busy, total)
	require.GreaterOrEqual(t, LoadAvg(), 0.0)
}

func TestProtocol(t *testing.T) {
	for u, want := range map[string]string{
		"rtmp://127.0.0.1/live/a":             "rtmp",
		"http://127.0.0.1:8080/live/a.flv":    "httpflv",
		"https://example.test/live/a.flv?t=1": "httpflv",
		"ws://127.0.0.1:8080/live/a.flv":      "wsflv",
		"wss://example.test/live/a.flv":       "wsflv",
		"http://127.0.0.1:8080/live/a.m3u8":   "hls",
	} {
		got, err := Protocol(u)
		require.NoError(t, err, u)
		require.Equal(t, want, got, u)
	}
	_, err := Protocol("srt://127.0.0.1/a")
	require.ErrorContains(t, err, `url scheme "srt"`)
}
