package guard

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunRecovers(t *testing.T) {
	var r Recorder
	err := r.Run("hls", func() error {
		var s []int
		_ = s[3] // index out of range
		return nil
	})
	pe, ok := AsPanic(err)
	require.True(t, ok)
	require.Equal(t, "hls", pe.Component)
	require.Contains(t, err.Error(), "index out of range")
	require.Contains(t, string(pe.Stack), "guard_test.go")
	require.Equal(t, []Count{{Component: "hls", Panics: 1}}, r.Counts())

	// Wrapped panic errors are still found.
	_, ok = AsPanic(fmt.Errorf("muxer: %w", err))
	require.True(t, ok)
}

func TestRunPassesErrors(t *testing.T) {
	var r Recorder
	want := errors.New("plain")
	require.ErrorIs(t, r.Run("rtmp", func() error { return want }), want)
	require.NoError(t, r.Run("rtmp", func() error { return nil }))
	require.Empty(t, r.Counts())
	_, ok := AsPanic(want)
	require.False(t, ok)
}

func TestNilRecorderRecovers(t *testing.T) {
	var r *Recorder
	err := r.Run("relay", func() error { panic("boom") })
	_, ok := AsPanic(err)
	require.True(t, ok)
	require.Nil(t, r.Counts())
}

func TestDoLogsOnce(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var r Recorder
	r.Do("hook", log, func() { panic("hook worker broke") })
	out := buf.String()
	require.Equal(t, 1, strings.Count(out, "panic recovered"), out)
	require.Contains(t, out, "level=ERROR")
	require.Contains(t, out, "component=hook")
	require.Contains(t, out, "hook worker broke")
	require.Contains(t, out, "stack=")
	require.Equal(t, []Count{{Component: "hook", Panics: 1}}, r.Counts())

	buf.Reset()
	r.Do("hook", log, func() {})
	require.Empty(t, buf.String())
}
