package transcode

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	long := strings.Repeat("a", 33)
	for _, tc := range []struct {
		name string
		rung Rung
		err  string // "" valid
	}{
		{"x264 and aac", Rung{Name: "720p", Video: "-c:v libx264 -preset veryfast -b:v 2500k -maxrate 2500k -bufsize 5000k -vf scale=-2:720 -g 50", Audio: "-c:a aac -b:a 128k"}, ""},
		{"copy both", Rung{Name: "src", Video: "copy", Audio: "copy"}, ""},
		{"audio only", Rung{Name: "audio_only", Audio: "-c:a aac -b:a 64k -ac 1"}, ""},
		{"video only", Rung{Name: "v-1", Video: "-c:v libx264 -an"}, ""},
		{"negative values", Rung{Name: "a", Video: "-c:v libx264 -qp -1 -vf scale=-2:360"}, ""},
		{"flag then option", Rung{Name: "a", Video: "-c:v libx264 -bitexact -crf 23"}, ""},
		{"quoted filter", Rung{Name: "a", Video: "-vf scale=w='min(iw,1280)':h=-2"}, ""},

		{"empty name", Rung{Video: "copy"}, "name"},
		{"long name", Rung{Name: long, Video: "copy"}, "name"},
		{"name with slash", Rung{Name: "a/b", Video: "copy"}, "name"},
		{"name with dot", Rung{Name: "a.b", Video: "copy"}, "name"},
		{"no tracks", Rung{Name: "a", Video: " ", Audio: ""}, "no video and no audio"},
		{"input", Rung{Name: "a", Video: "-i /etc/passwd"}, "-i not allowed"},
		{"input relative", Rung{Name: "a", Video: "-i x.mp4"}, "-i not allowed"},
		{"format", Rung{Name: "a", Video: "-f mpegts"}, "-f not allowed"},
		{"map", Rung{Name: "a", Audio: "-map 0:a:1"}, "-map not allowed"},
		{"filter_complex", Rung{Name: "a", Video: "-filter_complex [0:v]scale=640:-2"}, "-filter_complex not allowed"},
		{"report", Rung{Name: "a", Video: "-report"}, "-report not allowed"},
		{"keyframes", Rung{Name: "a", Video: "-force_key_frames:v expr:gte(t,n_forced*2)"}, "-force_key_frames:v not allowed"},
		{"duration", Rung{Name: "a", Audio: "-t 10"}, "-t not allowed"},
		{"url value", Rung{Name: "a", Video: "-c:v libx264 -metadata title=rtmp://evil/x"}, "URL"},
		{"url positional", Rung{Name: "a", Video: "-c:v libx264 rtmp://evil/live/x"}, "URL"},
		{"absolute path", Rung{Name: "a", Video: "-c:v libx264 /tmp/out.flv"}, "absolute path"},
		{"absolute path in a filter", Rung{Name: "a", Video: "-vf drawtext=fontfile=/usr/share/fonts/x.ttf"}, "absolute path"},
		{"output file", Rung{Name: "a", Video: "-c:v libx264 out.flv"}, "output file"},
		{"output file after a flag", Rung{Name: "a", Audio: "-an out.flv"}, "output file"},
		{"leading positional", Rung{Name: "a", Video: "out.flv"}, "output file"},
		{"movie filter", Rung{Name: "a", Video: "-vf movie=x.mp4,scale=640:-2"}, "movie"},
		{"subtitles filter", Rung{Name: "a", Video: "-vf scale=640:-2,subtitles=x.srt"}, "subtitles"},
		{"control character", Rung{Name: "a", Video: "-c:v lib\x01x264"}, "control character"},
		{"too many arguments", Rung{Name: "a", Video: strings.Repeat("-an ", MaxArgs+1)}, "exceed"},
		{"too long an argument", Rung{Name: "a", Video: "-vf " + strings.Repeat("x", MaxArgLen+1)}, "exceeds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rung.Validate()
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidRung)
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestValidateLadder(t *testing.T) {
	require.NoError(t, ValidateLadder("live/cam", testRungs))
	require.NoError(t, ValidateLadder("live/cam", nil))
	require.ErrorContains(t, ValidateLadder("live/cam", []Rung{{Name: "a", Video: "copy"}, {Name: "a", Audio: "copy"}}), "used twice")
	many := make([]Rung, MaxRungs+1)
	for i := range many {
		many[i] = Rung{Name: "r" + strings.Repeat("x", i), Video: "copy"}
	}
	require.ErrorContains(t, ValidateLadder("live/cam", many), "maximum allowed (8)")
	require.ErrorContains(t, ValidateLadder("live/"+strings.Repeat("c", 300), testRungs), "not a valid stream key")
}

func TestFFmpegArgs(t *testing.T) {
	rungs := []Rung{
		{Name: "720p", Video: "-c:v libx264 -b:v 600k", Audio: "copy"},
		{Name: "audio", Audio: "-c:a aac -b:a 48k"},
		{Name: "video", Video: "-c:v libx264 -b:v 300k"},
	}
	head := "-hide_banner -loglevel warning -nostats -nostdin -progress pipe:6 " +
		"-analyzeduration 500000 -copyts -protocol_whitelist pipe -f flv -i pipe:0 "
	got, ok := ffmpegArgs(rungs, true, true)
	require.True(t, ok)
	require.Equal(t, strings.Fields(head+
		"-map 0:v -map 0:a -force_key_frames:v source -enc_time_base:v 1:1000 -c:v libx264 -b:v 600k -c:a copy "+
		"-flvflags no_duration_filesize -f flv pipe:3 "+
		"-map 0:a -c:a aac -b:a 48k -flvflags no_duration_filesize -f flv pipe:4 "+
		"-map 0:v -force_key_frames:v source -enc_time_base:v 1:1000 -c:v libx264 -b:v 300k "+
		"-flvflags no_duration_filesize -f flv pipe:5"), got)

	// An audio-only source: the video-only rung gets no output.
	got, ok = ffmpegArgs(rungs, false, true)
	require.True(t, ok)
	require.Equal(t, strings.Fields(head+
		"-map 0:a -c:a copy -flvflags no_duration_filesize -f flv pipe:3 "+
		"-map 0:a -c:a aac -b:a 48k -flvflags no_duration_filesize -f flv pipe:4"), got)

	_, ok = ffmpegArgs(rungs[1:2], true, false)
	require.False(t, ok)
}

func TestSplitRendition(t *testing.T) {
	type pair struct{ source, name string }
	split := func(key string) []pair {
		var out []pair
		for s, n := range splitRendition(key) {
			out = append(out, pair{s, n})
		}
		return out
	}
	require.Equal(t, []pair{{"live/cam", "720p"}}, split("live/cam_720p"))
	require.Equal(t, []pair{{"live/my_cam", "720p"}, {"live/my", "cam_720p"}}, split("live/my_cam_720p"))
	require.Equal(t, []pair{{"live/cam_", "x"}}, split("live/cam__x")[:1])
	require.Empty(t, split("live/cam"))
	require.Empty(t, split("live_x/cam"), "the source needs a stream name")
	require.Empty(t, split("live/cam_"), "a rung needs a name")
	require.True(t, slices.Equal(split("a/b/c_d"), []pair{{"a/b/c", "d"}}))
}
