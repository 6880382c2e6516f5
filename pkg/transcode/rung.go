package transcode

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// Bounds of a ladder, checked by ValidateLadder.
const (
	// MaxRungs bounds the renditions of one source: each is one more
	// encoder in the source's ffmpeg and one more output pipe.
	MaxRungs = 8
	// MaxArgs bounds the arguments of one Video or Audio string, and
	// MaxArgLen each argument.
	MaxArgs   = 64
	MaxArgLen = 512
	// maxNameLen bounds a rung's name.
	maxNameLen = 32
)

// ErrInvalidRung is wrapped by the errors of ValidateLadder.
var ErrInvalidRung = errors.New("transcode: invalid rung")

// Rung is one rendition of a ladder: its name (the stream key's suffix,
// "720p" for "live/cam1_720p") and the ffmpeg output options of its video
// and audio, each a string split on spaces (no shell, no quoting: a filter
// argument cannot contain a space). "copy" alone means stream copy
// ("-c:v copy", "-c:a copy"); "" leaves the track out of the rendition.
// Name is 1 to 32 characters of [A-Za-z0-9_-].
type Rung struct {
	Name  string
	Video string
	Audio string
}

// deniedOptions are the ffmpeg options a rung may not set, with why: the
// transcoder owns the input, the outputs, the timestamps and the logging,
// and nothing in a rung may read or write files.
var deniedOptions = map[string]string{
	"-i":                     "the input is the source stream",
	"-f":                     "the output format is FLV",
	"-y":                     "outputs are pipes",
	"-n":                     "outputs are pipes",
	"-map":                   "the transcoder maps the source's tracks",
	"-progress":              "the transcoder reads ffmpeg's progress",
	"-stats":                 "the transcoder sets ffmpeg's logging",
	"-nostats":               "the transcoder sets ffmpeg's logging",
	"-loglevel":              "the transcoder sets ffmpeg's logging",
	"-v":                     "the transcoder sets ffmpeg's logging",
	"-hide_banner":           "the transcoder sets ffmpeg's logging",
	"-report":                "it writes a file",
	"-vstats":                "it writes a file",
	"-vstats_file":           "it writes a file",
	"-passlogfile":           "it writes a file",
	"-pass":                  "two-pass encoding writes files",
	"-sdp_file":              "it writes a file",
	"-attach":                "it reads a file",
	"-dump_attachment":       "it writes a file",
	"-filter_script":         "it reads a file",
	"-filter_complex":        "it is global to the process (use -vf, -af)",
	"-lavfi":                 "it is global to the process (use -vf, -af)",
	"-filter_complex_script": "it reads a file",
	"-protocol_whitelist":    "the transcoder allows only pipes",
	"-copyts":                "the transcoder keeps the source's timestamps",
	"-force_key_frames":      "keyframes follow the source's",
	"-enc_time_base":         "the transcoder keeps millisecond timestamps",
	"-t":                     "a rendition runs as long as its source",
	"-to":                    "a rendition runs as long as its source",
	"-ss":                    "a rendition runs as long as its source",
	"-fs":                    "a rendition runs as long as its source",
	"-frames":                "a rendition runs as long as its source",
	"-vframes":               "a rendition runs as long as its source",
	"-aframes":               "a rendition runs as long as its source",
	"-stdin":                 "stdin carries the source",
	"-nostdin":               "stdin carries the source",
}

// flagOptions are ffmpeg output options that take no value, so that a
// word after one is recognised as a positional argument (an output file).
var flagOptions = map[string]bool{
	"-an": true, "-vn": true, "-sn": true, "-dn": true, "-shortest": true,
	"-bitexact": true, "-autoscale": true, "-noautoscale": true,
}

// fileFilters are filters (and filter options) that open files; a rung
// may not use them. Not exhaustive: see Validate.
var fileFilters = []string{"movie", "amovie", "subtitles", "ass", "sendcmd", "asendcmd", "lut3d", "haldclut", "fontfile", "textfile"}

// fileFilter returns the file-reading filter or option a filter graph
// argument names, or "".
func fileFilter(a string) string {
	for seg := range strings.FieldsFuncSeq(a, func(r rune) bool { return r == ',' || r == ';' || r == ':' || r == '[' || r == ']' }) {
		name, _, _ := strings.Cut(seg, "=")
		for _, f := range fileFilters {
			if name == f {
				return f
			}
		}
	}
	return ""
}

// ValidName reports whether name can name a rung.
func ValidName(name string) bool {
	if name == "" || len(name) > maxNameLen {
		return false
	}
	for i := range len(name) {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// RenditionKey returns the stream key of rendition name of source.
func RenditionKey(source, name string) string { return source + "_" + name }

// ValidateLadder checks a ladder for source (the rungs' names and
// options, and that every rendition key is a valid stream key). It is what
// the transcoder checks before it starts a ladder; a configuration loader
// can call it too (source "app/x" then stands for any stream).
func ValidateLadder(source string, rungs []Rung) error {
	if len(rungs) > MaxRungs {
		return fmt.Errorf("%w: %d rungs exceed the maximum allowed (%d)", ErrInvalidRung, len(rungs), MaxRungs)
	}
	seen := make(map[string]bool, len(rungs))
	for _, r := range rungs {
		if err := r.Validate(); err != nil {
			return err
		}
		if seen[r.Name] {
			return fmt.Errorf("%w: name %q used twice", ErrInvalidRung, r.Name)
		}
		seen[r.Name] = true
		if k := RenditionKey(source, r.Name); !hub.ValidKey(k) {
			return fmt.Errorf("%w: rendition key %q is not a valid stream key", ErrInvalidRung, k)
		}
	}
	return nil
}

// Validate checks the rung's name and options: no input, output, file or
// URL, nothing the transcoder sets itself (deniedOptions), no absolute
// path and no positional argument (ffmpeg would take it for an output
// file). It is a guard against mistakes in a trusted configuration, not a
// sandbox: ffmpeg options are too many to vet one by one.
func (r Rung) Validate() error {
	if !ValidName(r.Name) {
		return fmt.Errorf("%w: name %q must be 1 to %d characters of [A-Za-z0-9_-]", ErrInvalidRung, r.Name, maxNameLen)
	}
	if strings.TrimSpace(r.Video) == "" && strings.TrimSpace(r.Audio) == "" {
		return fmt.Errorf("%w %q: no video and no audio", ErrInvalidRung, r.Name)
	}
	if err := checkArgs(r.Video); err != nil {
		return fmt.Errorf("%w %q: video: %w", ErrInvalidRung, r.Name, err)
	}
	if err := checkArgs(r.Audio); err != nil {
		return fmt.Errorf("%w %q: audio: %w", ErrInvalidRung, r.Name, err)
	}
	return nil
}

// isOption reports whether an argument is an option name ("-c:v"), not a
// value ("-2", "scale=-2:360").
func isOption(a string) bool {
	return len(a) > 1 && a[0] == '-' && (a[1] >= 'a' && a[1] <= 'z' || a[1] >= 'A' && a[1] <= 'Z' || a[1] == '_')
}

// optionName strips a stream specifier: "-c:v" → "-c".
func optionName(a string) string {
	if i := strings.IndexByte(a, ':'); i > 0 {
		return a[:i]
	}
	return a
}

func checkArgs(s string) error {
	args := strings.Fields(s)
	if len(args) > MaxArgs {
		return fmt.Errorf("%d arguments exceed the maximum allowed (%d)", len(args), MaxArgs)
	}
	if len(args) == 1 && args[0] == "copy" {
		return nil
	}
	wantValue := false // the previous argument is an option that takes one
	for _, a := range args {
		switch {
		case len(a) > MaxArgLen:
			return fmt.Errorf("argument of %d bytes exceeds the maximum allowed (%d)", len(a), MaxArgLen)
		case strings.Contains(a, "://"):
			return fmt.Errorf("argument %q is a URL", a)
		case a[0] == '/' || a[0] == '\\' || strings.Contains(a, "=/") || strings.Contains(a, "'/"):
			return fmt.Errorf("argument %q names an absolute path", a)
		case strings.ContainsFunc(a, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return fmt.Errorf("argument %q contains a control character", a)
		}
		if f := fileFilter(a); f != "" {
			return fmt.Errorf("argument %q uses %s, which reads a file", a, f)
		}
		if isOption(a) {
			if why, ok := deniedOptions[optionName(a)]; ok {
				return fmt.Errorf("option %s not allowed: %s", a, why)
			}
			wantValue = !flagOptions[a]
			continue
		}
		if !wantValue {
			return fmt.Errorf("argument %q is not an option's value: ffmpeg would take it for an output file", a)
		}
		wantValue = false
	}
	return nil
}

// trackArgs expands a rung's Video or Audio string; nil means the track is
// left out.
func trackArgs(s, copyOpt string) []string {
	args := strings.Fields(s)
	switch {
	case len(args) == 0:
		return nil
	case len(args) == 1 && args[0] == "copy":
		return []string{copyOpt, "copy"}
	}
	return args
}

// tsPad is added to every timestamp fed to ffmpeg (and taken off its
// outputs) so that nothing an encoder emits before the first input frame
// (AAC priming, B-frame DTS) is negative: ffmpeg's muxers would otherwise
// shift a whole output forward (avoid_negative_ts), away from the source's
// clock (docs/transcode.md §3).
const tsPad = 10_000

// ffmpegArgs returns the arguments of the ladder's one ffmpeg: FLV on
// stdin, rung i written as FLV to fd 3+i, progress to fd 3+len(rungs).
// A rung left with no track of the source (a video-only rung of an
// audio-only source) gets no output: ffmpeg refuses an output without
// streams. ok is false when no rung has an output.
func ffmpegArgs(rungs []Rung, hasVideo, hasAudio bool) (args []string, ok bool) {
	a := []string{
		"-hide_banner", "-loglevel", "warning", "-nostats", "-nostdin",
		"-progress", "pipe:" + strconv.Itoa(3+len(rungs)),
		// Probing a live input for the default 5 s of media delays every
		// start: the FLV's headers (and onMetaData) describe the streams,
		// and the gate already waited for each track.
		"-analyzeduration", "500000",
		"-copyts", "-protocol_whitelist", "pipe", "-f", "flv", "-i", "pipe:0",
	}
	for i, r := range rungs {
		v, au := trackArgs(r.Video, "-c:v"), trackArgs(r.Audio, "-c:a")
		if !hasVideo {
			v = nil
		}
		if !hasAudio {
			au = nil
		}
		if v == nil && au == nil {
			continue
		}
		ok = true
		if v != nil {
			a = append(a, "-map", "0:v")
		}
		if au != nil {
			a = append(a, "-map", "0:a")
		}
		if v != nil {
			// Keyframes where the source has them, and millisecond
			// timestamps: the default encoder time base (1/frame rate)
			// would round every frame's time to the frame grid.
			a = append(a, "-force_key_frames:v", "source", "-enc_time_base:v", "1:1000")
			a = append(a, v...)
		}
		a = append(a, au...)
		a = append(a, "-flvflags", "no_duration_filesize", "-f", "flv", "pipe:"+strconv.Itoa(3+i))
	}
	return a, ok
}
