package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func wantRecordDefaults() Record {
	return Record{Format: RecordFMP4, Path: "recordings/{app}/{stream}/{time}.{ext}", SegmentDuration: time.Hour}
}

func wantThumbnailDefaults() Thumbnail {
	return Thumbnail{Enabled: true, FFmpeg: "ffmpeg", Interval: 5 * time.Second, MaxConcurrent: 2, Timeout: 5 * time.Second}
}

func TestValidateRecord(t *testing.T) {
	yes := true
	hour2 := 2 * time.Hour
	cases := []struct {
		name string
		edit func(c *Config)
		err  string
	}{
		{name: "defaults", edit: func(*Config) {}},
		{name: "flv", edit: func(c *Config) { c.Record.Format = RecordFLV; c.Record.Enabled = true }},
		{name: "format unset", edit: func(c *Config) { c.Record.Format = 0 },
			err: `config: record.format: "" is not one of fmp4, flv`},
		{name: "path without stream", edit: func(c *Config) { c.Record.Path = "rec/{app}/{time}.{ext}" },
			err: `config: record.path: "rec/{app}/{time}.{ext}" lacks {stream}: every stream would write the same files`},
		{name: "path without time", edit: func(c *Config) { c.Record.Path = "rec/{stream}.flv" },
			err: `config: record.path: "rec/{stream}.flv" lacks {time}: every file of a stream would have the same name`},
		{name: "path unknown placeholder", edit: func(c *Config) { c.Record.Path = "{host}/{stream}/{time}.{ext}" },
			err: `config: record.path: "{host}/{stream}/{time}.{ext}": unknown placeholder {host} (want {app}, {stream}, {time}, {date}, {ext})`},
		{name: "path unclosed", edit: func(c *Config) { c.Record.Path = "{stream}/{time}.{ext" },
			err: `config: record.path: "{stream}/{time}.{ext": unclosed {`},
		{name: "path dotdot", edit: func(c *Config) { c.Record.Path = "../{stream}/{time}.{ext}" },
			err: `config: record.path: "../{stream}/{time}.{ext}": ".." is not allowed`},
		{name: "absolute path", edit: func(c *Config) { c.Record.Path = "/var/rec/{date}/{app}/{stream}-{time}.{ext}" }},
		{name: "segment too short", edit: func(c *Config) { c.Record.SegmentDuration = time.Millisecond },
			err: "config: record.segment_duration: 1ms out of range [1s, 168h0m0s]"},
		{name: "delete_after negative", edit: func(c *Config) { c.Record.DeleteAfter = -time.Second },
			err: "config: record.delete_after: -1s must be >= 0"},
		{name: "max_bytes negative", edit: func(c *Config) { c.Record.MaxBytes = -1 },
			err: "config: record.max_bytes: -1 must be >= 0"},
		{name: "app override", edit: func(c *Config) {
			c.Apps = map[string]App{"live": {Record: AppRecord{Enabled: &yes, Format: RecordFLV, SegmentDuration: &hour2}}}
		}},
		{name: "app override checked", edit: func(c *Config) {
			c.Apps = map[string]App{"live": {Record: AppRecord{Path: "x/{time}"}}}
		}, err: `config: apps.live.record.path: "x/{time}" lacks {stream}: every stream would write the same files`},
		{name: "thumbnail interval", edit: func(c *Config) { c.Thumbnail.Interval = 0 },
			err: "config: thumbnail.interval: 0s must be > 0"},
		{name: "thumbnail concurrency", edit: func(c *Config) { c.Thumbnail.MaxConcurrent = 0 },
			err: "config: thumbnail.max_concurrent: 0 out of range [1, 64]"},
		{name: "thumbnail ffmpeg", edit: func(c *Config) { c.Thumbnail.FFmpeg = "" },
			err: "config: thumbnail.ffmpeg: empty (want a binary name or path, e.g. ffmpeg)"},
		{name: "thumbnail off without ffmpeg", edit: func(c *Config) { c.Thumbnail.FFmpeg = ""; c.Thumbnail.Enabled = false }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := wantDefaults()
			tc.edit(&c)
			err := c.Validate()
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.err)
		})
	}
}

func TestRecordFor(t *testing.T) {
	yes, no := true, false
	zero := time.Duration(0)
	mb := 5 * MiB
	c := wantDefaults()
	c.Record.Enabled = true
	c.Record.DeleteAfter = 24 * time.Hour
	c.Apps = map[string]App{
		"live":  {Record: AppRecord{Enabled: &no}},
		"event": {Record: AppRecord{Format: RecordFLV, DeleteAfter: &zero, MaxBytes: &mb, Path: "ev/{stream}/{time}.{ext}"}},
		"other": {Record: AppRecord{Enabled: &yes}},
	}
	require.Equal(t, c.Record, c.RecordFor("nope"), "no app section: the global settings")
	require.False(t, c.RecordFor("live").Enabled)
	ev := c.RecordFor("event")
	require.True(t, ev.Enabled, "inherited")
	require.Equal(t, RecordFLV, ev.Format)
	require.Zero(t, ev.DeleteAfter, "an explicit 0s overrides a global delete_after")
	require.Equal(t, mb, ev.MaxBytes)
	require.Equal(t, "ev/{stream}/{time}.{ext}", ev.Path)
	require.Equal(t, time.Hour, ev.SegmentDuration, "inherited")
}

// An app's record section is read from the file: a set key overrides the
// global one, including explicit zeros and false.
func TestLoadAppRecord(t *testing.T) {
	path := writeFile(t, `
record:
  enabled: true
  delete_after: 24h
apps:
  live:
    record:
      enabled: false
  event:
    record:
      format: flv
      delete_after: 0s
      max_bytes: 1GiB
      segment_duration: 10m
`)
	cfg, err := Load(path, nil)
	require.NoError(t, err)
	require.False(t, cfg.RecordFor("live").Enabled)
	ev := cfg.RecordFor("event")
	require.True(t, ev.Enabled)
	require.Equal(t, RecordFLV, ev.Format)
	require.Zero(t, ev.DeleteAfter)
	require.Equal(t, GiB, ev.MaxBytes)
	require.Equal(t, 10*time.Minute, ev.SegmentDuration)

	_, err = Load(writeFile(t, "apps:\n  live:\n    record:\n      format: mkv\n"), nil)
	require.ErrorContains(t, err, "apps.live.record.format")
	_, err = Load(writeFile(t, "apps:\n  live:\n    record:\n      delete_after: 5\n"), nil)
	require.ErrorContains(t, err, "apps.live.record.delete_after")
}
