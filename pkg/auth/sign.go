package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"time"
)

// Query parameters of a signed URL.
const (
	ParamExpires = "expires"
	ParamToken   = "token"
)

// maxTokenLen bounds the token we decode: a SHA-256 HMAC is 64 hex digits.
const maxTokenLen = 2 * sha256.Size

// SignedString is the exact text a token signs: "{app}/{stream}:{expires}",
// with expires in decimal Unix seconds, e.g. "live/cam1:1767225600".
func SignedString(app, stream string, expires int64) string {
	return app + "/" + stream + ":" + strconv.FormatInt(expires, 10)
}

// Token returns lowercase hex(HMAC-SHA256(secret, SignedString(...))).
func Token(secret, app, stream string, expires int64) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(SignedString(app, stream, expires)))
	return hex.EncodeToString(m.Sum(nil))
}

// SignQuery returns the query string ("expires=...&token=...") that lets
// app/stream be published or played until expires with secret. A backend or
// CDN appends it to the URL: rtmp://host/live/cam1?<query>.
func SignQuery(secret, app, stream string, expires time.Time) string {
	exp := expires.Unix()
	return ParamExpires + "=" + strconv.FormatInt(exp, 10) + "&" + ParamToken + "=" + Token(secret, app, stream, exp)
}

// verify checks the token in query for app/stream against secret at now.
// Tokens compare in constant time; an expired token is refused even when it
// is valid.
func verify(secret, app, stream, rawQuery string, now time.Time) error {
	q, err := url.ParseQuery(rawQuery)
	if err != nil && len(q) == 0 {
		return unauthorized("malformed query string")
	}
	expStr, tok := q.Get(ParamExpires), q.Get(ParamToken)
	if expStr == "" || tok == "" {
		return unauthorized("signed URL required: missing %s or %s", ParamExpires, ParamToken)
	}
	exp, err := strconv.ParseInt(expStr, 10, 64)
	if err != nil || exp < 0 {
		return unauthorized("invalid %s %q", ParamExpires, truncate(expStr, 20))
	}
	if len(tok) != maxTokenLen {
		return unauthorized("invalid token: length %d, want %d hex digits", len(tok), maxTokenLen)
	}
	got, err := hex.DecodeString(tok)
	if err != nil {
		return unauthorized("invalid token: not hex")
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(SignedString(app, stream, exp)))
	if !hmac.Equal(got, m.Sum(nil)) {
		return unauthorized("invalid token")
	}
	// Checked after the signature so that an attacker learns nothing about
	// expiry from unsigned guesses.
	if now.Unix() > exp {
		return unauthorized("token expired at %d", exp)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
