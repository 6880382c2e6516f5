// Package cors is the one CORS policy of Ripple's media endpoints (HTTP-FLV,
// WebSocket-FLV, HLS), so every player page gets the same answer.
package cors

import (
	"net/http"
	"strings"
)

// Policy answers CORS for GET/HEAD media requests and their preflights.
type Policy struct {
	origins []string // nil: any origin ("*")
}

// New parses allow: "*" (any origin) or a list of exact origins separated
// by commas or spaces ("https://a.example https://b.example").
func New(allow string) Policy {
	if allow == "*" {
		return Policy{}
	}
	return Policy{origins: strings.FieldsFunc(allow, func(r rune) bool { return r == ',' || r == ' ' })}
}

// Origins returns the allowed origins, or nil when any origin is allowed.
func (p Policy) Origins() []string { return p.origins }

// Set sets the response headers for r's Origin. An exact origin may carry
// credentials (mpegts.js/hls.js withCredentials); "*" never can (Fetch
// standard, CORS protocol).
func (p Policy) Set(hdr http.Header, r *http.Request) {
	if p.origins == nil {
		hdr.Set("Access-Control-Allow-Origin", "*")
		return
	}
	hdr.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	for _, o := range p.origins {
		if strings.EqualFold(origin, o) {
			hdr.Set("Access-Control-Allow-Origin", origin)
			hdr.Set("Access-Control-Allow-Credentials", "true")
			return
		}
	}
}

// Preflight answers an OPTIONS preflight (call Set first).
func Preflight(w http.ResponseWriter) {
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	hdr.Set("Access-Control-Allow-Headers", "Range, Accept, Accept-Encoding, Authorization, Content-Type, Origin, Cache-Control, If-None-Match, If-Modified-Since")
	hdr.Set("Access-Control-Max-Age", "86400")
	hdr.Set("Allow", "GET, HEAD, OPTIONS")
	w.WriteHeader(http.StatusNoContent)
}
