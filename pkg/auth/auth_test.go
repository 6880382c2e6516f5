package auth

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestSplitKey(t *testing.T) {
	for _, tc := range []struct{ key, app, stream string }{
		{"live/cam1", "live", "cam1"},
		{"a/b/c", "a/b", "c"},
		{"solo", "", "solo"},
	} {
		app, stream := SplitKey(tc.key)
		require.Equal(t, tc.app, app, tc.key)
		require.Equal(t, tc.stream, stream, tc.key)
		if tc.app != "" {
			require.Equal(t, tc.key, Request{App: app, Stream: stream}.Key())
		}
	}
}

// TestTokenMatchesOpenSSL checks Token against the openssl one-liner the
// README documents, so the documentation cannot drift from the code.
func TestTokenMatchesOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl not installed")
		}
		t.Skip("openssl not installed")
	}
	const secret, app, stream = "s3cr3t", "live", "cam1"
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).Unix()
	cmd := exec.Command("sh", "-c", `printf '%s' "$MSG" | "$OPENSSL" dgst -sha256 -hmac "$SECRET" | sed 's/^.* //'`)
	cmd.Env = append(os.Environ(), "MSG="+app+"/"+stream+":"+strconv.FormatInt(exp, 10), "OPENSSL="+openssl, "SECRET="+secret)
	out, err := cmd.Output()
	require.NoError(t, err)
	require.Equal(t, strings.TrimSpace(string(out)), Token(secret, app, stream, exp))
	require.Equal(t, "live/cam1:"+strconv.FormatInt(exp, 10), SignedString(app, stream, exp))
}

func TestVerify(t *testing.T) {
	const secret = "k"
	now := time.Unix(1_800_000_000, 0)
	future := now.Add(time.Hour)
	good := SignQuery(secret, "live", "cam1", future)
	tok := Token(secret, "live", "cam1", future.Unix())
	exp := strconv.FormatInt(future.Unix(), 10)
	for _, tc := range []struct {
		name, app, stream, query string
		wantErr                  string // "" = accepted
	}{
		{"valid", "live", "cam1", good, ""},
		{"valid_with_other_params", "live", "cam1", "a=1&" + good + "&b=2", ""},
		{"valid_uppercase_hex", "live", "cam1", "expires=" + exp + "&token=" + strings.ToUpper(tok), ""},
		{"expires_now_is_valid", "live", "cam1", SignQuery(secret, "live", "cam1", now), ""},
		{"expired", "live", "cam1", SignQuery(secret, "live", "cam1", now.Add(-time.Second)), "expired"},
		{"missing_all", "live", "cam1", "", "missing"},
		{"missing_token", "live", "cam1", "expires=" + exp, "missing"},
		{"missing_expires", "live", "cam1", "token=" + tok, "missing"},
		{"other_stream", "live", "cam2", good, "invalid token"},
		{"other_app", "vod", "cam1", good, "invalid token"},
		{"wrong_secret", "live", "cam1", SignQuery("other", "live", "cam1", future), "invalid token"},
		{"expires_tampered", "live", "cam1", "expires=" + strconv.FormatInt(future.Unix()+1, 10) + "&token=" + tok, "invalid token"},
		{"short_token", "live", "cam1", "expires=" + exp + "&token=abcd", "length"},
		{"not_hex", "live", "cam1", "expires=" + exp + "&token=" + strings.Repeat("zz", 32), "not hex"},
		{"bad_expires", "live", "cam1", "expires=soon&token=" + tok, "invalid expires"},
		{"negative_expires", "live", "cam1", "expires=-5&token=" + tok, "invalid expires"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := verify(secret, tc.app, tc.stream, tc.query, now)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrUnauthorized)
			require.Contains(t, Reason(err), tc.wantErr)
		})
	}
}

func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add("live", "cam1", SignQuery("k", "live", "cam1", now.Add(time.Hour)))
	f.Add("live", "cam1", "expires=1&token=00")
	f.Add("a/b", "c", "%zz&expires=&token=")
	f.Fuzz(func(t *testing.T, app, stream, query string) {
		err := verify("k", app, stream, query, now)
		if err != nil {
			require.ErrorIs(t, err, ErrUnauthorized)
			require.LessOrEqual(t, len(Reason(err)), 300)
		}
	})
}

func TestIPList(t *testing.T) {
	l, err := ParseIPList(SplitList("10.0.0.0/8, 192.0.2.7 2001:db8::/32,\t::ffff:198.51.100.0/120"))
	require.NoError(t, err)
	require.Equal(t, 4, l.Len())
	for _, tc := range []struct {
		addr string
		in   bool
	}{
		{"10.1.2.3", true},
		{"10.1.2.3:5555", true},
		{"[::ffff:10.1.2.3]:80", true},
		{"11.0.0.1", false},
		{"192.0.2.7", true},
		{"192.0.2.8", false},
		{"[2001:db8::1]:1935", true},
		{"2001:db9::1", false},
		{"198.51.100.9", true},
		{"fe80::1%eth0", false},
	} {
		a, ok := ParseAddr(tc.addr)
		require.True(t, ok, tc.addr)
		require.Equal(t, tc.in, l.Contains(a), tc.addr)
	}
	_, ok := ParseAddr("@unix")
	require.False(t, ok)
	for _, bad := range []string{"10.0.0.0/33", "example.com", "1.2.3"} {
		_, err := ParseIPList([]string{bad})
		require.Error(t, err, bad)
		require.Contains(t, err.Error(), bad)
	}
	var empty IPList
	require.True(t, empty.Empty())
}

func TestErrorHTTPStatus(t *testing.T) {
	var e *Error
	require.ErrorAs(t, unauthorized("x"), &e)
	require.Equal(t, 401, e.HTTPStatus())
	require.ErrorAs(t, forbidden("x"), &e)
	require.Equal(t, 403, e.HTTPStatus())
	require.Equal(t, "auth: forbidden: x", forbidden("x").Error())
	require.Equal(t, "x", Reason(forbidden("x")))
}
