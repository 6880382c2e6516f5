package record

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTemplateParse(t *testing.T) {
	for _, tc := range []struct {
		tpl, root, err string
	}{
		{tpl: DefaultPath, root: "recordings"},
		{tpl: "/srv/rec/{app}/{stream}/{date}/{time}.{ext}", root: "/srv/rec"},
		{tpl: "{app}/{stream}-{time}.{ext}", root: ""},
		{tpl: "../elsewhere/{app}/{stream}_{time}.{ext}", root: "../elsewhere"},
		{tpl: "rec/x{app}/{stream}/{date}", root: "rec"},
		{tpl: "rec/{app}/{stream}", err: "{stream} must end"},
		{tpl: "rec/{app}/{stream}.{ext}", err: "{stream} must end"},
		{tpl: "rec/{app}/{stream}-{ext}/{time}", err: "{stream} must end"},
		{tpl: "rec/{app}-{stream}/{time}", err: "{app} must end"},
		{tpl: "rec/{app}{time}/{stream}/{time}", err: "{app} must end"},
		{tpl: "", err: "empty"},
		{tpl: "recordings/{stream}/{time}.{ext}", err: "{app} and {stream}"},
		{tpl: "recordings/{app}/{time}.{ext}", err: "{app} and {stream}"},
		{tpl: "recordings/static.mp4", err: "no {app}"},
		{tpl: "recordings/{app}/{stream}/{foo}.{ext}", err: "{foo} unknown"},
		{tpl: "recordings/{app/{stream}.mp4", err: "unknown"},
		{tpl: "recordings/{app}/{stream}/{time.mp4", err: "without '}'"},
		{tpl: "recordings/{app}}/{stream}.mp4", err: "without '{'"},
		{tpl: "recordings/{app}/../{stream}/{time}.mp4", err: `element ".."`},
		{tpl: "recordings/{app}/./{stream}/{time}.mp4", err: `element "."`},
		{tpl: "recordings/{app}//{stream}/{time}.mp4", err: `element ""`},
		{tpl: "recordings/{app}/{stream}/", err: "ends with '/'"},
		{tpl: `recordings\{app}\{stream}.mp4`, err: "separator"},
	} {
		t.Run(tc.tpl, func(t *testing.T) {
			tp, err := parseTemplate(tc.tpl)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.Error(t, ValidateTemplate(tc.tpl))
				return
			}
			require.NoError(t, err)
			require.Equal(t, filepath.FromSlash(tc.root), tp.root)
		})
	}
}

func TestTemplateExpandMatch(t *testing.T) {
	start := time.Date(2026, 12, 7, 15, 30, 0, 0, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		tpl, key string
		f        Format
		seq      int
		want     string
		dir      string
	}{
		{tpl: DefaultPath, key: "live/cam1", f: FormatFMP4, want: "live/cam1/20261207T143000Z.mp4", dir: "live/cam1"},
		{tpl: DefaultPath, key: "live/cam1", f: FormatFLV, seq: 2, want: "live/cam1/20261207T143000Z-2.flv", dir: "live/cam1"},
		{tpl: DefaultPath, key: "live/eu/x/cam1", f: FormatFMP4, want: "live/eu/x/cam1/20261207T143000Z.mp4", dir: "live/eu/x/cam1"},
		{tpl: "r/{date}/{app}/{stream}-{time}.{ext}", key: "live/cam.1", f: FormatFMP4, seq: 1,
			want: "2026-12-07/live/cam.1-20261207T143000Z-1.mp4", dir: ""},
		{tpl: "r/{app}/{stream}/{stream}_{date}.v.{ext}", key: "a/b", f: FormatFLV, seq: 3,
			want: "a/b/b_2026-12-07.v-3.flv", dir: "a/b"},
		{tpl: "r/{app}/{stream}/{date}", key: "a/b", f: FormatFLV, seq: 1, want: "a/b/2026-12-07-1", dir: "a/b"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			tp, err := parseTemplate(tc.tpl)
			require.NoError(t, err)
			name, err := tp.expand(tc.key, start, tc.f, tc.seq)
			require.NoError(t, err)
			require.Equal(t, tc.want, name)
			require.Equal(t, tc.dir, tp.keyDir(tc.key))
			m, ok := tp.match(name)
			require.True(t, ok, "the template matches its own names")
			require.Equal(t, tc.key, m.key)
			app, stream := splitKey(tc.key)
			require.Equal(t, app, m.app)
			require.Equal(t, stream, m.stream)
			if len(tp.groups[phExt]) > 0 {
				require.True(t, m.formatKnown)
				require.Equal(t, tc.f, m.format)
			}
			if len(tp.groups[phTime]) > 0 {
				require.True(t, m.start.Equal(start), "%s", m.start)
			}
		})
	}
}

func TestTemplateRejects(t *testing.T) {
	tp, err := parseTemplate(DefaultPath)
	require.NoError(t, err)
	start := time.Now()
	for _, key := range []string{"", "live", "../x", "live/..", "live/../x", "/live/x", "live//x", `live\x/y`, "live/x y"} {
		_, err := tp.expand(key, start, FormatFMP4, 0)
		require.Error(t, err, "key %q", key)
	}
	for _, name := range []string{
		"live/cam/20261207T143000Z.mp4x", "live/cam/20261207T143000Z.avi", "live/20261207T143000Z.mp4",
		"live/cam/2026120T143000Z.mp4", "live/cam/20261207T143000Z-.mp4", "../live/cam/20261207T143000Z.mp4",
		"live/../cam/20261207T143000Z.mp4", "live/cam/x/20261207T143000Z.mp4/",
	} {
		_, ok := tp.match(name)
		require.False(t, ok, "name %q", name)
	}
	// A repeated placeholder must repeat its value.
	tp, err = parseTemplate("r/{app}/{stream}/{stream}{time}.{ext}")
	require.NoError(t, err)
	_, ok := tp.match("a/b/c20261207T143000Z.mp4")
	require.False(t, ok)
	_, ok = tp.match("a/b/b20261207T143000Z.mp4")
	require.True(t, ok)

	for _, name := range []string{"a/b", "a/b/c.mp4", "x-1.flv"} {
		require.True(t, localName(name), name)
	}
	for _, name := range []string{"", "/a", "a/../b", "..", "a/./b", "a//b", "a/", `a\b`, "a\x00b", "./a"} {
		require.False(t, localName(name), name)
	}
}

func TestParseFormat(t *testing.T) {
	for s, want := range map[string]Format{"": FormatFMP4, "fmp4": FormatFMP4, "mp4": FormatFMP4, "flv": FormatFLV} {
		f, err := ParseFormat(s)
		require.NoError(t, err)
		require.Equal(t, want, f)
	}
	_, err := ParseFormat("mkv")
	require.Error(t, err)
	require.Equal(t, "fmp4", FormatFMP4.String())
	require.Equal(t, "flv", FormatFLV.String())
	require.Equal(t, "mp4", FormatFMP4.Ext())
	require.Equal(t, "flv", FormatFLV.Ext())
	require.Equal(t, "recording_started", EventStarted.String())
	require.Equal(t, "recording_done", EventDone.String())
	require.Equal(t, "recording_error", EventError.String())
	require.Equal(t, "unknown", EventType(0).String())
}
