// Package record is Ripple's recorder (DVR): it writes live streams to
// files, one more hub reader per recorded stream, so a slow or full disk
// costs only the recording, never the stream or its players.
//
// A Manager follows the hub: every stream whose Rule is Enabled is
// recorded from its publish to its end (a publisher that reconnects within
// the hub's reconnect grace keeps the same stream, hence the same file),
// and StartRecording / StopRecording start and stop any live stream by
// hand. Each recorded stream has one goroutine that drains its hub reader
// (batch.Source) and writes:
//
//   - FormatFMP4: fragmented MP4 (ISO/IEC 14496-12 §8.8). The init section
//     (ftyp+moov, from mediacommon) is written first, then one moof+mdat
//     fragment at every video keyframe and at least every FragmentDuration,
//     each handed to the file in one flush when it closes: a file cut short
//     (kill -9, power loss of the process, a full disk) plays up to its
//     last complete fragment. Codecs: H.264, HEVC, AV1; AAC, Opus, MP3,
//     AC-3 and 16-bit PCM. Other tracks (VP9, G.711, Speex, ...) are left
//     out with one log line: FormatFLV carries them.
//   - FormatFLV: the FLV header, onMetaData (with hasAudio/hasVideo and a
//     duration and filesize completed when the file is closed), the
//     sequence headers, then every tag as the stream carries it.
//
// Every file starts with the decoder configuration and, for a stream with
// video, a keyframe; its timestamps start at 0. A file is cut at the first
// keyframe past Rule.SegmentDuration (audio-only streams on time), and a
// write error (a full disk, a permission, a removed directory) ends the
// file with one log line; the reader keeps draining and a new file is
// tried at a keyframe RetryInterval later. See docs/recording.md.
//
// Files are named by a path template (Rule.Path, DefaultPath); Recordings
// lists them back from disk (also those of earlier runs) by matching the
// template, and Handler serves them under /recordings/{Name}.
package record

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ripplemedia/ripple/pkg/internal/guard"
)

// Errors of StartRecording and StopRecording.
var (
	ErrNotLive          = errors.New("record: stream not live")
	ErrAlreadyRecording = errors.New("record: stream already recording")
	ErrNotRecording     = errors.New("record: stream not recording")
	ErrClosed           = errors.New("record: manager closed")
	// ErrBadFilter: Recordings was asked for an app or stream that no
	// stream key can have.
	ErrBadFilter = errors.New("record: not a stream's app or name")
)

// Format is a recording's container.
type Format uint8

// Formats.
const (
	// FormatFMP4 is fragmented MP4 (the default).
	FormatFMP4 Format = iota
	// FormatFLV is FLV: every codec the stream carries, as it carries it.
	FormatFLV
)

// String returns "fmp4" or "flv".
func (f Format) String() string {
	if f == FormatFLV {
		return "flv"
	}
	return "fmp4"
}

// Ext returns the file extension without the dot: "mp4" or "flv".
func (f Format) Ext() string {
	if f == FormatFLV {
		return "flv"
	}
	return "mp4"
}

// contentType is the MIME type Handler serves the format with.
func (f Format) contentType() string {
	if f == FormatFLV {
		return "video/x-flv"
	}
	return "video/mp4"
}

// ParseFormat parses "fmp4" (or "mp4") and "flv"; "" is FormatFMP4.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", "fmp4", "mp4":
		return FormatFMP4, nil
	case "flv":
		return FormatFLV, nil
	}
	return 0, fmt.Errorf("record: format %q unknown (fmp4, flv)", s)
}

// Defaults of a Rule's zero fields and of Config.
const (
	// DefaultPath is the path template of a Rule with Path "".
	DefaultPath            = "recordings/{app}/{stream}/{time}.{ext}"
	DefaultSegmentDuration = time.Hour
	DefaultRetryInterval   = 5 * time.Second
	DefaultSweepInterval   = time.Minute
)

// Rule is the resolved recording settings of one app.
type Rule struct {
	// Enabled records every stream of the app from its publish on.
	// StartRecording records a stream whatever Enabled says, with the
	// rest of its rule.
	Enabled bool
	Format  Format
	// Path is the file path template (see ValidateTemplate); "" means
	// DefaultPath. A relative path is resolved against Config.Root.
	Path string
	// SegmentDuration starts a new file at the first video keyframe past
	// it (audio-only streams: the first audio frame); 0 means 1h.
	SegmentDuration time.Duration
	// DeleteAfter deletes the stream's completed files this long after
	// they were last written; 0 keeps them.
	DeleteAfter time.Duration
	// MaxBytes bounds the bytes of the stream's files: the oldest
	// completed ones are deleted until the stream is under it (the file in
	// progress is never deleted); 0 is unbounded.
	MaxBytes int64
}

func (r Rule) withDefaults() Rule {
	if r.Path == "" {
		r.Path = DefaultPath
	}
	if r.SegmentDuration <= 0 {
		r.SegmentDuration = DefaultSegmentDuration
	}
	r.DeleteAfter = max(r.DeleteAfter, 0)
	r.MaxBytes = max(r.MaxBytes, 0)
	return r
}

// Config configures a Manager. Zero values mean the documented defaults.
type Config struct {
	Logger *slog.Logger // nil: discard

	// Rule returns the recording settings of a stream key ("app/name",
	// app may be nested). nil records nothing by configuration (only
	// StartRecording, with a zero Rule).
	// SkipPulled leaves streams published by a relay pull to the node
	// they are pulled from (in an origin cluster, each stream is recorded
	// once, on its origin); without it, edges record what they pull.
	SkipPulled bool
	Rule       func(key string) Rule
	// Templates are the path templates of every configured rule, so
	// Recordings and Handler find the files of earlier runs too; the
	// templates of DefaultPath and of every Rule used in this run are
	// always included.
	Templates []string
	// Root is the directory relative paths are resolved against; "" is
	// the working directory.
	Root string
	// RetryInterval is, after a write error, the earliest a new file is
	// tried (at a keyframe); default 5s.
	RetryInterval time.Duration
	// SweepInterval is how often the retention rules (Rule.DeleteAfter,
	// Rule.MaxBytes) are applied to every stream's files, live or not;
	// they are also applied to a stream's files each time it starts a new
	// file. Default 1m.
	SweepInterval time.Duration
	// Panics recovers a panic of a recording's goroutine (component
	// "record"): that recording ends, the stream and the rest go on.
	Panics *guard.Recorder
	// OnEvent, if set, is called for every recording event, from the
	// recording goroutines (an EventError for a recording that cannot
	// start: from the goroutine that published the stream); it must not
	// block.
	OnEvent func(Event)
	// Now is the clock (file names, retention, retries); default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// EventType says what happened to a recording.
type EventType uint8

// Event types.
const (
	// EventStarted: a file was opened (Recording.InProgress).
	EventStarted EventType = iota + 1
	// EventDone: a file was closed complete, with its duration and size.
	EventDone
	// EventError: a file could not be opened or written (Err says why; the
	// file, if any, ends at its last complete fragment), a recording
	// could not start, or it fell behind the stream.
	EventError
)

func (t EventType) String() string {
	switch t {
	case EventStarted:
		return "recording_started"
	case EventDone:
		return "recording_done"
	case EventError:
		return "recording_error"
	}
	return "unknown"
}

// Event is one change of a recording.
type Event struct {
	Type      EventType
	Recording Recording // the file concerned (Path "" if none was opened)
	Err       error     // EventError
}

// Recording is one recorded file.
type Recording struct {
	Key    string // the stream key, app + "/" + stream
	App    string
	Stream string
	// Path is the file's OS path as written: absolute, or relative to the
	// working directory (Config.Root joined with the template).
	Path string
	// Name is the path relative to the template's recordings root (the
	// directory before its first placeholder), '/'-separated: the file is
	// served at /recordings/{Name}.
	Name     string
	Format   Format
	Start    time.Time // wall-clock time the file was opened ({time})
	Duration time.Duration
	// Size is the file's size; for a file in progress, the bytes up to
	// its last complete fragment (FLV: batch of tags).
	Size       int64
	InProgress bool
}

// Stats are the counters of a Manager, for metrics.
type Stats struct {
	Active int    // files being written now
	Bytes  uint64 // bytes written to recordings, ever
	Errors uint64 // failed opens and writes, evictions, panics
}
