package hub

import "strings"

// MaxNameLen is the longest app or stream name segment.
const MaxNameLen = 128

// ValidName reports whether s is a valid app or stream name segment:
// [A-Za-z0-9._~-]{1,128}, not "." or "..". A key is app + "/" + name where
// app may itself hold several such segments separated by "/"
// (ffmpeg maps rtmp://h/a/b/c to app "a/b", stream "c").
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == '~', c == '-':
		default:
			return false
		}
	}
	return true
}

// ValidKey reports whether key is one or more valid names joined by "/",
// with at least two segments (app and stream).
func ValidKey(key string) bool {
	n := 0
	for seg := range strings.SplitSeq(key, "/") {
		if !ValidName(seg) {
			return false
		}
		n++
	}
	return n >= 2
}

// appOf returns the app part of a valid key: everything before the last "/".
func appOf(key string) string {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[:i]
	}
	return key
}
