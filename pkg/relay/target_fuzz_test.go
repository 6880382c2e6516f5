package relay

import (
	"strings"
	"testing"

	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// FuzzParseTarget: any template either fails to parse or expands, for any
// app and stream name, to an RTMP URL rtmp.ParseURL accepts and a non-empty
// stream name, or to an http(s) URL; the display form never carries the
// query.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{
		"rtmp://h/live", "rtmp://h:1936/{app}", "rtmp://h/backup/{stream}_hd", "rtmp://h/x/y/fixed",
		"rtmp://h/{app}?token={stream}", "rtmp://h/live/", "http://o:8080", "http://o:8080/{app}",
		"https://o/{app}/{stream}.flv?k=1", "rtmp://h", "rtmp:///live", "h/live", "srt://h/live",
		"rtmp://h/{name}", "http:///x", "rtmp://u:p@h/a?x#y",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, allowHTTP bool) {
		tg, err := parseTarget(raw, allowHTTP)
		if err != nil {
			return
		}
		for _, name := range [][2]string{{"live", "cam"}, {"a/b", "x.y"}} {
			if tg.http {
				if !allowHTTP {
					t.Fatalf("%q: http target without allowHTTP", raw)
				}
				u := tg.httpURL(name[0], name[1], "token=1")
				if !strings.HasPrefix(u, "http") {
					t.Fatalf("%q: http url %q", raw, u)
				}
			} else {
				c, s := tg.rtmpURL(name[0], name[1], "token=1")
				if _, err := rtmp.ParseURL(c); err != nil {
					t.Fatalf("%q: connect url %q: %v", raw, c, err)
				}
				if s == "" || strings.HasPrefix(s, "?") {
					t.Fatalf("%q: empty stream name %q", raw, s)
				}
			}
			if d := tg.display(name[0], name[1]); strings.Contains(d, "?") {
				t.Fatalf("%q: display %q carries the query", raw, d)
			}
		}
	})
}
