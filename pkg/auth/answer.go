package auth

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of an on_publish answer's restream targets. A target carries a
// stream key (a secret of the destination's account), so it is never
// logged: only counts and the hook's address are.
const (
	// maxAnswer bounds how much of a 2xx answer is read; a longer one is
	// malformed (admitted, without targets).
	maxAnswer = 64 << 10
	// MaxForwardTargets is how many targets one answer may list; the
	// ones after it are dropped.
	MaxForwardTargets = 16
	// MaxForwardURL bounds one target's length in bytes.
	MaxForwardURL = 2 << 10
)

// publishAnswer is the part of an on_publish 2xx answer Ripple reads:
//
//	{"forward": ["rtmps://live-api-s.facebook.com:443/rtmp/KEY", "rtmp://a.rtmp.youtube.com/live2/KEY"]}
//
// Any other field is ignored (an SRS-style {"code": 0} is a plain admit).
// Members of "forward" are decoded one by one, so that a bad one drops only
// itself.
type publishAnswer struct {
	Forward []json.RawMessage `json:"forward"`
}

// parseForward returns the restream targets of an on_publish 2xx answer b
// (as post read it: up to maxAnswer+1 bytes).
//
// The answer is parsed as JSON when its first non-blank byte is '{',
// whatever its Content-Type: hooks written as small scripts often label
// JSON text/plain or text/html, while SRS-compatible hooks answer "0"
// labelled application/json; both must keep admitting silently. Anything
// else (empty, "0", "OK") admits without targets.
//
// malformed counts what was thrown away: 1 for a body that is not a JSON
// object or is over maxAnswer bytes or whose "forward" is not an array
// (then no target is taken), else the members that are not valid targets
// (validTarget) or beyond MaxForwardTargets. Duplicates are dropped
// silently.
func parseForward(b []byte) (targets []string, malformed int) {
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return nil, 0
	}
	if len(b) > maxAnswer {
		return nil, 1
	}
	var ans publishAnswer
	if err := json.Unmarshal(t, &ans); err != nil {
		return nil, 1
	}
	for _, raw := range ans.Forward {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || !validTarget(s) {
			malformed++
			continue
		}
		if slices.Contains(targets, s) {
			continue
		}
		if len(targets) == MaxForwardTargets {
			malformed++
			continue
		}
		targets = append(targets, s)
	}
	return targets, malformed
}

// validTarget reports whether s may be handed to the relay as a push
// destination: at most MaxForwardURL bytes, no control characters or
// spaces (C1 controls and Unicode spaces included), valid UTF-8, scheme
// rtmp or rtmps (case-insensitive), and a host.
func validTarget(s string) bool {
	if s == "" || len(s) > MaxForwardURL || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return false
		}
	}
	u, err := url.Parse(s)
	if err != nil { // its text holds the URL: never logged
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "rtmp", "rtmps":
	default:
		return false
	}
	return u.Host != "" && u.Opaque == ""
}

// hookAddr is a hook's URL for a log line: scheme, host and path, without
// user info or query, which may hold credentials.
func hookAddr(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
