package server

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/api"
	"github.com/ripplemedia/ripple/pkg/auth"
	"github.com/ripplemedia/ripple/pkg/config"
	"github.com/ripplemedia/ripple/pkg/internal/netx"
	"github.com/ripplemedia/ripple/pkg/record"
)

// recordingsPrefix is where the HTTP listener serves recorded files.
const recordingsPrefix = "/recordings/"

// newRecorder maps the record section and every app's overrides, and
// registers the recorder. It stops after the hub closed: its readers end
// with their streams, and Shutdown finishes every file.
func (s *Server) newRecorder(cfg config.Config) (*record.Manager, error) {
	if err := record.ValidateTemplate(cfg.Record.Path); err != nil {
		return nil, fmt.Errorf("config: record.path: %w", err)
	}
	templates := []string{cfg.Record.Path}
	for _, app := range slices.Sorted(maps.Keys(cfg.Apps)) {
		p := cfg.RecordFor(app).Path
		if err := record.ValidateTemplate(p); err != nil {
			return nil, fmt.Errorf("config: apps.%s.record.path: %w", app, err)
		}
		templates = append(templates, p)
	}
	slices.Sort(templates)
	m := record.New(record.Config{
		Logger:     s.log,
		Rule:       recordRules(cfg),
		SkipPulled: cfg.Cluster.Enabled(), // each stream is recorded once, on its origin
		Templates:  slices.Compact(templates),
		Panics:     &s.panics,
		OnEvent:    s.onRecordEvent,
	}, s.hub)
	s.add(part{name: "recorder", stage: stageAfterHub, c: m})
	return m, nil
}

// recordRules resolves each app's recording settings once; a key takes
// those of the app it lies under (access.MatchApp), else record's.
func recordRules(cfg config.Config) func(key string) record.Rule {
	rules := map[string]record.Rule{"": toRule(cfg.Record)}
	for app := range cfg.Apps {
		rules[app] = toRule(cfg.RecordFor(app))
	}
	return func(key string) record.Rule {
		app, _ := access.MatchApp(key, func(a string) bool { _, ok := rules[a]; return ok })
		return rules[app]
	}
}

func toRule(r config.Record) record.Rule {
	f := record.FormatFMP4
	if r.Format == config.RecordFLV {
		f = record.FormatFLV
	}
	return record.Rule{Enabled: r.Enabled, Format: f, Path: r.Path, SegmentDuration: r.SegmentDuration,
		DeleteAfter: r.DeleteAfter, MaxBytes: int64(r.MaxBytes)}
}

// onRecordEvent passes a recorder event on: to the API's event stream,
// and a finished file to on_record_done. It runs on a recording's
// goroutine: both only queue.
func (s *Server) onRecordEvent(e record.Event) {
	rec := apiRecording(e.Recording)
	if a := s.ops.api; a != nil {
		errText := ""
		if e.Err != nil {
			errText = e.Err.Error()
		}
		a.PublishRecording(e.Type.String(), rec, errText)
	}
	if e.Type == record.EventDone {
		file, err := filepath.Abs(e.Recording.Path)
		if err != nil {
			file = e.Recording.Path
		}
		s.auth.chk.NotifyRecordDone(auth.RecordDone{App: rec.App, Stream: rec.Stream, File: file, URL: rec.URL,
			Format: rec.Format, Start: rec.Start, Duration: e.Recording.Duration, Size: rec.SizeBytes})
	}
}

func apiRecording(r record.Recording) api.Recording {
	return api.Recording{Key: r.Key, App: r.App, Stream: r.Stream, Name: r.Name, URL: recordingsPrefix + r.Name,
		Format: r.Format.String(), Start: r.Start.UTC(), DurationSeconds: r.Duration.Seconds(),
		SizeBytes: r.Size, InProgress: r.InProgress}
}

// serveRecordings serves GET /recordings/{name} (the recorder's files,
// behind play admission, every write under http.write_timeout) ahead of
// next: HLS would otherwise take a name ending in .mp4.
func (s *Server) serveRecordings(next http.Handler) http.Handler {
	files := netx.WriteDeadlines(s.rec.Handler(s.auth.admitHTTP(access.ProtoRecord)), s.cfg.HTTP.WriteTimeout)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, recordingsPrefix) {
			next.ServeHTTP(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// apiRecorder adapts the recorder to the API.
type apiRecorder struct{ m *record.Manager }

func (a apiRecorder) Start(key string) error    { return recordErr(a.m.StartRecording(key)) }
func (a apiRecorder) Stop(key string) error     { return recordErr(a.m.StopRecording(key)) }
func (a apiRecorder) Recording(key string) bool { return a.m.Recording(key) }

func (a apiRecorder) List(app, stream string) ([]api.Recording, error) {
	list, err := a.m.Recordings(app, stream)
	if err != nil {
		return nil, recordErr(err)
	}
	out := make([]api.Recording, len(list))
	for i, r := range list {
		out[i] = apiRecording(r)
	}
	return out, nil
}

// recordErr maps the recorder's errors to the API's.
func recordErr(err error) error {
	switch {
	case errors.Is(err, record.ErrNotLive):
		return api.ErrNotLive
	case errors.Is(err, record.ErrAlreadyRecording):
		return api.ErrAlreadyRecording
	case errors.Is(err, record.ErrNotRecording):
		return api.ErrNotRecording
	case errors.Is(err, record.ErrBadFilter):
		return api.ErrBadFilter
	}
	return err
}
