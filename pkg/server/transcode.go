package server

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/api"
	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/metrics"
	"github.com/ripplemedia/ripple/pkg/transcode"
)

// initTranscode builds the rendition ladders' manager when some app has a
// ladder (apps.NAME.transcode): a missing ffmpeg is then a start error
// naming transcode.ffmpeg. It stops before the hub, like the relays: its
// renditions must not be republished into a closing hub.
func (s *Server) initTranscode(cfg config.Config) error {
	ladders := make(map[string][]transcode.Rung)
	demand := make(map[string]bool)
	for app, a := range cfg.Apps {
		if len(a.Transcode) == 0 {
			continue
		}
		rungs := make([]transcode.Rung, 0, len(a.Transcode))
		for _, r := range a.Transcode {
			rungs = append(rungs, transcode.Rung{Name: r.Name, Video: r.Video, Audio: r.Audio})
		}
		ladders[app] = rungs
		demand[app] = a.TranscodeOn == config.TranscodeOnDemand
	}
	if len(ladders) == 0 {
		return nil
	}
	has := func(app string) bool { _, ok := ladders[app]; return ok }
	m, err := transcode.New(transcode.Config{
		Logger:       s.log.With("proto", access.ProtoTranscode),
		FFmpeg:       cfg.Transcode.FFmpeg,
		MaxProcesses: cfg.Transcode.MaxProcesses,
		IdleTimeout:  cfg.Transcode.IdleTimeout,
		Panics:       &s.panics,
		Viewers: func(st *hub.StreamInfo) int {
			if s.ops.api == nil {
				return st.Readers
			}
			n, _ := s.ops.api.Players(st)
			return n
		},
		Ladder: func(key string) ([]transcode.Rung, bool) {
			app, ok := access.MatchApp(key, has)
			if !ok {
				return nil, false
			}
			return ladders[app], demand[app]
		},
	}, s.hub)
	if errors.Is(err, transcode.ErrNoFFmpeg) {
		return fmt.Errorf("server: transcode.ffmpeg: %w (apps %v have a transcode ladder)", err,
			slices.Sorted(maps.Keys(ladders)))
	}
	if err != nil {
		return fmt.Errorf("server: transcode: %w", err)
	}
	s.transcoder = m
	s.add(part{name: "transcode", stage: stageBeforeHub, c: m})
	return nil
}

// transcodeStatus is the API's view of a source's ladder (nil: none).
func (s *Server) transcodeStatus() func(key string) *api.Transcode {
	if s.transcoder == nil {
		return nil
	}
	return func(key string) *api.Transcode {
		for _, st := range s.transcoder.Status() {
			if st.Key != key {
				continue
			}
			out := &api.Transcode{OnDemand: st.OnDemand, Running: st.Running, Restarts: st.Restarts, Speed: st.Speed,
				Renditions: make([]api.TranscodeRendition, 0, len(st.Renditions))}
			for _, r := range st.Renditions {
				out.Renditions = append(out.Renditions, api.TranscodeRendition{Name: r.Name, Key: r.Key, Live: r.Live,
					FPS: r.FPS, Bitrate: r.Bitrate, Frames: r.Frames})
			}
			return out
		}
		return nil
	}
}

// transcodeMetrics maps the ladders' state for the collector.
func (s *Server) transcodeMetrics() func() []metrics.Transcode {
	if s.transcoder == nil {
		return nil
	}
	return func() []metrics.Transcode {
		sts := s.transcoder.Status()
		out := make([]metrics.Transcode, 0, len(sts))
		for _, st := range sts {
			out = append(out, metrics.Transcode{Stream: st.Key, Running: st.Running, Restarts: st.Restarts, Speed: st.Speed})
		}
		return out
	}
}
