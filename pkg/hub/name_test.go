package hub

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var keyCases = []struct {
	key   string
	valid bool
}{
	{"live/cam1", true},
	{"a/b/c", true},
	{"live/Cam_1.v2~x-y", true},
	{"live/" + strings.Repeat("a", 128), true},
	{"live/" + strings.Repeat("a", 129), false},
	{"live", false},
	{"", false},
	{"/", false},
	{"live/", false},
	{"/cam", false},
	{"live//cam", false},
	{"live/.", false},
	{"live/..", false},
	{"../cam", false},
	{"live/...", true},
	{"live/cam 1", false},
	{"live/cam?token=1", false},
	{"live/cam%20", false},
	{"live/caméra", false},
	{"live\\cam", false},
	{"live/cam\x00", false},
}

func TestValidKey(t *testing.T) {
	for _, tc := range keyCases {
		t.Run(tc.key, func(t *testing.T) {
			require.Equal(t, tc.valid, ValidKey(tc.key))
		})
	}
}

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		valid bool
	}{
		{"cam", true}, {"a", true}, {"-", true}, {".x", true},
		{"", false}, {".", false}, {"..", false}, {"a/b", false}, {"a b", false},
		{strings.Repeat("z", MaxNameLen), true}, {strings.Repeat("z", MaxNameLen+1), false},
	} {
		require.Equal(t, tc.valid, ValidName(tc.name), "%q", tc.name)
	}
}

func TestAppOf(t *testing.T) {
	require.Equal(t, "live", appOf("live/cam"))
	require.Equal(t, "a/b", appOf("a/b/c"))
}

// FuzzValidKey checks ValidKey against its definition: at least two "/"
// separated segments, each ValidName; and that valid keys are safe to use
// as URL paths and file names (no empty, "." or ".." segment, no escapes).
func FuzzValidKey(f *testing.F) {
	for _, tc := range keyCases {
		f.Add(tc.key)
	}
	f.Fuzz(func(t *testing.T, key string) {
		segs := strings.Split(key, "/")
		want := len(segs) >= 2
		for _, s := range segs {
			want = want && ValidName(s)
		}
		if got := ValidKey(key); got != want {
			t.Fatalf("ValidKey(%q) = %v, want %v", key, got, want)
		}
		if !want {
			return
		}
		for _, s := range segs {
			if s == "" || s == "." || s == ".." || len(s) > MaxNameLen {
				t.Fatalf("segment %q accepted", s)
			}
			if strings.ContainsAny(s, "?#%\\ \x00") {
				t.Fatalf("segment %q accepted", s)
			}
		}
		if app := appOf(key); !strings.HasPrefix(key, app+"/") || !ValidName(key[len(app)+1:]) {
			t.Fatalf("appOf(%q) = %q", key, app)
		}
	})
}
