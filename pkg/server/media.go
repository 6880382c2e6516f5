package server

import (
	"net/http"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/metrics"
	"github.com/ripplemedia/ripple/pkg/thumb"
)

// newThumbnails maps the thumbnail.* keys and registers the thumbnailer;
// nil when thumbnail.enabled is false. A missing ffmpeg is not an error:
// the endpoint answers 501 and thumb logs one line.
func (s *Server) newThumbnails(cfg config.Config) *thumb.Thumbnailer {
	if !cfg.Thumbnail.Enabled {
		return nil
	}
	t := thumb.New(thumb.Config{
		Logger:        s.log,
		FFmpeg:        cfg.Thumbnail.FFmpeg,
		Interval:      cfg.Thumbnail.Interval,
		MaxConcurrent: cfg.Thumbnail.MaxConcurrent,
		Timeout:       cfg.Thumbnail.Timeout,
		Width:         cfg.Thumbnail.Width,
		Authorize:     s.auth.admitHTTP(access.ProtoThumbnail),
		Panics:        &s.panics,
	}, s.hub)
	s.add(part{name: "thumbnails", stage: stageListen, c: t})
	return t
}

// thumbStats feeds the thumbnail metrics; nil when thumbnails are off.
func (s *Server) thumbStats() metrics.Thumbnails {
	if s.thumbs == nil {
		return metrics.Thumbnails{}
	}
	st := s.thumbs.Stats()
	return metrics.Thumbnails{Decodes: st.Decodes, Failures: st.Failures, CacheHits: st.CacheHits}
}

// admitHTTP adapts the admission check to the HTTP handlers that only need
// a yes or no for a stream key (thumbnails, recordings): a play of key
// over proto, with the request's query and real client address.
func (a *authPart) admitHTTP(proto string) func(r *http.Request, key string) bool {
	return func(r *http.Request, key string) bool {
		return a.admit(r.Context(), access.Request{Action: access.Play, Protocol: proto, Key: key,
			Query: r.URL.RawQuery, RemoteAddr: r.RemoteAddr}) == nil
	}
}
