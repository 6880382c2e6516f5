package relay

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTargetRTMP(t *testing.T) {
	cases := []struct {
		name, tmpl, app, stream, extra string
		connect, play                  string
	}{
		{name: "app only appends the stream", tmpl: "rtmp://h/live", app: "live", stream: "cam",
			connect: "rtmp://h/live", play: "cam"},
		{name: "port and app template", tmpl: "rtmp://h:1936/{app}", app: "a/b", stream: "cam",
			connect: "rtmp://h:1936/a/b", play: "cam"},
		{name: "explicit stream", tmpl: "rtmp://h/backup/{stream}_hd", app: "live", stream: "cam",
			connect: "rtmp://h/backup", play: "cam_hd"},
		{name: "fixed stream name", tmpl: "rtmp://h/x/y/fixed", app: "live", stream: "cam",
			connect: "rtmp://h/x/y", play: "fixed"},
		{name: "template query then extra", tmpl: "rtmp://h/{app}?token={stream}", app: "live", stream: "cam", extra: "ripple_hops=1",
			connect: "rtmp://h/live", play: "cam?token=cam&ripple_hops=1"},
		{name: "trailing slash", tmpl: "rtmp://h/live/", app: "live", stream: "cam",
			connect: "rtmp://h/live", play: "cam"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := parseTarget(tc.tmpl, false)
			require.NoError(t, err)
			c, p := tg.rtmpURL(tc.app, tc.stream, tc.extra)
			require.Equal(t, tc.connect, c)
			require.Equal(t, tc.play, p)
		})
	}
}

func TestTargetHTTP(t *testing.T) {
	cases := []struct{ tmpl, extra, want string }{
		{"http://o:8080", "", "http://o:8080/cam.flv"},
		{"http://o:8080/{app}", "token=x", "http://o:8080/live/cam.flv?token=x"},
		{"https://o/{app}/{stream}.flv?k=1", "token=x", "https://o/live/cam.flv?k=1&token=x"},
	}
	for _, tc := range cases {
		t.Run(tc.tmpl, func(t *testing.T) {
			tg, err := parseTarget(tc.tmpl, true)
			require.NoError(t, err)
			require.True(t, tg.http)
			require.Equal(t, tc.want, tg.httpURL("live", "cam", tc.extra))
		})
	}
}

func TestTargetDisplayRedacts(t *testing.T) {
	tg, err := parseTarget("rtmp://h/live?token=secret", false)
	require.NoError(t, err)
	require.Equal(t, "rtmp://h/live/****", tg.display("live", "cam"))
	tg, err = parseTarget("rtmps://u:p@h:443/rtmp/KEY", false)
	require.NoError(t, err)
	require.Equal(t, "rtmps://h:443/rtmp/****", tg.display("live", "cam"))
	tg, err = parseTarget("http://u:p@o/{app}?token=secret", true)
	require.NoError(t, err)
	require.Equal(t, "http://o/live/****", tg.display("live", "cam"))
}

func TestParseTargetRTMPS(t *testing.T) {
	upper, err := parseTarget("RTMPS://live-api-s.facebook.com:443/rtmp/KEY", false)
	require.NoError(t, err, "schemes are case-insensitive")
	require.Equal(t, "rtmps://live-api-s.facebook.com:443/rtmp/****", upper.display("live", "cam"))
	tg, err := parseTarget("rtmps://live-api-s.facebook.com:443/rtmp/KEY?s=1", false)
	require.NoError(t, err)
	c, p := tg.rtmpURL("live", "cam", "ripple_hops=1")
	require.Equal(t, "rtmps://live-api-s.facebook.com:443/rtmp", c)
	require.Equal(t, "KEY?s=1&ripple_hops=1", p)
	require.Equal(t, []string{"KEY?s=1&ripple_hops=1", "s=1&ripple_hops=1", "KEY", "1", "1"},
		tg.secrets("live", "cam", "ripple_hops=1"))
}

func TestRedact(t *testing.T) {
	cases := []struct{ in, want string }{
		{"rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl", "rtmp://a.rtmp.youtube.com/live2/****"},
		{"rtmp://live.twitch.tv/app/live_123_xyz", "rtmp://live.twitch.tv/app/****"},
		{"rtmps://live-api-s.facebook.com:443/rtmp/FB-1-2?s_bl=1&a=SECRET", "rtmps://live-api-s.facebook.com:443/rtmp/****"},
		{"rtmp://h", "rtmp://h"},
		{"rtmp://h/", "rtmp://h"},
		{"rtmp://h/live", "rtmp://h/live"},
		{"rtmp://h/live/", "rtmp://h/live"},
		{"rtmp://h/live?token=SECRET", "rtmp://h/live"},
		{"rtmp://h/a/b/KEY/", "rtmp://h/a/b/****"},
		{"rtmp://user:pass@h:1935/live/KEY", "rtmp://h:1935/live/****"},
		{"rtmp://user:p@ss@h/live/KEY", "rtmp://h/live/****"},
		{"rtmp://h/live/KEY#frag", "rtmp://h/live/****"},
		{"http://o:8080/live/cam.flv?token=x", "http://o:8080/live/****"},
		{"not a url KEY", "****"},
		{"h/live/KEY", "****"},
		{"", ""},
		{"rtmp://h/live/KE\nY", "rtmp://h/live/****"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			require.Equal(t, tc.want, Redact(tc.in))
		})
	}
}

func TestScrub(t *testing.T) {
	secrets := secretsOf("KEY123?token=SEC%2FRET&ripple_hops=1")
	msg := `rtmp: publish KEY123?token=SEC%2FRET&ripple_hops=1: bad name KEY123, token SEC/RET`
	got := scrub(msg, secrets)
	require.NotContains(t, got, "KEY123")
	require.NotContains(t, got, "SEC")
	require.Equal(t, "rtmp: publish ****: bad name ****, token ****", got)
}

func TestTargetErrors(t *testing.T) {
	cases := []struct {
		tmpl      string
		allowHTTP bool
		want      string
	}{
		{"rtmp://h", false, "want rtmp[s]://host[:port]/app[/stream]"},
		{"rtmp:///live", false, "want rtmp[s]://host[:port]/app[/stream]"},
		{"rtmps://h", false, "want rtmp[s]://host[:port]/app[/stream]"},
		{"rtmp://h/live/a b", false, "control character or blank"},
		{"rtmp://h/live/a\x00b", false, "control character or blank"},
		{"rtmp://h/live/" + strings.Repeat("k", MaxTargetURL), false, "limit 2048"},
		{"ftp://h/live/KEY", false, `scheme "ftp" not supported`},
		{"h/live", false, "no scheme"},
		{"srt://h/live", true, `scheme "srt" not supported`},
		{"http://o/live", false, `scheme "http" not supported here`},
		{"rtmp://h/{name}", false, "unknown template variable"},
		{"http:///x", true, "no host"},
		{"rtmp://{app}.example/live", false, "no template in the host"},
		{"http://{stream}:80/x", true, "no template in the host"},
	}
	for _, tc := range cases {
		t.Run(tc.tmpl, func(t *testing.T) {
			_, err := parseTarget(tc.tmpl, tc.allowHTTP)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestHops(t *testing.T) {
	require.Equal(t, 0, hopsOf(""))
	require.Equal(t, 3, hopsOf("token=a&ripple_hops=3"))
	require.Equal(t, 0, hopsOf("ripple_hops=x"))
	require.Equal(t, 1, hopsOf("token=%zz&ripple_hops=1"), "a malformed pair elsewhere does not hide the count")
	require.Equal(t, 1, hopsOf("token=a;b&ripple_hops=1"))
	require.Equal(t, 0, hopsOf("ripple_hops=-2"))
	require.Equal(t, "token=a&b=2", stripHops("token=a&ripple_hops=3&b=2"))
	require.Equal(t, "", stripHops("ripple_hops=1"))
}

func TestSplitKey(t *testing.T) {
	app, name := splitKey("a/b/cam")
	require.Equal(t, "a/b", app)
	require.Equal(t, "cam", name)
}
