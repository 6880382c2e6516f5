package api

import (
	"errors"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// stream builds the JSON view of one hub snapshot.
func (a *API) stream(st *hub.StreamInfo, now time.Time) Stream {
	app, name := splitKey(st.Key)
	out := Stream{
		Key:            st.Key,
		App:            app,
		Name:           name,
		Publishing:     st.Publishing,
		Since:          st.Since.UTC(),
		UptimeSeconds:  seconds(now.Sub(st.Since)),
		BytesIn:        st.BytesIn,
		DroppedPackets: st.Dropped,
		Evictions:      st.Evicted,
		TimestampFixes: st.TimestampFixes,
		InvalidPackets: st.InvalidPackets,
		LastInvalid:    st.LastInvalid,
		Recording:      a.recordingOf(st.Key),
		Source:         st.Publisher.Source,
		Rendition:      st.Publisher.Rendition,
		Renditions:     []string{},
	}
	if a.cfg.Transcode != nil && st.Publisher.Source == "" {
		out.Transcode = a.cfg.Transcode(st.Key)
	}
	if st.Publishing {
		out.Publisher = &Publisher{Protocol: st.Publisher.Protocol, RemoteAddr: st.Publisher.RemoteAddr}
	}
	out.Players, out.PlayersByProtocol = a.Players(st)
	for _, p := range st.Protocols {
		out.BytesOut += p.BytesOut
	}
	out.Video, out.Audio = a.sampler.media.describe(st)
	rate, _ := a.sampler.Rate(st.Key)
	out.IngestBitrate = rate.Bitrate
	if out.Video != nil {
		out.Video.MeasuredFPS = rate.FPS
		if out.Video.FPS == 0 {
			out.Video.FPS = rate.FPS
		}
	}
	if st.GOPFrames > 0 {
		out.GOP = &GOP{Frames: st.GOPFrames, Seconds: seconds(st.GOPDuration)}
	}
	return out
}

// renditionsOf maps each source key to its live renditions' keys, sorted.
func renditionsOf(infos []hub.StreamInfo) map[string][]string {
	out := make(map[string][]string)
	for i := range infos {
		if src := infos[i].Publisher.Source; src != "" {
			out[src] = append(out[src], infos[i].Key)
		}
	}
	for _, keys := range out {
		slices.Sort(keys)
	}
	return out
}

// splitKey splits "a/b/c" into app "a/b" and name "c".
func splitKey(key string) (app, name string) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return "", key
	}
	return key[:i], key[i+1:]
}

func seconds(d time.Duration) float64 {
	return float64(d.Milliseconds()) / 1000
}

func (a *API) listStreams(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	infos := a.hub.Streams()
	relays := a.relaysByStream()
	renditions := renditionsOf(infos)
	out := make([]Stream, 0, len(infos))
	for i := range infos {
		st := a.stream(&infos[i], now)
		if r := renditions[st.Key]; r != nil {
			st.Renditions = r
		}
		st.Relays = relays[st.Key]
		if st.Relays == nil {
			st.Relays = []Relay{}
		}
		out = append(out, st)
	}
	writeJSON(w, http.StatusOK, out)
}

// getStream serves GET /streams/{app}/{stream} and, by suffix, GET
// /streams/{app}/{stream}/forwards (streamDelete says which wins).
func (a *API) getStream(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("path")
	if fk, ok := forwardsKey(key); ok {
		a.listForwards(w, fk)
		return
	}
	info, ok := a.hub.Stream(key)
	if !ok {
		writeError(w, http.StatusNotFound, "stream "+strconv.Quote(key)+" not found")
		return
	}
	st := a.stream(&info, time.Now())
	if r := renditionsOf(a.hub.Streams())[key]; r != nil {
		st.Renditions = r
	}
	st.Relays = a.relaysByStream()[key]
	if st.Relays == nil {
		st.Relays = []Relay{}
	}
	writeJSON(w, http.StatusOK, st)
}

// relaysByStream groups the running relays by local stream key.
func (a *API) relaysByStream() map[string][]Relay {
	if a.cfg.Relays == nil {
		return nil
	}
	out := map[string][]Relay{}
	for _, r := range a.cfg.Relays() {
		out[r.Stream] = append(out[r.Stream], r)
	}
	return out
}

func (a *API) listRelays(w http.ResponseWriter, _ *http.Request) {
	out := []Relay{}
	if a.cfg.Relays != nil {
		out = append(out, a.cfg.Relays()...)
	}
	writeJSON(w, http.StatusOK, out)
}

// cluster reports the origin cluster: {"enabled": false} outside one;
// inside, the registry's nodes and claimed streams, and "error" when the
// registry cannot be read (the node keeps serving what it has).
func (a *API) cluster(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Cluster == nil {
		writeJSON(w, http.StatusOK, ClusterView{})
		return
	}
	st, err := a.cfg.Cluster(r.Context())
	out := ClusterView{Enabled: true, Cluster: st}
	if err != nil {
		out.Error = err.Error()
	}
	writeJSON(w, http.StatusOK, out)
}

// kickPublisher ends the stream's publisher; its players follow the
// reconnect grace like after any publisher loss.
func (a *API) kickPublisher(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("path")
	if err := a.hub.KickPublisher(key); err != nil {
		if errors.Is(err, hub.ErrStreamNotFound) {
			writeError(w, http.StatusNotFound, "stream "+strconv.Quote(key)+" has no publisher")
			return
		}
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	a.log.Info("publisher kicked", "stream", key, "remote", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) listClients(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	rs := a.hub.Readers()
	out := make([]Client, 0, len(rs))
	for _, rd := range rs {
		out = append(out, Client{
			ID:               rd.ID,
			Protocol:         rd.Info.Protocol,
			RemoteAddr:       rd.Info.RemoteAddr,
			Stream:           rd.Key,
			Since:            rd.Since.UTC(),
			ConnectedSeconds: seconds(now.Sub(rd.Since)),
			Bytes:            rd.Bytes,
			QueuedPackets:    rd.Queued,
			LagMS:            rd.Lag.Milliseconds(),
			DroppedPackets:   rd.Dropped,
			Overflows:        rd.Overflows,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) kickClient(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("id")
	id, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		writeError(w, http.StatusNotFound, "client "+strconv.Quote(raw)+" not found")
		return
	}
	if !a.hub.KickReader(id) {
		writeError(w, http.StatusNotFound, "client "+raw+" not found")
		return
	}
	a.log.Info("client kicked", "reader", id, "remote", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) summary(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	in, out := a.hub.Traffic()
	s := Summary{
		Version:       a.cfg.Version,
		Started:       a.started.UTC(),
		UptimeSeconds: seconds(now.Sub(a.started)),
		BytesIn:       in,
		BytesOut:      out,
		Goroutines:    runtime.NumGoroutine(),
		Connections:   map[string]int{},
	}
	for _, st := range a.hub.Streams() {
		s.Streams++
		n, _ := a.Players(&st)
		s.Players += n
		if st.Publishing {
			s.Publishers++
		}
	}
	if a.cfg.Connections != nil {
		s.Connections = a.cfg.Connections()
	}
	writeJSON(w, http.StatusOK, s)
}
