package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Recorder is the recorder as the API sees it (pkg/server adapts
// pkg/record to it, so that the API does not import the recorder).
type Recorder interface {
	// Start records a live stream; ErrNotLive, ErrAlreadyRecording.
	Start(key string) error
	// Stop ends its recording; ErrNotRecording.
	Stop(key string) error
	// Recording reports whether key is being recorded.
	Recording(key string) bool
	// List returns the recordings of app and stream ("" = any), newest
	// first.
	List(app, stream string) ([]Recording, error)
}

// Errors a Recorder returns, mapped to 404 and 409.
var (
	ErrNotLive          = errors.New("stream not live")
	ErrAlreadyRecording = errors.New("stream already being recorded")
	ErrNotRecording     = errors.New("stream not being recorded")
	// ErrBadFilter: List was given an app or stream no stream can have.
	ErrBadFilter = errors.New("not a stream's app or name")
)

// recordSuffix names a stream's recording sub-resource:
// /streams/{app}/{stream}/record.
const recordSuffix = "/record"

// SSE events of the recorder.
const (
	EventRecordingStarted = "recording_started"
	EventRecordingDone    = "recording_done"
	EventRecordingError   = "recording_error"
)

// RecordingEvent is the data of recording_started, recording_done and
// recording_error.
type RecordingEvent struct {
	Time time.Time `json:"time"`
	Recording
	Error string `json:"error,omitempty"` // recording_error
}

// RecordingState is the answer of POST /streams/{app}/{stream}/record.
type RecordingState struct {
	Key       string `json:"key"`
	Recording bool   `json:"recording"`
}

// PublishRecording sends a recorder event (one of the EventRecording*
// names) to the event stream; errText is set for recording_error.
func (a *API) PublishRecording(kind string, rec Recording, errText string) {
	a.broker.publish(kind, RecordingEvent{Time: time.Now().UTC(), Recording: rec, Error: errText})
}

func (a *API) recordingOf(key string) bool {
	return a.cfg.Recorder != nil && a.cfg.Recorder.Recording(key)
}

// listRecordings serves GET /recordings[?app=&stream=].
func (a *API) listRecordings(w http.ResponseWriter, r *http.Request) {
	out := []Recording{}
	if a.cfg.Recorder != nil {
		q := r.URL.Query()
		list, err := a.cfg.Recorder.List(q.Get("app"), q.Get("stream"))
		if errors.Is(err, ErrBadFilter) {
			writeError(w, http.StatusBadRequest, "app and stream must be a stream's app and name")
			return
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, "list recordings: "+err.Error())
			return
		}
		out = append(out, list...)
	}
	writeJSON(w, http.StatusOK, out)
}

// streamPost serves POST /streams/{app}/{stream}/record and POST
// /streams/{app}/{stream}/forwards.
func (a *API) streamPost(w http.ResponseWriter, r *http.Request) {
	path := r.PathValue("path")
	if key, ok := forwardsKey(path); ok {
		a.addForward(w, r, key)
		return
	}
	key, ok := strings.CutSuffix(path, recordSuffix)
	if !ok {
		w.Header().Set("Allow", "GET, HEAD, DELETE")
		writeError(w, http.StatusMethodNotAllowed, "method POST not allowed on "+r.URL.Path)
		return
	}
	if a.cfg.Recorder == nil {
		writeError(w, http.StatusNotImplemented, "recording is not available on this server")
		return
	}
	if err := a.cfg.Recorder.Start(key); err != nil {
		a.recordError(w, key, err)
		return
	}
	a.log.Info("recording started by the API", "stream", key, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusCreated, RecordingState{Key: key, Recording: true})
}

// streamDelete serves DELETE /streams/{app}/{stream}/record (stop
// recording), DELETE /streams/{app}/{stream}/forwards/{id} (remove a
// restream target) and DELETE /streams/{app}/{stream} (kick the
// publisher). The sub-resources win when an app and a stream precede the
// suffix: "live/cam/record" and "live/cam/forwards/7" are sub-resources, so
// the streams of those keys (app "live/cam", stream "record"; app
// "live/cam/forwards", stream "7") cannot be kicked through this route
// (GET /streams still lists them). "live/record" is always the stream.
func (a *API) streamDelete(w http.ResponseWriter, r *http.Request) {
	path := r.PathValue("path")
	if key, id, ok := forwardKey(path); ok {
		a.removeForward(w, r, key, id)
		return
	}
	key, ok := strings.CutSuffix(path, recordSuffix)
	if !ok || !strings.Contains(key, "/") {
		a.kickPublisher(w, r)
		return
	}
	if a.cfg.Recorder == nil {
		writeError(w, http.StatusNotImplemented, "recording is not available on this server")
		return
	}
	if err := a.cfg.Recorder.Stop(key); err != nil {
		a.recordError(w, key, err)
		return
	}
	a.log.Info("recording stopped by the API", "stream", key, "remote", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) recordError(w http.ResponseWriter, key string, err error) {
	q := strconv.Quote(key)
	switch {
	case errors.Is(err, ErrNotLive):
		writeError(w, http.StatusNotFound, "stream "+q+" is not live")
	case errors.Is(err, ErrNotRecording):
		writeError(w, http.StatusNotFound, "stream "+q+" is not being recorded")
	case errors.Is(err, ErrAlreadyRecording):
		writeError(w, http.StatusConflict, "stream "+q+" is already being recorded")
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}
