package cors

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPolicy(t *testing.T) {
	cases := []struct {
		name, allow, origin   string
		wantOrigin, wantCreds string
		wantVary              bool
	}{
		{"any", "*", "https://x.example", "*", "", false},
		{"listed", "https://a.example, https://b.example", "https://B.example", "https://B.example", "true", true},
		{"not listed", "https://a.example", "https://evil.example", "", "", true},
		{"no origin header", "https://a.example", "", "", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/live/cam.flv", nil)
			if c.origin != "" {
				r.Header.Set("Origin", c.origin)
			}
			hdr := http.Header{}
			New(c.allow).Set(hdr, r)
			require.Equal(t, c.wantOrigin, hdr.Get("Access-Control-Allow-Origin"))
			require.Equal(t, c.wantCreds, hdr.Get("Access-Control-Allow-Credentials"))
			require.Equal(t, c.wantVary, hdr.Get("Vary") == "Origin")
		})
	}
	require.Nil(t, New("*").Origins())
	require.Equal(t, []string{"https://a.example", "https://b.example"}, New("https://a.example https://b.example").Origins())
}

func TestPreflight(t *testing.T) {
	w := httptest.NewRecorder()
	Preflight(w)
	require.Equal(t, http.StatusNoContent, w.Code)
	require.Equal(t, "GET, HEAD, OPTIONS", w.Header().Get("Access-Control-Allow-Methods"))
	require.Contains(t, w.Header().Get("Access-Control-Allow-Headers"), "Range")
	require.Contains(t, w.Header().Get("Access-Control-Allow-Headers"), "If-None-Match")
}
