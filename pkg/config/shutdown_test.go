package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestShutdownKeys(t *testing.T) {
	def, err := Default()
	require.NoError(t, err)
	require.Equal(t, time.Duration(0), def.ShutdownDelay, "drain at once unless asked")

	cases := []struct {
		yaml  string
		delay time.Duration
		err   string
	}{
		{"shutdown_delay: 5s\n", 5 * time.Second, ""},
		{"shutdown_delay: 0s\n", 0, ""},
		{"shutdown_delay: -1s\n", 0, "config: shutdown_delay: -1s must be >= 0"},
		{"shutdown_timeout: 0s\n", 0, "config: shutdown_timeout: 0s must be > 0"},
	}
	for _, tc := range cases {
		t.Run(tc.yaml, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ripple.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tc.yaml), 0o600))
			cfg, err := load(path, nil, false)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.delay, cfg.ShutdownDelay)
		})
	}
}
