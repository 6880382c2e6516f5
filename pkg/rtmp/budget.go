package rtmp

// Memory per connection. Every buffer a server connection keeps is bounded
// by a constant or a ServerConfig limit, never by a length the peer
// declares. Figures are Go heap at the defaults (chunk size 4096,
// MaxMessageSize 8 MiB); kernel socket buffers are not counted.
//
// Before publish or play (handshake done, ConnectTimeout running):
//
//	structs (conn, writer, ChunkReader, bufio, ctx)        ~2 KiB
//	read buffer (connReadBufferSize)                         1 KiB
//	chunk stream state: maxChunkStreams (1024) × 64 B
//	  + the map of csids >= 64 (measured: 66 KiB)          ≤ 70 KiB
//	partial messages (PrePublishPartialBytes), the message
//	  being handled included                              ≤ 384 KiB
//	writer: queue (connWriteQueueLen 16 × 64 B) and one
//	  batch of ≤ batch.MaxBufs (32) framed replies         ≤ 40 KiB
//	two goroutine stacks                                   ~16 KiB
//	worst case                                           ≈ 515 KiB  (typical: ~15 KiB)
//
// The handshake before it holds ~8 KiB of C1/S1/S2 for HandshakeTimeout
// at most, and a command being decoded (≤ MaxCommandSize of AMF0, at most
// maxCommandArgs arguments) is transient. A connection that never publishes
// or plays holds this for ConnectTimeout at most.
//
// A player keeps the read buffer and partial budget of a connection that
// does not publish and adds its play state: its hub reader's queue
// (hub.Config.QueueSize pointers; the packets are shared with the stream
// and every other reader, counted once per stream by the hub), a TryRead
// batch of batch.ReadPackets (64) pointers, and its writer's batch
// buffers, kept between batches only up to batch.KeepBufs (1024) slices
// (24 KiB) and keepArenaBytes (4 KiB): ≈ 550 KiB worst case, ~20 KiB
// typical (a 4 KiB parked stack, 1 KiB read buffer, the writer's batch).
//
// A publisher's read buffer grows to readBufferSize (64 KiB) and its
// partial budget to ServerConfig.MaxPartialBytes (default 2 ×
// MaxMessageSize = 16 MiB): ≈ 16.2 MiB worst case, which only a publisher
// that passed Authorize can reach; typically its frames in flight (at
// most two keyframes, ~1 MiB at 6 Mbit/s) plus ~100 KiB. Completed packets
// belong to the hub, bounded by its GOP cache and reader queue limits.

// PrePublishPartialBytes is the budget for bytes held in partially received
// messages (ChunkReader.SetMaxPartialBytes) of a server connection that does
// not publish: before its publish or play, and for the whole life of a
// player. Such a peer has no reason to send anything but commands and the
// odd metadata message, so the budget is one data message and two commands
// in flight (384 KiB); once publishing it becomes
// ServerConfig.MaxPartialBytes. A connection that exceeds it is closed with
// a protocol error naming the value and the limit.
const PrePublishPartialBytes = MaxDataSize + 2*MaxCommandSize

// setPartialBudget sets the chunk reader's budget (a nil reader is only
// found in tests that call handle directly).
func (c *conn) setPartialBudget(n int) {
	if c.cr != nil {
		c.cr.SetMaxPartialBytes(n)
	}
}
