package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTranscodeFromFile(t *testing.T) {
	clearEnv(t)
	path := writeFile(t, `apps:
  live:
    transcode:
      - {name: 720p, video: "-c:v libx264 -b:v 2500k -vf scale=-2:720 -g 60", audio: "-c:a aac -b:a 128k"}
      - name: 360p
        video: "-c:v libx264 -b:v 800k -vf scale=-2:360"
        audio: copy
    transcode_on: demand
`)
	cfg, err := Load(path, nil)
	require.NoError(t, err)
	a := cfg.Apps["live"]
	require.Equal(t, TranscodeOnDemand, a.TranscodeOn)
	require.Equal(t, []TranscodeRung{
		{Name: "720p", Video: "-c:v libx264 -b:v 2500k -vf scale=-2:720 -g 60", Audio: "-c:a aac -b:a 128k"},
		{Name: "360p", Video: "-c:v libx264 -b:v 800k -vf scale=-2:360", Audio: "copy"},
	}, a.Transcode)
}

func TestTranscodeErrors(t *testing.T) {
	cases := []struct{ name, file, err string }{
		{"unknown rung key", "apps:\n  live:\n    transcode:\n      - {name: a, video: x, audio: copy, bitrate: 1}\n",
			"apps.live.transcode[0].bitrate: unknown key"},
		{"not a list", "apps:\n  live:\n    transcode: {name: a}\n", "apps.live.transcode: expected a list"},
		{"bad name", "apps:\n  live:\n    transcode:\n      - {name: 'a b', video: '-c:v libx264', audio: copy}\n",
			`config: apps.live.transcode[0].name: "a b" must be 1-32 letters`},
		{"duplicate", "apps:\n  live:\n    transcode:\n      - {name: a, video: '-c:v libx264', audio: copy}\n      - {name: a, video: '-c:v libx264', audio: copy}\n",
			`config: apps.live.transcode[1].name: "a" twice`},
		{"input", "apps:\n  live:\n    transcode:\n      - {name: a, video: '-i /etc/passwd', audio: copy}\n",
			`config: apps.live.transcode[0].video: "-i" is Ripple's to set`},
		{"url", "apps:\n  live:\n    transcode:\n      - {name: a, video: '-c:v libx264 http://x/y', audio: copy}\n",
			`config: apps.live.transcode[0].video: "http://x/y": no URLs or paths`},
		{"empty audio", "apps:\n  live:\n    transcode:\n      - {name: a, video: '-c:v libx264'}\n",
			"config: apps.live.transcode[0].audio: empty"},
		{"mode", "apps:\n  live:\n    transcode_on: sometimes\n", `"sometimes" is not one of publish, demand`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			_, err := Load(writeFile(t, tc.file), nil)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.err)
		})
	}
}
