package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// SSE event names (the "event:" field).
const (
	EventStreamPublished   = "stream_published"
	EventStreamUnpublished = "stream_unpublished"
	EventStreamEnded       = "stream_ended"
	EventPlayerJoined      = "player_joined"
	EventPlayerLeft        = "player_left"
	EventStats             = "stats"
	EventResync            = "resync"
)

// StreamEvent is the data of stream_published, stream_unpublished and
// stream_ended.
type StreamEvent struct {
	Time      time.Time  `json:"time"`
	Key       string     `json:"key"`
	App       string     `json:"app"`
	Name      string     `json:"name"`
	Resumed   bool       `json:"resumed,omitempty"` // stream_published: reconnect or takeover
	Publisher *Publisher `json:"publisher,omitempty"`
}

// PlayerEvent is the data of player_joined and player_left.
type PlayerEvent struct {
	Time       time.Time `json:"time"`
	Key        string    `json:"key"`
	ClientID   uint64    `json:"client_id"`
	Protocol   string    `json:"protocol"`
	RemoteAddr string    `json:"remote_addr"`
	Players    int       `json:"players"` // the stream's players after the change (HLS viewers of the last stats)
}

// StatsEvent is the data of the periodic stats event.
type StatsEvent struct {
	Time    time.Time     `json:"time"`
	Players int           `json:"players"`
	Streams []StreamStats `json:"streams"`
}

// StreamStats is one stream's line in a stats event.
type StreamStats struct {
	Key               string         `json:"key"`
	IngestBitrate     float64        `json:"ingest_bitrate"` // bits/s
	FPS               float64        `json:"fps"`            // measured
	Players           int            `json:"players"`
	PlayersByProtocol map[string]int `json:"players_by_protocol"`
	BytesIn           uint64         `json:"bytes_in"`
	BytesOut          uint64         `json:"bytes_out"`
}

// ResyncEvent tells a client that events were lost (it resumed from an id
// older than the backlog): it should refetch GET /streams.
type ResyncEvent struct {
	Reason string `json:"reason"`
}

// onHubEvent maps hub lifecycle events to SSE events. It runs inside the
// hub's Watch callback: publish only encodes and appends to the ring.
func (a *API) onHubEvent(e hub.Event) {
	app, name := splitKey(e.Key)
	switch e.Type {
	case hub.EventPublish, hub.EventUnpublish:
		ev := StreamEvent{Time: e.Time.UTC(), Key: e.Key, App: app, Name: name, Resumed: e.Resumed,
			Publisher: &Publisher{Protocol: e.Publisher.Protocol, RemoteAddr: e.Publisher.RemoteAddr}}
		kind := EventStreamPublished
		if e.Type == hub.EventUnpublish {
			kind = EventStreamUnpublished
		}
		a.broker.publish(kind, ev)
	case hub.EventStreamEnd:
		a.broker.publish(EventStreamEnded, StreamEvent{Time: e.Time.UTC(), Key: e.Key, App: app, Name: name})
	case hub.EventReaderJoin, hub.EventReaderLeave:
		if serviceReader(e.Reader.Protocol) {
			return // an HLS muxer, a recorder, a thumbnail: not a player
		}
		kind := EventPlayerJoined
		if e.Type == hub.EventReaderLeave {
			kind = EventPlayerLeft
		}
		a.broker.publish(kind, PlayerEvent{Time: e.Time.UTC(), Key: e.Key, ClientID: e.ReaderID,
			Protocol: e.Reader.Protocol, RemoteAddr: e.Reader.RemoteAddr, Players: a.eventPlayers(e.Key)})
	}
}

// eventPlayers is key's player count for a player event: its player
// readers now, plus its HLS viewers as of the last stats tick (the hub
// callback does not call into other packages).
func (a *API) eventPlayers(key string) int {
	st, ok := a.hub.Stream(key)
	if !ok {
		return 0
	}
	a.hlsMu.Lock()
	hls := a.hlsLast[key]
	a.hlsMu.Unlock()
	n, _ := players(&st, hls)
	return n
}

// publishStats is the sampler's tick callback.
func (a *API) publishStats(streams []hub.StreamInfo, rates map[string]Rate) {
	ev := StatsEvent{Time: time.Now().UTC(), Streams: make([]StreamStats, 0, len(streams))}
	hlsLast := make(map[string]int)
	for _, st := range streams {
		ss := StreamStats{
			Key: st.Key, IngestBitrate: rates[st.Key].Bitrate, FPS: rates[st.Key].FPS, BytesIn: st.BytesIn,
		}
		ss.Players, ss.PlayersByProtocol = a.Players(&st)
		if n := ss.PlayersByProtocol[access.ProtoHLS]; n > 0 {
			hlsLast[st.Key] = n
		}
		for _, p := range st.Protocols {
			ss.BytesOut += p.BytesOut
		}
		ev.Players += ss.Players
		ev.Streams = append(ev.Streams, ss)
	}
	a.hlsMu.Lock()
	a.hlsLast = hlsLast
	a.hlsMu.Unlock()
	a.broker.setStats(ev)
}

// events serves GET /api/v1/events as Server-Sent Events (WHATWG HTML
// §9.2). A client resuming with Last-Event-ID (sent by EventSource on
// reconnect, or ?last_event_id=) gets the events it missed from the
// backlog; a new client starts with the current stats and live events.
func (a *API) events(w http.ResponseWriter, r *http.Request) {
	last, resume := lastEventID(r)
	sub, ok := a.broker.subscribe()
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "server shutting down")
		return
	}
	defer a.broker.unsubscribe(sub)
	if !resume {
		last = a.broker.lastID()
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	rc := http.NewResponseController(w)
	// An endless response: the server's request read timeout must not
	// end it (net/http's background read would cancel the request). Each
	// write has its own deadline instead.
	_ = rc.SetReadDeadline(time.Time{}) // unsupported: there is none to lift
	sw := sseWriter{w: w, rc: rc, timeout: a.cfg.WriteTimeout}
	sw.buf = append(sw.buf, "retry: 2000\n\n"...)
	keep := time.NewTicker(a.cfg.KeepAlive)
	defer keep.Stop()

	var statsN uint64
	var evs []sseEvent
	for {
		var lost bool
		var stats sseEvent
		evs, lost, stats, statsN = a.broker.since(last, statsN, evs[:0])
		if lost {
			sw.event(sseEvent{name: EventResync, data: []byte(`{"reason":"events lost: refetch /api/v1/streams"}`)})
		}
		for _, ev := range evs {
			sw.event(ev)
			last = ev.id
		}
		clear(evs)
		if stats.name != "" {
			sw.event(stats)
		}
		if err := sw.flush(); err != nil {
			a.log.Debug("events client gone", "remote", r.RemoteAddr, "err", err)
			return
		}
		select {
		case <-sub:
		case <-keep.C:
			sw.buf = append(sw.buf, ": keep-alive\n\n"...)
		case <-r.Context().Done():
			return
		case <-a.broker.done:
			return
		}
	}
}

// lastEventID reads the Last-Event-ID header, or the last_event_id query
// parameter for clients that cannot set headers.
func lastEventID(r *http.Request) (uint64, bool) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("last_event_id")
	}
	id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	return id, err == nil
}

// sseWriter frames events and writes them in one write per wake-up, each
// under its own deadline (docs/architecture.md §8.4: never a whole-response timeout).
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	buf     []byte
}

func (s *sseWriter) event(ev sseEvent) {
	if ev.id != 0 {
		s.buf = append(s.buf, "id: "...)
		s.buf = strconv.AppendUint(s.buf, ev.id, 10)
		s.buf = append(s.buf, '\n')
	}
	s.buf = append(s.buf, "event: "...)
	s.buf = append(s.buf, ev.name...)
	s.buf = append(s.buf, "\ndata: "...)
	s.buf = append(s.buf, ev.data...) // json.Marshal output has no newlines
	s.buf = append(s.buf, "\n\n"...)
}

func (s *sseWriter) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	_, err := s.w.Write(s.buf)
	s.buf = s.buf[:0]
	if err != nil {
		return err
	}
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}
