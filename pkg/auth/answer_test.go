package auth

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/internal/logtest"
)

func TestParseForward(t *testing.T) {
	const yt = "rtmp://a.rtmp.youtube.com/live2/KEY1"
	const fb = "rtmps://live-api-s.facebook.com:443/rtmp/KEY2"
	many := make([]string, MaxForwardTargets+3)
	quoted := make([]string, len(many))
	for i := range many {
		many[i] = fmt.Sprintf("rtmp://h%d.example/live/k%d", i, i)
		quoted[i] = `"` + many[i] + `"`
	}
	for _, tc := range []struct {
		name      string
		body      string
		want      []string
		malformed int
	}{
		{"empty", "", nil, 0},
		{"srs_zero", "0", nil, 0},
		{"text", "OK\n", nil, 0},
		{"array_not_object", `["rtmp://h/a/b"]`, nil, 0},
		{"srs_code", `{"code": 0}`, nil, 0},
		{"two", `{"forward": ["` + fb + `", "` + yt + `"]}`, []string{fb, yt}, 0},
		{"leading_blank", "\r\n  {\"forward\": [\"" + yt + "\"]}", []string{yt}, 0},
		{"other_fields_ignored", `{"code":0,"forward":["` + yt + `"],"data":{"x":[1,2]}}`, []string{yt}, 0},
		{"null_forward", `{"forward": null}`, nil, 0},
		{"duplicates", `{"forward": ["` + yt + `", "` + yt + `"]}`, []string{yt}, 0},
		{"upper_scheme", `{"forward": ["RTMPS://h.example/app/k"]}`, []string{"RTMPS://h.example/app/k"}, 0},
		{"truncated", `{"forward": ["` + yt, nil, 1},
		{"forward_not_array", `{"forward": "` + yt + `"}`, nil, 1},
		{"trailing_garbage", `{"forward": []} x`, nil, 1},
		{"bad_members", `{"forward": [1, "http://h/a/b", "rtmp:///nohost", "rtmp:opaque", "rtmp://h/a b", ` +
			`"rtmp://h/a\u0007", "rtmp://h/a\u0085", "", {"url": "rtmp://h/a/b"}, "` + yt + `"]}`, []string{yt}, 9},
		{"too_long", `{"forward": ["rtmp://h/a/` + strings.Repeat("k", MaxForwardURL) + `", "` + yt + `"]}`, []string{yt}, 1},
		{"too_many", `{"forward": [` + strings.Join(quoted, ",") + `]}`, many[:MaxForwardTargets], 3},
		{"oversized", `{"forward": ["` + yt + `"], "pad": "` + strings.Repeat("x", maxAnswer) + `"}`, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, bad := parseForward([]byte(tc.body))
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.malformed, bad)
		})
	}
}

func TestHookAddr(t *testing.T) {
	require.Equal(t, "https://hooks.example/on_publish", hookAddr("https://user:pw@hooks.example/on_publish?token=s3cret"))
	require.Equal(t, "(unparseable)", hookAddr("http://h/%zz"))
}

// syncBuffer collects output written from several goroutines.
type syncBuffer = logtest.Buffer

// TestCheckPublishForward runs the on_publish hook over HTTP and checks the
// targets its answer gives, whatever the answer's label.
func TestCheckPublishForward(t *testing.T) {
	const yt = "rtmp://a.rtmp.youtube.com/live2/SECRETKEY"
	const fb = "rtmps://live-api-s.facebook.com:443/rtmp/FBSECRET"
	targets := `{"forward": ["` + fb + `", "` + yt + `"]}`
	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		body        string
		want        []string
		wantErr     bool
		wantLog     bool
	}{
		{"json", 200, "application/json", targets, []string{fb, yt}, false, false},
		{"json_labelled_text", 200, "text/plain", targets, []string{fb, yt}, false, false},
		{"no_content", 204, "", "", nil, false, false},
		{"srs_zero_json", 200, "application/json", "0", nil, false, false},
		{"malformed_admits", 200, "application/json", `{"forward": ["` + yt, nil, false, true},
		{"bad_member_logged", 201, "application/json", `{"forward": ["` + yt + `", "http://x/` + "HTTPSECRET" + `"]}`,
			[]string{yt}, false, true},
		{"refused", 403, "application/json", targets, nil, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			var logs syncBuffer
			c, err := New(Config{
				Logger: slog.New(slog.NewTextHandler(&logs, nil)),
				Rules:  Rules{OnPublish: Hook{URL: srv.URL + "/on_publish?token=HOOKSECRET", Timeout: 5 * time.Second}},
			})
			require.NoError(t, err)
			defer func() { require.NoError(t, c.Shutdown(context.Background())) }()

			req := Request{App: "live", Stream: "cam", RemoteIP: "192.0.2.1:6000", Protocol: "rtmp"}
			got, err := c.CheckPublishForward(context.Background(), req)
			if tc.wantErr {
				require.ErrorIs(t, err, ErrForbidden)
				require.Nil(t, got, "a refusal carries no targets")
			} else {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
			}
			require.Equal(t, tc.wantErr, c.CheckPublish(context.Background(), req) != nil, "CheckPublish agrees")

			out := logs.String()
			if tc.wantLog {
				require.Contains(t, out, "on_publish answer malformed")
				require.Contains(t, out, "hook="+srv.URL+"/on_publish")
			} else {
				require.NotContains(t, out, "malformed")
			}
			for _, secret := range []string{"SECRETKEY", "FBSECRET", "HTTPSECRET", "HOOKSECRET"} {
				require.NotContains(t, out, secret, "targets and the hook's query are never logged")
			}
		})
	}

	t.Run("fail_open_no_answer", func(t *testing.T) {
		c := newChecker(t, Rules{OnPublish: Hook{URL: downURL(t), Timeout: time.Second, FailOpen: true}}, time.Now())
		got, err := c.CheckPublishForward(context.Background(), Request{App: "live", Stream: "cam"})
		require.NoError(t, err)
		require.Nil(t, got)
	})

	t.Run("no_hook", func(t *testing.T) {
		c := newChecker(t, Rules{}, time.Now())
		got, err := c.CheckPublishForward(context.Background(), Request{App: "live", Stream: "cam"})
		require.NoError(t, err)
		require.Nil(t, got)
	})

	t.Run("refusal_body_still_bounded", func(t *testing.T) {
		srv, _ := hookServer(t, 403, 0, strings.Repeat("r", 100<<10))
		c := newChecker(t, Rules{OnPublish: Hook{URL: srv.URL}}, time.Now())
		_, err := c.CheckPublishForward(context.Background(), Request{App: "live", Stream: "cam"})
		require.ErrorIs(t, err, ErrForbidden)
		require.Len(t, Reason(err), len("rejected by on_publish hook: ")+maxReasonLen)
	})

	t.Run("oversized_answer_admits_without_targets", func(t *testing.T) {
		big := `{"forward": ["` + yt + `"], "pad": "` + strings.Repeat("x", 1<<20) + `"}`
		srv, _ := hookServer(t, 200, 0, big)
		c := newChecker(t, Rules{OnPublish: Hook{URL: srv.URL}}, time.Now())
		got, err := c.CheckPublishForward(context.Background(), Request{App: "live", Stream: "cam"})
		require.NoError(t, err)
		require.Nil(t, got)
	})
}
