package config

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Record configures recording (record: and apps.NAME.record:).
type Record struct {
	Enabled bool         `mapstructure:"enabled"`
	Format  RecordFormat `mapstructure:"format"` // fmp4, flv
	// Path is the file name template: {app}, {stream}, {time} (UTC,
	// 20261207T153000Z), {date} (2026-12-07) and {ext}; relative to the
	// working directory.
	Path            string        `mapstructure:"path"`
	SegmentDuration time.Duration `mapstructure:"segment_duration"` // a new file at the first keyframe past it
	DeleteAfter     time.Duration `mapstructure:"delete_after"`     // 0: keep
	MaxBytes        ByteSize      `mapstructure:"max_bytes"`        // per stream; 0: unbounded
}

// AppRecord is apps.NAME.record: each key set overrides record's, each key
// left out inherits it.
type AppRecord struct {
	Enabled         *bool          `mapstructure:"enabled"`
	Format          RecordFormat   `mapstructure:"format"`
	Path            string         `mapstructure:"path"`
	SegmentDuration *time.Duration `mapstructure:"segment_duration"`
	DeleteAfter     *time.Duration `mapstructure:"delete_after"`
	MaxBytes        *ByteSize      `mapstructure:"max_bytes"`
}

// Thumbnail configures GET /{app}/{stream}.jpg.
type Thumbnail struct {
	Enabled bool `mapstructure:"enabled"`
	// FFmpeg is the ffmpeg binary decoding keyframes (a name looked up in
	// PATH, or a path).
	FFmpeg        string        `mapstructure:"ffmpeg"`
	Interval      time.Duration `mapstructure:"interval"`       // at most one decode per stream per interval
	MaxConcurrent int           `mapstructure:"max_concurrent"` // decodes at once
	Timeout       time.Duration `mapstructure:"timeout"`        // per decode
	Width         int           `mapstructure:"width"`          // 0: the stream's own size
}

// MinSegmentDuration bounds record.segment_duration from below: a file per
// few seconds is HLS's job, not a recorder's.
const MinSegmentDuration = time.Second

// RecordFor returns the recording settings of app: record with app's
// overrides applied.
func (c *Config) RecordFor(app string) Record {
	r := c.Record
	a, ok := c.Apps[app]
	if !ok {
		return r
	}
	o := a.Record
	if o.Enabled != nil {
		r.Enabled = *o.Enabled
	}
	if o.Format != 0 {
		r.Format = o.Format
	}
	if o.Path != "" {
		r.Path = o.Path
	}
	if o.SegmentDuration != nil {
		r.SegmentDuration = *o.SegmentDuration
	}
	if o.DeleteAfter != nil {
		r.DeleteAfter = *o.DeleteAfter
	}
	if o.MaxBytes != nil {
		r.MaxBytes = *o.MaxBytes
	}
	return r
}

func (r Record) validate(prefix string) error {
	errs := []error{
		recordFormats.check(prefix+"format", r.Format),
		recordPath(prefix+"path", r.Path),
		durationRange(prefix+"segment_duration", r.SegmentDuration, MinSegmentDuration, 7*24*time.Hour),
		nonNegative(prefix+"delete_after", r.DeleteAfter),
		atLeast(prefix+"max_bytes", int64(r.MaxBytes), 0),
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// recordPath checks a file name template: it names a file ({stream} or
// {time} in it, so that streams and files do not share one name) and
// knows only the placeholders the recorder fills in.
func recordPath(key, p string) error {
	if p == "" {
		return fmt.Errorf("config: %s: empty", key)
	}
	if !strings.Contains(p, "{stream}") {
		return fmt.Errorf("config: %s: %q lacks {stream}: every stream would write the same files", key, p)
	}
	if !strings.Contains(p, "{time}") {
		return fmt.Errorf("config: %s: %q lacks {time}: every file of a stream would have the same name", key, p)
	}
	rest := p
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return fmt.Errorf("config: %s: %q: unclosed {", key, p)
		}
		switch name := rest[i+1 : i+j]; name {
		case "app", "stream", "time", "date", "ext":
		default:
			return fmt.Errorf("config: %s: %q: unknown placeholder {%s} (want {app}, {stream}, {time}, {date}, {ext})", key, p, name)
		}
		rest = rest[i+j+1:]
	}
	for _, seg := range strings.Split(filepath.ToSlash(p), "/") {
		if seg == ".." {
			return fmt.Errorf("config: %s: %q: \"..\" is not allowed", key, p)
		}
	}
	return nil
}

func (c *Config) validateRecord() error {
	if err := c.Record.validate("record."); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(c.Apps)) { // the first error is deterministic
		if err := c.RecordFor(name).validate("apps." + name + ".record."); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateThumbnail() error {
	t := c.Thumbnail
	errs := []error{
		positive("thumbnail.interval", t.Interval),
		inRange("thumbnail.max_concurrent", int64(t.MaxConcurrent), 1, 64),
		positive("thumbnail.timeout", t.Timeout),
		inRange("thumbnail.width", int64(t.Width), 0, 7680),
	}
	if t.Enabled && t.FFmpeg == "" {
		errs = append(errs, fmt.Errorf("config: thumbnail.ffmpeg: empty (want a binary name or path, e.g. ffmpeg)"))
	}
	if strings.ContainsFunc(t.FFmpeg, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		errs = append(errs, fmt.Errorf("config: thumbnail.ffmpeg: %q contains a control character", t.FFmpeg))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
