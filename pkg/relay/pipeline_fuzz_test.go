package relay

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/ingest"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

const (
	pipeKey        = "live/fuzz"
	pipeQueue      = 64
	pipeGOPPackets = 128
	// pipeReplayMax bounds an origin's replay (its GOP cache) in tags.
	pipeReplayMax = 64
	// pipeMaxPackets bounds the packets one input sends through the
	// splice, replays included.
	pipeMaxPackets = 4 * mediatest.MaxPipelineTags
	// pipeClockAhead is how far ahead the clock of a replaying origin runs.
	pipeClockAhead = 90000
	// pipeClockOther shifts the clock of an unrelated origin (it wraps).
	pipeClockOther = 0x9E3779B9
)

// FuzzPipeline feeds arbitrary FLV tag sequences (mediatest.PipelineTags),
// split into origin sessions, through a pull's path: mediatest.IngestPacket
// (what an RTMP or HTTP-FLV source reads), the origin splice, the start
// gate, and a hub publisher with the ingest validator, with a hub reader
// subscribed from the start. It checks, besides no panic:
//
//   - splice: script data and sequence headers always pass, headers ride at
//     the highest DTS written once media started; output stays in the
//     32-bit wire domain; one clock offset per origin session (the first
//     passes timestamps through); a session that cannot align starts at a
//     video keyframe (any media for audio-only streams) switchStep after
//     the highest DTS written; an aligned session never writes a DTS at or
//     below the last one of its track (nothing delivered twice); last is
//     the highest DTS written;
//   - start gate: it never holds more than maxHoldPackets, and a batch it
//     releases at a keyframe carries only metadata and headers before it
//     (the splice itself holds nothing that can grow: TestSpliceBounded);
//   - hub: it takes exactly what the validator accepts; the reader (which
//     keeps up) gets every accepted packet from its first keyframe on, in
//     order, metadata and headers before it, DTS never back per track
//     after the hub's 32-bit unwrapping; its queue stays within
//     QueueSize.
//
// Tag.Event bits: bit 0 switches the pull to another origin before this
// tag; bits 1-2 say what that origin sends first:
//
//	0  this tag on, same clock (another origin of the same encoder)
//	1  its cache (last onMetaData, sequence headers, the GOP from the last
//	   keyframe, at most pipeReplayMax tags back), clock pipeClockAhead ahead
//	2  its cache on the same clock
//	3  this tag on, an unrelated clock
//
// A tag flv rejects ends the session too (the sources fail on it); the
// next origin goes on at the next tag. Run for long with (see the
// httpflv target on -fuzzminimizetime):
//
//	go test -run '^$' -fuzz '^FuzzPipeline$' -fuzztime 10m -fuzzminimizetime 5s ./pkg/relay
//
// (or ./scripts/fuzz.sh 10m pkg/relay:FuzzPipeline).
func FuzzPipeline(f *testing.F) {
	for _, s := range mediatest.PipelineSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		runPipeline(t, mediatest.PipelineTags(in))
	})
}

// pipeSend is one tag an origin sends: tags[i] with its clock shifted.
type pipeSend struct {
	i        int
	shift    uint32
	switchTo bool // a new origin session starts with this tag
}

// pipePlan lays the tags out as the origins send them.
func pipePlan(tags []mediatest.Tag) []pipeSend {
	// Per tag: the last keyframe, onMetaData and sequence headers at or
	// before it (-1: none).
	type marks struct{ key, meta, vHdr, aHdr int }
	m := make([]marks, len(tags))
	cur := marks{-1, -1, -1, -1}
	for i, tg := range tags {
		if p, err := mediatest.IngestPacket(tg); err == nil && p != nil {
			switch {
			case p.Kind == av.KindData:
				cur.meta = i
			case p.Header && p.Kind == av.KindVideo:
				cur.vHdr = i
			case p.Header:
				cur.aHdr = i
			case p.Kind == av.KindVideo && p.Keyframe:
				cur.key = i
			}
		}
		m[i] = cur
	}
	var plan []pipeSend
	var shift uint32
	for i, tg := range tags {
		if len(plan) >= pipeMaxPackets {
			break
		}
		switchTo := i > 0 && tg.Event&1 != 0
		if switchTo {
			mode := tg.Event >> 1 & 3
			switch mode {
			case 1:
				shift += pipeClockAhead
			case 3:
				shift += pipeClockOther
			}
			if mode == 1 || mode == 2 {
				prev := m[i-1]
				var replay []int
				for _, j := range []int{prev.meta, prev.vHdr, prev.aHdr} {
					if j >= 0 && (prev.key < 0 || j < prev.key) {
						replay = append(replay, j)
					}
				}
				if prev.key >= 0 && i-prev.key <= pipeReplayMax {
					for j := prev.key; j < i; j++ {
						replay = append(replay, j)
					}
				}
				for _, j := range replay {
					plan = append(plan, pipeSend{i: j, shift: shift, switchTo: switchTo})
					switchTo = false
				}
			}
		}
		plan = append(plan, pipeSend{i: i, shift: shift, switchTo: switchTo})
	}
	return plan[:min(len(plan), pipeMaxPackets)]
}

// pipeSession is what the checks track of one origin session.
type pipeSession struct {
	first     bool // the splice passes timestamps through
	offset    uint32
	hasOffset bool
	media     int // media packets written
}

func runPipeline(t *testing.T, tags []mediatest.Tag) {
	h := hub.New(hub.Config{
		QueueSize:     pipeQueue,
		GOPMaxPackets: pipeGOPPackets,
		Validator:     func() hub.PacketValidator { return ingest.New() },
	})
	defer h.Close()
	var (
		s        splice
		gate     startGate
		pub      *hub.Publisher
		rd       *hub.Reader
		sess     pipeSession
		accepted []*av.Packet
		rejected uint64
		got      []*av.Packet
		shadow   = ingest.New()
	)
	defer func() {
		if rd != nil {
			rd.Close()
		}
		if pub != nil {
			pub.Close()
		}
	}()
	newSession := func() {
		s.newSession()
		sess = pipeSession{first: s.mode == modeFirst}
	}
	newSession()
	for n, send := range pipePlan(tags) {
		if send.switchTo {
			newSession()
		}
		tg := tags[send.i]
		tg.Timestamp += send.shift
		p, err := mediatest.IngestPacket(tg)
		if err != nil {
			newSession() // the source fails; the pull moves to the next origin
			continue
		}
		if p == nil {
			continue
		}
		if !admitChecked(t, &s, &sess, p) {
			continue
		}
		var batch []*av.Packet
		if pub == nil {
			batch = gate.add(p)
			if len(gate.held) > maxHoldPackets {
				failf(t, "send %d: the start gate holds %d packets", n, len(gate.held))
			}
			if batch == nil {
				continue
			}
			checkGateRelease(t, batch)
			pub, err = h.Publish(pipeKey, hub.PublisherInfo{Protocol: "relay"})
			require.NoError(t, err)
			rd, err = h.Subscribe(pipeKey, hub.ReaderInfo{Protocol: "test"})
			require.NoError(t, err)
		} else {
			batch = []*av.Packet{p}
		}
		for _, q := range batch {
			if shadow.Check(q) == nil {
				accepted = append(accepted, q)
			} else {
				rejected++
			}
			if err := pub.WritePacket(q); err != nil {
				require.NoError(t, err)
			}
			if n := rd.Stats().Queued; n > pipeQueue {
				failf(t, "reader queue %d beyond QueueSize %d", n, pipeQueue)
			}
			if got, err = rd.TryRead(got); err != nil {
				require.NoError(t, err)
			}
		}
	}
	if pub == nil {
		return
	}
	si := rd.Stream()
	require.Equal(t, rejected, si.InvalidPackets, "the hub rejected what the validator rejects")
	require.Equal(t, uint64(len(accepted)), si.Packets, "the hub took every accepted packet")
	require.Zero(t, rd.Stats().Overflows, "a reader that keeps up never overflows")
	checkKeptUp(t, accepted, got)
	require.NoError(t, mediatest.CheckTrackDTS(got))
}

// admitChecked runs splice.admit on p and checks what it promises.
func admitChecked(t *testing.T, s *splice, sess *pipeSession, p *av.Packet) bool {
	in := uint32(p.DTS)
	k := track(p.Kind)
	prevLast, prevStarted, prevHasVideo := s.last, s.started, s.hasVideo
	prevKind, prevSeen := s.lastKind[k], s.seenKind[k]
	ok := s.admit(p)
	if p.DTS < 0 || p.DTS > 1<<32-1 {
		failf(t, "%s DTS %d outside the 32-bit wire domain", p.Kind, p.DTS)
	}
	switch {
	case p.Kind == av.KindData:
		if !ok || p.DTS != int64(in) {
			failf(t, "script data must pass as is (admitted %t, DTS %d from %d)", ok, p.DTS, in)
		}
		return ok
	case p.Header:
		want := int64(in)
		if prevStarted {
			want = int64(uint32(prevLast)) // at the highest DTS written
		}
		if !ok || p.DTS != want {
			failf(t, "%s sequence header: admitted %t at %d, want at %d", p.Kind, ok, p.DTS, want)
		}
		return ok
	case !ok:
		return false
	}
	out := s.lastKind[k]
	if uint32(out) != uint32(p.DTS) {
		failf(t, "%s DTS %d is not the unwrapped output %d in the wire domain", p.Kind, p.DTS, out)
	}
	off := uint32(p.DTS) - in
	switch {
	case sess.first && off != 0:
		failf(t, "the first session moved a %s DTS from %d to %d", p.Kind, in, p.DTS)
	case sess.hasOffset && off != sess.offset:
		failf(t, "%s clock offset %d, the session had %d: one offset per origin session", p.Kind, int32(off), int32(sess.offset))
	}
	sess.offset, sess.hasOffset = off, true
	if sess.media == 0 && s.mode == modeKey {
		// Not aligned: wait for a keyframe, continue switchStep after the
		// highest DTS written.
		if prevHasVideo && (p.Kind != av.KindVideo || !p.Keyframe) {
			failf(t, "an unaligned session starts with a %s packet (keyframe %t), not a keyframe", p.Kind, p.Keyframe)
		}
		if out != prevLast+switchStep {
			failf(t, "an unaligned session continues at %d, want %d + switchStep", out, prevLast)
		}
	}
	if s.mode == modeDedupe && prevSeen && out <= prevKind {
		failf(t, "aligned session wrote a %s frame at %d, at or before the last one (%d): delivered twice", p.Kind, out, prevKind)
	}
	if prevStarted && s.last != max(prevLast, out) {
		failf(t, "last is %d, not the highest DTS written (%d, %d)", s.last, prevLast, out)
	}
	sess.media++
	return true
}

// failf reports a broken invariant. The per-packet checks compare first
// and call testify only on failure: every require call walks the stack
// (t.Helper), which would dominate an execution's time.
func failf(t *testing.T, format string, args ...any) {
	t.Helper()
	require.FailNow(t, fmt.Sprintf(format, args...))
}

// TestSpliceBounded: a splice's memory cannot grow with its input: it holds
// no slice, map, pointer, channel or interface (its recent-frame ring is an
// array), so FuzzPipeline's bound on the splice is structural.
func TestSpliceBounded(t *testing.T) {
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		switch typ.Kind() {
		case reflect.Struct:
			for i := range typ.NumField() {
				f := typ.Field(i)
				walk(path+"."+f.Name, f.Type)
			}
		case reflect.Array:
			walk(path+"[]", typ.Elem())
		case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Chan, reflect.Interface, reflect.String, reflect.Func:
			t.Errorf("%s is a %s: it could grow with the input", path, typ.Kind())
		}
	}
	walk("splice", reflect.TypeFor[splice]())
}

// checkGateRelease: a batch released at a video keyframe ends with it, and
// only metadata and sequence headers precede it.
func checkGateRelease(t *testing.T, batch []*av.Packet) {
	t.Helper()
	require.LessOrEqual(t, len(batch), maxHoldPackets)
	for i, q := range batch {
		if q.Kind == av.KindVideo && q.Keyframe && !q.Header {
			require.Equal(t, len(batch)-1, i, "a keyframe releases the gate")
			for _, b := range batch[:i] {
				require.True(t, b.Kind == av.KindData || b.Header, "media before the keyframe was released")
			}
		}
	}
}

// checkKeptUp: a reader subscribed before the first packet that keeps up
// gets metadata and headers from the start and every accepted packet from
// its first media packet (a keyframe for video) on, in publish order.
func checkKeptUp(t *testing.T, accepted, got []*av.Packet) {
	t.Helper()
	var first *av.Packet
	for _, q := range got {
		if q.IsMedia() && !q.Header {
			first = q
			break
		}
	}
	if first != nil && first.Kind == av.KindVideo {
		require.True(t, first.Keyframe, "the reader starts at a keyframe")
	}
	var want []*av.Packet
	started := false
	for _, q := range accepted {
		if q == first {
			started = true
		}
		if started || !q.IsMedia() || q.Header {
			want = append(want, q)
		}
	}
	require.Len(t, got, len(want))
	for i := range want {
		if want[i] != got[i] {
			failf(t, "delivered packet %d is not accepted packet %d", i, i)
		}
	}
}
