package bench

import (
	"sync/atomic"
	"time"
)

// Window is the measurement window shared by all players of a run: frames
// received before Start (connection ramp, GOP-cache burst) or after End are
// not counted in latency, stalls and lost frames.
type Window struct {
	Start, End time.Time
	Stall      time.Duration // gap between video frames counted as a stall
}

// PlayerStats is what one player measured. Bytes is updated atomically (the
// run samples it at the window edges); everything else is owned by the
// player's goroutine until it returns.
type PlayerStats struct {
	Bytes       atomic.Int64
	Connected   bool
	FirstFrame  time.Duration // dial start to first stamped video frame; 0 = none
	Frames      uint64        // stamped video frames inside the window
	Unstamped   uint64        // video frames without a stamp (any time)
	Lost        uint64        // gaps in the publisher's frame counter inside the window
	Stalls      uint64        // gaps longer than Window.Stall inside the window
	LongestGap  time.Duration
	Latency     Histogram
	Err         error
	lastSeq     uint32
	haveSeq     bool
	lastFrameAt time.Time
}

// frame records one stamped (or unstamped) video frame received at now.
func (ps *PlayerStats) frame(w *Window, start, now time.Time, s Stamp, ok bool) {
	if !ok {
		ps.Unstamped++
		return
	}
	if ps.FirstFrame == 0 {
		ps.FirstFrame = max(now.Sub(start), time.Microsecond)
	}
	if now.Before(w.Start) || now.After(w.End) {
		ps.lastFrameAt = time.Time{}
		ps.haveSeq = false
		return
	}
	ps.Frames++
	ps.Latency.Record(time.Duration(now.UnixNano() - s.SendNs))
	if ps.haveSeq && s.Seq > ps.lastSeq+1 && s.Seq-ps.lastSeq < 1<<20 {
		ps.Lost += uint64(s.Seq - ps.lastSeq - 1)
	}
	ps.lastSeq, ps.haveSeq = s.Seq, true
	ps.gap(w, now)
}

// gap counts the time since the previous frame; it is also called at the
// window's end so that a player that stopped receiving counts one stall.
func (ps *PlayerStats) gap(w *Window, now time.Time) {
	if !ps.lastFrameAt.IsZero() {
		g := now.Sub(ps.lastFrameAt)
		ps.LongestGap = max(ps.LongestGap, g)
		if g > w.Stall {
			ps.Stalls++
		}
	}
	ps.lastFrameAt = now
}
