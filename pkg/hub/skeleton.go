package hub

// SKELETON: the hub helper replaces this file with the real implementation
// (hub.go, stream.go, publisher.go, reader.go, gop_cache.go, timestamp.go).
// The exported API below is the contract other packages build against.

import (
	"context"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
)

// Hub is the registry of streams by key ("app/name").
type Hub struct{}

// New returns a Hub.
func New(cfg Config) *Hub { panic("unimplemented") }

// Publish claims key for a new publisher. With PolicyReject it fails with
// ErrStreamBusy if the key is live (a stream inside its reconnect grace is
// not live: the new publisher resumes it). ErrTooManyStreams past MaxStreams.
func (h *Hub) Publish(key string, info PublisherInfo) (*Publisher, error) { panic("unimplemented") }

// Subscribe attaches a reader to the live stream key (a stream within its
// reconnect grace counts as live). Under the stream lock the reader's queue
// is primed with metadata, sequence headers and the GOP cache, then the
// reader receives live packets: no gap, no duplicate. ErrStreamNotFound if
// the key is not live.
func (h *Hub) Subscribe(key string, info ReaderInfo) (*Reader, error) { panic("unimplemented") }

// WaitStream blocks until key is live or ctx ends (returns ctx.Err()).
func (h *Hub) WaitStream(ctx context.Context, key string) error { panic("unimplemented") }

// Streams returns a snapshot of all live streams.
func (h *Hub) Streams() []StreamInfo { panic("unimplemented") }

// Stream returns a snapshot of one stream.
func (h *Hub) Stream(key string) (StreamInfo, bool) { panic("unimplemented") }

// Close ends every stream: publishers get ErrClosed, readers drain and get
// io.EOF. Idempotent.
func (h *Hub) Close() { panic("unimplemented") }

// StreamInfo is a snapshot of a stream.
type StreamInfo struct {
	Key        string
	VideoCodec av.Codec // from the last video sequence header / first video packet
	AudioCodec av.Codec
	HasVideo   bool // a video sequence header or frame has been seen
	HasAudio   bool
	Publisher  PublisherInfo
	Publishing bool      // false while inside the reconnect grace
	Since      time.Time // first publish
	Readers    int
	BytesIn    uint64
	Packets    uint64
	Dropped    uint64 // packets dropped across all readers
	Evicted    uint64
}

// Publisher writes packets into one stream.
type Publisher struct{}

// WritePacket hands pkt to the stream. The hub rewrites pkt.DTS (unwrap,
// monotonic per track, rebase) and then pkt is shared and immutable: the
// caller must not touch it again. Never blocks on readers. Returns
// ErrReplaced after a takeover, ErrPublisherClosed after Close, ErrClosed
// after Hub.Close.
func (p *Publisher) WritePacket(pkt *av.Packet) error { panic("unimplemented") }

// Close ends publishing. Readers stay attached for ReconnectGrace; if no
// publisher resumes the key in time they drain their queues and get io.EOF.
// Idempotent.
func (p *Publisher) Close() { panic("unimplemented") }

// Done is closed when the publisher is ended from outside (takeover, kick,
// Hub.Close); Err then says why.
func (p *Publisher) Done() <-chan struct{} { panic("unimplemented") }

// Err returns why Done was closed (ErrReplaced, ErrClosed), or nil.
func (p *Publisher) Err() error { panic("unimplemented") }

// Key returns the stream key.
func (p *Publisher) Key() string { panic("unimplemented") }

// Reader is one consumer of a stream with a bounded queue.
type Reader struct{}

// Read appends queued packets to dst (at most cap(dst)-len(dst) if cap>0,
// otherwise everything queued) and returns it, blocking until at least one
// packet is queued, the reader is closed, or ctx ends. After the stream ends
// and the queue is drained it returns io.EOF; after eviction
// ErrSlowReader; after Close ErrClosed; ctx.Err() if ctx ends first.
func (r *Reader) Read(ctx context.Context, dst []*av.Packet) ([]*av.Packet, error) {
	panic("unimplemented")
}

// Close detaches the reader. Idempotent.
func (r *Reader) Close() { panic("unimplemented") }

// Key returns the stream key.
func (r *Reader) Key() string { panic("unimplemented") }

// Stream returns a snapshot of the stream the reader is attached to.
func (r *Reader) Stream() StreamInfo { panic("unimplemented") }

// Stats returns the reader's counters.
func (r *Reader) Stats() ReaderStats { panic("unimplemented") }

// ReaderStats are a reader's counters.
type ReaderStats struct {
	Delivered uint64 // packets returned by Read
	Dropped   uint64 // packets dropped on overflow or while waiting for a keyframe
	Overflows uint64
	Queued    int // packets waiting now
}

// ValidName reports whether s is a valid app or stream name segment:
// [A-Za-z0-9._~-]{1,128}, not "." or "..". A key is app + "/" + name where
// app may itself hold several such segments separated by "/"
// (ffmpeg maps rtmp://h/a/b/c to app "a/b", stream "c").
func ValidName(s string) bool { panic("unimplemented") }

// ValidKey reports whether key is one or more valid names joined by "/",
// with at least two segments (app and stream).
func ValidKey(key string) bool { panic("unimplemented") }
