package server

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/hls"
)

// hlsPart is the server's HLS egress: nil Manager when hls.enabled is false.
type hlsPart struct {
	m *hls.Manager
}

// newHLS maps the hls.* keys (an empty hls.allow_origin inherits
// http.allow_origin) and registers the manager. It stops after the hub
// closed: its muxers end on the end of their stream and finish their last
// segment; until then, blocked playlist requests keep waiting.
func newHLS(cfg config.Config, log *slog.Logger, s *Server) hlsPart {
	if !cfg.HLS.Enabled {
		return hlsPart{}
	}
	hc := hlsConfig(cfg, log)
	hc.Authorize = s.auth.admit // every HLS object, per hls.auth_scope
	hc.Restricted = s.auth.chk.PlayRestricted
	hc.Panics = &s.panics
	m := hls.New(hc, s.hub)
	s.add(part{name: "hls", stage: stageAfterHub, c: m})
	return hlsPart{m: m}
}

// viewers counts a stream's HLS viewers for the API and the metrics; nil
// when HLS is off.
func (h hlsPart) viewers() func(key string) int {
	if h.m == nil {
		return nil
	}
	return h.m.Viewers
}

func hlsConfig(cfg config.Config, log *slog.Logger) hls.Config {
	origin := cfg.HLS.AllowOrigin
	if origin == "" {
		origin = cfg.HTTP.AllowOrigin
	}
	return hls.Config{
		Logger:          log,
		Variant:         hlsVariant(cfg.HLS.Variant),
		SegmentDuration: cfg.HLS.SegmentDuration,
		PartDuration:    cfg.HLS.PartDuration,
		SegmentCount:    cfg.HLS.SegmentCount,
		SegmentKeep:     cfg.HLS.SegmentKeep,
		OnDemand:        cfg.HLS.OnDemand,
		IdleTimeout:     cfg.HLS.IdleTimeout,
		Directory:       cfg.HLS.Directory,
		AllowOrigin:     origin,
		WriteTimeout:    cfg.HTTP.WriteTimeout,

		SegmentMaxDuration: cfg.HLS.SegmentMaxDuration,
		SegmentMaxBytes:    int64(cfg.HLS.SegmentMaxBytes),
		AuthScope:          hlsAuthScope(cfg.HLS.AuthScope),
	}
}

// hlsVariant maps a validated hls.variant.
func hlsVariant(v config.HLSVariant) hls.Variant {
	switch v {
	case config.HLSVariantFMP4:
		return hls.VariantFMP4
	case config.HLSVariantLowLatency:
		return hls.VariantLowLatency
	}
	return hls.VariantMPEGTS
}

// hlsAuthScope maps a validated hls.auth_scope.
func hlsAuthScope(s config.HLSAuthScope) hls.AuthScope {
	if s == config.HLSAuthScopeEntry {
		return hls.AuthScopeEntry
	}
	return hls.AuthScopeAll
}

// withHLS routes /{app...}/{stream}.m3u8 and the files under
// /{app...}/{stream}/ (.ts, .m4s, .mp4) to HLS, everything else to next.
// Go 1.22 patterns cannot match a suffix, so this dispatches on it, like
// the .flv router.
func (h hlsPart) wrap(next http.Handler) http.Handler {
	if h.m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isHLSPath(r.URL.Path) {
			h.m.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isHLSPath(p string) bool {
	for _, ext := range [...]string{".m3u8", ".ts", ".m4s", ".mp4"} {
		if strings.HasSuffix(p, ext) && strings.Count(p, "/") >= 2 {
			return true
		}
	}
	return false
}
