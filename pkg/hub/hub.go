// Package hub is the stream registry and fan-out core. A publisher writes
// immutable *av.Packet values into a Stream; every player, segmenter or relay
// is a Reader with its own bounded queue. Publish never blocks and never does
// I/O: a reader that cannot keep up drops to the next keyframe (sequence
// headers and metadata are never dropped) and is evicted if it stays behind.
//
// The hub knows nothing about protocols: it only sees Publishers and Readers.
package hub

import (
	"errors"
	"log/slog"
	"time"
)

// Errors returned by the hub.
var (
	ErrStreamBusy      = errors.New("hub: stream already published")
	ErrStreamNotFound  = errors.New("hub: stream not found")
	ErrTooManyStreams  = errors.New("hub: too many streams")
	ErrReplaced        = errors.New("hub: publisher replaced by a new publisher")
	ErrPublisherClosed = errors.New("hub: publisher closed")
	ErrSlowReader      = errors.New("hub: reader evicted: too slow")
	ErrClosed          = errors.New("hub: closed")
)

// PublishPolicy decides what happens when a second publisher arrives for a
// stream that is live.
type PublishPolicy uint8

const (
	// PolicyReject refuses the new publisher with ErrStreamBusy (default).
	PolicyReject PublishPolicy = iota
	// PolicyTakeover ends the current publisher (its WritePacket returns
	// ErrReplaced and Done is closed) and hands the stream, with its
	// readers, to the new one.
	PolicyTakeover
)

// Config configures a Hub. Zero values mean the documented defaults.
type Config struct {
	Logger *slog.Logger // nil: discard

	// QueueSize is each reader's queue length in packets, rounded up to a
	// power of two. Default 1024.
	QueueSize int
	// MaxOverflows evicts a reader that overflows its queue this many times
	// within OverflowWindow. Defaults 3 and 30s.
	MaxOverflows   int
	OverflowWindow time.Duration

	// GOPCache keeps the last GOP so late joiners start at a keyframe
	// immediately. Bounded by packets, bytes and duration (defaults 3000,
	// 16 MiB, 10s); a GOP exceeding any bound is not cached.
	GOPCache       bool
	GOPMaxPackets  int
	GOPMaxBytes    int
	GOPMaxDuration time.Duration

	// ReconnectGrace keeps a stream's readers attached for this long after
	// its publisher leaves; a publisher returning in time continues the
	// stream (fresh sequence headers, continuous timestamps). 0 ends the
	// stream immediately. Default applied by config, not here.
	ReconnectGrace time.Duration

	// MaxStreams limits the number of live streams; 0 means unlimited.
	MaxStreams int

	// Policy returns the publish policy for a stream key's app ("live" for
	// "live/cam1"). nil means PolicyReject for all.
	Policy func(app string) PublishPolicy
}

// PublisherInfo describes who publishes (for logs and the API).
type PublisherInfo struct {
	Protocol   string // "rtmp", "relay", ...
	RemoteAddr string
	Query      string // raw query string of the publish URL, without '?'
}

// ReaderInfo describes a reader (for logs and the API).
type ReaderInfo struct {
	Protocol   string // "rtmp", "http-flv", "ws-flv", "hls", "relay"
	RemoteAddr string
}
