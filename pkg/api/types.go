package api

import "time"

// The JSON types below are the API's wire format; openapi.yaml documents
// them field by field (TestOpenAPIMatchesTypes keeps both in step).

// Stream is one live stream (GET /streams, GET /streams/{app}/{stream}).
type Stream struct {
	Key  string `json:"key"`  // "live/cam1"
	App  string `json:"app"`  // "live" (may contain "/")
	Name string `json:"name"` // "cam1"

	// Publishing is false while the stream waits inside its reconnect
	// grace for the publisher to return.
	Publishing bool       `json:"publishing"`
	Publisher  *Publisher `json:"publisher"`

	// Source is, for a rendition (a transcoder's output or a track of a
	// multitrack publish), the key of the stream it renders, and Rendition
	// its name; both "" otherwise. Renditions lists a source's live
	// renditions by key, sorted.
	Source     string   `json:"source"`
	Rendition  string   `json:"rendition"`
	Renditions []string `json:"renditions"`
	// Transcode is the source's transcode ladder (null: none runs).
	Transcode *Transcode `json:"transcode"`

	Since         time.Time `json:"since"`
	UptimeSeconds float64   `json:"uptime_seconds"`

	Video *Video `json:"video"` // null until a video track is seen
	Audio *Audio `json:"audio"` // null until an audio track is seen

	// IngestBitrate is bits per second received from the publisher over
	// the last sampling interval (api.events_stats_interval).
	IngestBitrate float64 `json:"ingest_bitrate"`
	BytesIn       uint64  `json:"bytes_in"`
	BytesOut      uint64  `json:"bytes_out"`

	// Players are the stream's player readers (RTMP, HTTP-FLV, WS-FLV,
	// relays) and HLS viewers (Config.HLSViewers); the HLS muxer,
	// recorder and thumbnailer readers are not players (API.Players).
	Players           int            `json:"players"`
	PlayersByProtocol map[string]int `json:"players_by_protocol"` // "rtmp", "http-flv", "ws-flv", "hls", "relay"

	DroppedPackets uint64 `json:"dropped_packets"` // across all readers
	Evictions      uint64 `json:"evictions"`       // slow readers evicted
	TimestampFixes uint64 `json:"timestamp_fixes"`
	// InvalidPackets were dropped at ingest (malformed media); LastInvalid
	// says why the last one was ("" if none).
	InvalidPackets uint64 `json:"invalid_packets"`
	LastInvalid    string `json:"last_invalid"`

	GOP *GOP `json:"gop"` // null until two keyframes were seen

	// Relays of this stream (forward pushes, edge pull/push); empty when
	// relaying is not configured for it.
	Relays []Relay `json:"relays"`

	// Recording is true while the stream is being recorded.
	Recording bool `json:"recording"`
}

// Recording is one recorded file (GET /recordings).
type Recording struct {
	Key    string `json:"key"`
	App    string `json:"app"`
	Stream string `json:"stream"`
	// Name is the file's path under /recordings/; URL is where it plays.
	Name            string    `json:"name"`
	URL             string    `json:"url"`
	Format          string    `json:"format"` // "fmp4", "flv"
	Start           time.Time `json:"start"`
	DurationSeconds float64   `json:"duration_seconds"`
	SizeBytes       int64     `json:"size_bytes"`
	// InProgress is true for the file being written; it plays up to its
	// last complete fragment.
	InProgress bool `json:"in_progress"`
}

// Relay is one relay's state (GET /relays, and per stream).
type Relay struct {
	ID     uint64 `json:"id"`
	Kind   string `json:"kind"`   // "forward", "pull", "push"
	Stream string `json:"stream"` // local stream key
	// Target is the destination (forward) or current origin (pull, push),
	// without its query string, its stream key redacted for forwards
	// ("rtmp://a.rtmp.youtube.com/live2/****").
	Target     string `json:"target"`
	State      string `json:"state"` // "connecting", "live", "backoff", "stopped"
	LastError  string `json:"last_error,omitempty"`
	Bytes      uint64 `json:"bytes"`      // media bytes relayed
	Reconnects uint64 `json:"reconnects"` // attempts after the first
	// Bitrate is bits per second relayed over the relay's last sampling
	// interval; 0 when not live.
	Bitrate float64 `json:"bitrate"`
	// Source is who asked for the relay: "config" (the app's forward or
	// edge section), "hook" (the on_publish answer) or "api" (POST
	// .../forwards).
	Source  string    `json:"source"`
	Since   time.Time `json:"since"` // when State was entered
	Started time.Time `json:"started"`
}

// Publisher is who publishes a stream.
type Publisher struct {
	Protocol   string `json:"protocol"`
	RemoteAddr string `json:"remote_addr"`
}

// Video describes a stream's video track.
type Video struct {
	Codec  string `json:"codec"` // "h264", "hevc", "av1", "vp9"
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
	// FPS is the declared frame rate (SPS timing info, else onMetaData
	// framerate), else the measured one; 0 when unknown.
	FPS float64 `json:"fps"`
	// MeasuredFPS counts frames received over the last sampling interval.
	MeasuredFPS float64 `json:"measured_fps"`
	Profile     string  `json:"profile,omitempty"` // "high", "main", ...
	Level       string  `json:"level,omitempty"`   // "4.0"
}

// Audio describes a stream's audio track.
type Audio struct {
	Codec      string `json:"codec"` // "aac", "opus", "mp3", ...
	SampleRate int    `json:"sample_rate,omitempty"`
	Channels   int    `json:"channels,omitempty"`
}

// GOP is the last complete group of pictures.
type GOP struct {
	Frames  int     `json:"frames"`
	Seconds float64 `json:"seconds"`
}

// Client is one reader (player, HLS segmenter, recorder, thumbnailer,
// relay) attached to a stream.
type Client struct {
	ID         uint64    `json:"id"`
	Protocol   string    `json:"protocol"`
	RemoteAddr string    `json:"remote_addr"`
	Stream     string    `json:"stream"` // stream key
	Since      time.Time `json:"since"`
	// ConnectedSeconds is the time since Since.
	ConnectedSeconds float64 `json:"connected_seconds"`
	Bytes            uint64  `json:"bytes"` // bytes written to the client
	QueuedPackets    int     `json:"queued_packets"`
	LagMS            int64   `json:"lag_ms"` // media time queued
	DroppedPackets   uint64  `json:"dropped_packets"`
	Overflows        uint64  `json:"overflows"`
}

// Summary is the server overview (GET /summary).
type Summary struct {
	Version       string         `json:"version"`
	Started       time.Time      `json:"started"`
	UptimeSeconds float64        `json:"uptime_seconds"`
	Streams       int            `json:"streams"`
	Publishers    int            `json:"publishers"` // streams with a publisher attached
	Players       int            `json:"players"`    // as Stream.Players, over all streams
	BytesIn       uint64         `json:"bytes_in"`
	BytesOut      uint64         `json:"bytes_out"`
	Goroutines    int            `json:"goroutines"`
	Connections   map[string]int `json:"connections"` // open connections per listener
}

// ClusterView is GET /cluster: Cluster is the origin cluster's view (the
// server's Config.Cluster answer) when Enabled.
type ClusterView struct {
	Enabled bool   `json:"enabled"`
	Error   string `json:"error,omitempty"`
	Cluster any    `json:"cluster,omitempty"`
}

// Transcode is a source's ffmpeg ladder: whether it runs, how often it was
// restarted, ffmpeg's speed (1.0 = real time) and each rendition's output.
type Transcode struct {
	OnDemand   bool                 `json:"on_demand"`
	Running    bool                 `json:"running"`
	Restarts   uint64               `json:"restarts"`
	Speed      float64              `json:"speed"`
	Renditions []TranscodeRendition `json:"renditions"`
}

// TranscodeRendition is one rung's output, measured over the last seconds.
type TranscodeRendition struct {
	Name    string  `json:"name"`
	Key     string  `json:"key"`
	Live    bool    `json:"live"`
	FPS     float64 `json:"fps"`
	Bitrate int64   `json:"bitrate"`
	Frames  uint64  `json:"frames"`
}
