package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeRecorder stands in for pkg/record (tested on its own and end to end
// in pkg/internal/e2e): this tests the API's mapping of it.
type fakeRecorder struct {
	mu        sync.Mutex
	live      map[string]bool
	recording map[string]bool
	list      []Recording
	listErr   error
	asked     [2]string // the last List filter
}

func (f *fakeRecorder) Start(key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case !f.live[key]:
		return ErrNotLive
	case f.recording[key]:
		return ErrAlreadyRecording
	}
	f.recording[key] = true
	return nil
}

func (f *fakeRecorder) Stop(key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.recording[key] {
		return ErrNotRecording
	}
	delete(f.recording, key)
	return nil
}

func (f *fakeRecorder) Recording(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.recording[key]
}

func (f *fakeRecorder) List(app, stream string) ([]Recording, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = [2]string{app, stream}
	return f.list, f.listErr
}

func TestRecordStartStop(t *testing.T) {
	rec := &fakeRecorder{live: map[string]bool{"live/cam": true, "a/b/cam": true}, recording: map[string]bool{}}
	e := newEnv(t, Config{Recorder: rec})
	pub := e.publisher(t, "live", "cam")
	defer pub.Close()

	status, _, body := e.call(t, "POST", "/api/v1/streams/live/cam/record", nil)
	require.Equal(t, http.StatusCreated, status, string(body))
	var st RecordingState
	require.NoError(t, json.Unmarshal(body, &st))
	require.Equal(t, RecordingState{Key: "live/cam", Recording: true}, st)

	var streams []Stream
	e.getJSON(t, "/api/v1/streams", &streams)
	require.Len(t, streams, 1)
	require.True(t, streams[0].Recording, "the stream view says it is recorded")

	status, _, body = e.call(t, "POST", "/api/v1/streams/live/cam/record", nil)
	requireError(t, status, body, http.StatusConflict, `stream "live/cam" is already being recorded`)
	status, _, body = e.call(t, "POST", "/api/v1/streams/live/gone/record", nil)
	requireError(t, status, body, http.StatusNotFound, `stream "live/gone" is not live`)
	status, _, body = e.call(t, "POST", "/api/v1/streams/a/b/cam/record", nil)
	require.Equal(t, http.StatusCreated, status, "nested app: %s", body)

	status, _, body = e.call(t, "DELETE", "/api/v1/streams/live/cam/record", nil)
	require.Equal(t, http.StatusNoContent, status, string(body))
	status, _, body = e.call(t, "DELETE", "/api/v1/streams/live/cam/record", nil)
	requireError(t, status, body, http.StatusNotFound, `stream "live/cam" is not being recorded`)
	require.False(t, rec.Recording("live/cam"))

	// POST is only for sub-resources; DELETE without /record still kicks.
	status, hdr, body := e.call(t, "POST", "/api/v1/streams/live/cam", nil)
	requireError(t, status, body, http.StatusMethodNotAllowed, "method POST not allowed on /api/v1/streams/live/cam")
	require.Equal(t, "GET, HEAD, DELETE", hdr.Get("Allow"))
	status, _, body = e.call(t, "DELETE", "/api/v1/streams/live/cam", nil)
	require.Equal(t, http.StatusNoContent, status, "kicked: %s", body)
	// A key that is only "record" under an app is a kick, not a sub-resource.
	status, _, body = e.call(t, "DELETE", "/api/v1/streams/live/record", nil)
	requireError(t, status, body, http.StatusNotFound, `stream "live/record" has no publisher`)
}

func TestRecordingsList(t *testing.T) {
	start := time.Date(2026, 12, 7, 15, 30, 0, 0, time.UTC)
	rec := &fakeRecorder{recording: map[string]bool{}, list: []Recording{{
		Key: "live/cam", App: "live", Stream: "cam", Name: "live/cam/20261207T153000Z.mp4",
		URL: "/recordings/live/cam/20261207T153000Z.mp4", Format: "fmp4", Start: start,
		DurationSeconds: 20.5, SizeBytes: 12345, InProgress: true,
	}}}
	e := newEnv(t, Config{Recorder: rec})
	var got []Recording
	e.getJSON(t, "/api/v1/recordings?app=live&stream=cam", &got)
	require.Equal(t, rec.list, got)
	require.Equal(t, [2]string{"live", "cam"}, rec.asked)

	rec.listErr = errors.New("disk gone")
	status, _, body := e.call(t, "GET", "/api/v1/recordings", nil)
	requireError(t, status, body, http.StatusInternalServerError, "list recordings: disk gone")
}

// Without a recorder the list is empty and start/stop say why.
func TestRecordingsUnavailable(t *testing.T) {
	e := newEnv(t, Config{})
	var got []Recording
	e.getJSON(t, "/api/v1/recordings", &got)
	require.Empty(t, got)
	require.NotNil(t, got, "an empty array, not null")
	status, _, body := e.call(t, "POST", "/api/v1/streams/live/cam/record", nil)
	requireError(t, status, body, http.StatusNotImplemented, "recording is not available on this server")
	status, _, body = e.call(t, "DELETE", "/api/v1/streams/live/cam/record", nil)
	requireError(t, status, body, http.StatusNotImplemented, "recording is not available on this server")
}

// Recorder events reach the event stream with the recording inlined.
func TestRecordingEvents(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.events(t, "", "")
	rec := Recording{Key: "live/cam", App: "live", Stream: "cam", Name: "live/cam/x.flv", URL: "/recordings/live/cam/x.flv", Format: "flv"}
	e.api.PublishRecording(EventRecordingStarted, rec, "")
	e.api.PublishRecording(EventRecordingError, rec, "write: no space left on device")
	evs := c.lifecycle(t, 2)
	require.Equal(t, EventRecordingStarted, evs[0].name)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(evs[0].data), &got))
	require.Equal(t, "live/cam/x.flv", got["name"], "flat: the recording's fields at the top")
	require.NotContains(t, got, "error")
	require.Equal(t, EventRecordingError, evs[1].name)
	require.NoError(t, json.Unmarshal([]byte(evs[1].data), &got))
	require.Equal(t, "write: no space left on device", got["error"])
}

// A filter no stream can have is refused before the recorder walks a
// directory for it.
func TestRecordingsBadFilter(t *testing.T) {
	rec := &fakeRecorder{recording: map[string]bool{}, listErr: ErrBadFilter}
	e := newEnv(t, Config{Recorder: rec})
	status, _, body := e.call(t, "GET", "/api/v1/recordings?app=..%2F..&stream=proc", nil)
	requireError(t, status, body, http.StatusBadRequest, "must be a stream's app and name")
}
