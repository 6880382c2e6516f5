package rtmp

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name  string
		raw   string
		want  URL
		tcURL string
		app   string
		err   bool
	}{
		{name: "default port", raw: "rtmp://example.com/live",
			want: URL{Host: "example.com:1935", App: "live"}, tcURL: "rtmp://example.com:1935/live", app: "live"},
		{name: "port and nested app", raw: "rtmp://127.0.0.1:19350/live/sub/",
			want: URL{Host: "127.0.0.1:19350", App: "live/sub"}, tcURL: "rtmp://127.0.0.1:19350/live/sub", app: "live/sub"},
		{name: "query kept apart", raw: "rtmp://h:1/live?token=abc",
			want: URL{Host: "h:1", App: "live", Query: "token=abc"}, tcURL: "rtmp://h:1/live?token=abc", app: "live?token=abc"},
		{name: "ipv6", raw: "rtmp://[::1]/live",
			want: URL{Host: "[::1]:1935", App: "live"}, tcURL: "rtmp://[::1]:1935/live", app: "live"},
		{name: "rtmps default port", raw: "rtmps://live-api-s.facebook.com/rtmp",
			want:  URL{TLS: true, Host: "live-api-s.facebook.com:443", App: "rtmp"},
			tcURL: "rtmps://live-api-s.facebook.com:443/rtmp", app: "rtmp"},
		{name: "rtmps port", raw: "rtmps://h:1936/live?k=1",
			want: URL{TLS: true, Host: "h:1936", App: "live", Query: "k=1"}, tcURL: "rtmps://h:1936/live?k=1", app: "live?k=1"},
		{name: "wrong scheme", raw: "http://h/live", err: true},
		{name: "rtmpt", raw: "rtmpt://h/live", err: true},
		{name: "no host", raw: "rtmp:///live", err: true},
		{name: "no app", raw: "rtmp://h/", err: true},
		{name: "garbage", raw: "rtmp://h:x:y/%zz", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseURL(tt.raw)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, u)
			require.Equal(t, tt.tcURL, u.TCURL())
			require.Equal(t, tt.app, u.ConnectApp())
		})
	}
}

func TestSplitStreamURL(t *testing.T) {
	tests := []struct {
		raw, base, name string
		err             bool
	}{
		{raw: "rtmp://h/live/cam1", base: "rtmp://h/live", name: "cam1"},
		{raw: "rtmp://h:1935/a/b/c?k=v", base: "rtmp://h:1935/a/b", name: "c?k=v"},
		{raw: "rtmp://h/live/cam1/", base: "rtmp://h/live", name: "cam1"},
		{raw: "rtmps://h/rtmp/KEY", base: "rtmps://h/rtmp", name: "KEY"},
		{raw: "rtmp://h/live", err: true},
		{raw: "cam1", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			base, name, err := SplitStreamURL(tt.raw)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.base, base)
			require.Equal(t, tt.name, name)
		})
	}
}

func TestSplitQuery(t *testing.T) {
	n, q := splitQuery("cam1?token=a&b=c")
	require.Equal(t, "cam1", n)
	require.Equal(t, "token=a&b=c", q)
	n, q = splitQuery("cam1")
	require.Equal(t, "cam1", n)
	require.Empty(t, q)
	require.Equal(t, "a=1&b=2", joinQuery("a=1", "b=2"))
	require.Equal(t, "b=2", joinQuery("", "b=2"))
	require.Equal(t, "a=1", joinQuery("a=1", ""))
}
