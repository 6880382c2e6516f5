// Package bench is the library behind cmd/ripple-bench: it stamps published
// H.264 access units with their send time (an SEI user_data_unregistered
// message, ITU-T H.264 §D.1.7), runs many cheap players over RTMP, HTTP-FLV,
// WebSocket-FLV and HLS that find the stamp again, and aggregates latency,
// first-frame time, stalls and lost frames into a report, together with the
// server's CPU and RSS sampled from /proc.
//
// Players are built to cost little more than the kernel's copy: one goroutine
// per player, one reused buffer per player, and only the first bytes of each
// video tag are looked at (the stamp sits at the front of the access unit).
package bench

import "time"

// Defaults shared by the publisher and the players.
const (
	// DefaultStall is the gap between two received video frames counted
	// as a stall.
	DefaultStall = time.Second
	// videoKeep bounds how many bytes of a video tag or message a player
	// keeps to look for the stamp; the rest is discarded unread.
	videoKeep = 2048
)
