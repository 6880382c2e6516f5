package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Transcode holds the settings of every app's rendition ladder
// (apps.NAME.transcode): the ffmpeg binary and how many run at once.
type Transcode struct {
	// FFmpeg is the binary running the ladders (a name looked up in PATH,
	// or a path).
	FFmpeg string `mapstructure:"ffmpeg"`
	// MaxProcesses bounds the ffmpeg processes running at once (one per
	// transcoded stream).
	MaxProcesses int `mapstructure:"max_processes"`
	// IdleTimeout stops an on-demand ladder this long after its
	// renditions' last viewer left.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
}

// TranscodeRung is one rendition of an app's ladder: the stream
// {stream}_{name}, encoded by ffmpeg with the video and audio arguments.
type TranscodeRung struct {
	Name  string `mapstructure:"name"`
	Video string `mapstructure:"video"` // e.g. "-c:v libx264 -b:v 800k -vf scale=-2:360 -g 60"
	Audio string `mapstructure:"audio"` // e.g. "-c:a aac -b:a 96k", or "copy"
}

// TranscodeMode is apps.NAME.transcode_on.
type TranscodeMode uint8

// When a ladder runs.
const (
	TranscodeOnPublish TranscodeMode = iota + 1 // from the source's publish to its end
	TranscodeOnDemand                           // from a rendition's first viewer until idle
)

var transcodeModes = enum[TranscodeMode]{name: "TranscodeMode", words: []string{"", "publish", "demand"}}

func (m TranscodeMode) String() string { return transcodeModes.spell(m) }

// MarshalText implements encoding.TextMarshaler.
func (m TranscodeMode) MarshalText() ([]byte, error) { return transcodeModes.marshal(m) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *TranscodeMode) UnmarshalText(b []byte) error { return transcodeModes.unmarshal(b, m) }

// Bounds of the transcode settings.
const (
	MaxTranscodeRungs     = 8
	MaxTranscodeProcesses = 256
	maxTranscodeArgs      = 512 // bytes of one rung's video or audio arguments
)

var rungName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

func (c *Config) validateTranscode() error {
	t := c.Transcode
	if t.FFmpeg == "" {
		return fmt.Errorf("config: transcode.ffmpeg: empty (want a binary name or path, e.g. ffmpeg)")
	}
	if strings.ContainsFunc(t.FFmpeg, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("config: transcode.ffmpeg: %q contains a control character", t.FFmpeg)
	}
	if t.MaxProcesses < 1 || t.MaxProcesses > MaxTranscodeProcesses {
		return fmt.Errorf("config: transcode.max_processes: %d out of range [1, %d]", t.MaxProcesses, MaxTranscodeProcesses)
	}
	if err := positive("transcode.idle_timeout", t.IdleTimeout); err != nil {
		return err
	}
	for _, app := range sortedApps(c.Apps) {
		a := c.Apps[app]
		key := "apps." + app + ".transcode"
		if a.TranscodeOn != 0 {
			if err := transcodeModes.check(key+"_on", a.TranscodeOn); err != nil {
				return err
			}
		}
		if len(a.Transcode) > MaxTranscodeRungs {
			return fmt.Errorf("config: %s: %d renditions, at most %d", key, len(a.Transcode), MaxTranscodeRungs)
		}
		seen := map[string]bool{}
		for i, r := range a.Transcode {
			k := fmt.Sprintf("%s[%d]", key, i)
			if !rungName.MatchString(r.Name) {
				return fmt.Errorf("config: %s.name: %q must be 1-32 letters, digits, '_' or '-'", k, r.Name)
			}
			if seen[r.Name] {
				return fmt.Errorf("config: %s.name: %q twice", k, r.Name)
			}
			seen[r.Name] = true
			if err := rungArgs(k+".video", r.Video); err != nil {
				return err
			}
			if r.Audio != "copy" {
				if err := rungArgs(k+".audio", r.Audio); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// rungArgs checks ffmpeg arguments of a rung: options for one output
// only. Inputs, outputs, URLs and paths are Ripple's to choose: a ladder
// must not read or write anything else.
func rungArgs(key, args string) error {
	if strings.TrimSpace(args) == "" {
		return fmt.Errorf("config: %s: empty", key)
	}
	if len(args) > maxTranscodeArgs {
		return fmt.Errorf("config: %s: %d bytes, at most %d", key, len(args), maxTranscodeArgs)
	}
	for _, f := range strings.Fields(args) {
		switch {
		case f == "-i" || f == "-y" || f == "-f" || f == "-map" || strings.HasPrefix(f, "-filter_complex") ||
			strings.HasPrefix(f, "-progress") || strings.HasPrefix(f, "-vstats") || strings.HasPrefix(f, "-passlogfile"):
			return fmt.Errorf("config: %s: %q is Ripple's to set", key, f)
		case strings.Contains(f, "://") || strings.HasPrefix(f, "/") || strings.Contains(f, ".."):
			return fmt.Errorf("config: %s: %q: no URLs or paths", key, f)
		}
	}
	return nil
}
