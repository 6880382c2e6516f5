package hub

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// fakeValidator rejects the packets in bad. Its Check reads the stream's
// info through the hub, which takes the stream lock: a Check called under
// that lock would deadlock the test.
type fakeValidator struct {
	h      *Hub
	key    string
	bad    map[*av.Packet]bool
	checks int
}

func (v *fakeValidator) Check(p *av.Packet) error {
	v.checks++
	if v.h != nil {
		v.h.Stream(v.key)
	}
	if v.bad[p] {
		return errors.New("bad packet")
	}
	return nil
}

// validators records every validator the factory made, in order.
type validators struct {
	mu   sync.Mutex
	made []*fakeValidator
	bad  map[*av.Packet]bool
	h    *Hub
	key  string
}

func (vs *validators) factory() PacketValidator {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	v := &fakeValidator{h: vs.h, key: vs.key, bad: vs.bad}
	vs.made = append(vs.made, v)
	return v
}

// logRecorder is a slog.Handler that keeps the records.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// lines returns the attributes of the records with message msg.
func (r *logRecorder) lines(msg string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, rec := range r.records {
		if rec.Message != msg {
			continue
		}
		m := map[string]any{"level": rec.Level}
		rec.Attrs(func(a slog.Attr) bool {
			m[a.Key] = a.Value.Any()
			return true
		})
		out = append(out, m)
	}
	return out
}

// invalidHeader is a video sequence header the fake validators reject.
func invalidHeader() *av.Packet {
	return &av.Packet{Kind: av.KindVideo, Codec: av.CodecH264, Header: true, Data: []byte{0x17, 0, 0, 0, 0, 1}}
}

func TestValidatorDropsInvalidPackets(t *testing.T) {
	vs := &validators{key: "live/a"}
	h, _, _ := testHub(t, Config{Validator: vs.factory})
	vs.h = h
	g := mediatest.New(mediatest.Config{GOP: 10})
	meta, vHdr, aHdr := g.Metadata(), g.VideoHeader(), g.AudioHeader()
	badHdr := invalidHeader()
	media := g.Packets(40)
	var keys []*av.Packet
	for _, pkt := range media {
		if pkt.Keyframe {
			keys = append(keys, pkt)
		}
	}
	require.Len(t, keys, 2, "fixture: two GOPs")
	badKey, badFrame := keys[1], media[5]
	vs.bad = map[*av.Packet]bool{badHdr: true, badKey: true, badFrame: true}

	p := publish(t, h, "live/a")
	early := subscribe(t, h, "live/a")
	write(t, p, meta, vHdr, badHdr, aHdr) // the invalid header must not replace vHdr
	write(t, p, media...)                 // WritePacket returns nil for the dropped ones

	var want []*av.Packet
	for _, pkt := range append([]*av.Packet{meta, vHdr, badHdr, aHdr}, media...) {
		if !vs.bad[pkt] {
			want = append(want, pkt)
		}
	}
	require.Equal(t, want, readN(t, early, len(want)))
	require.Empty(t, queued(t, early))

	info, _ := h.Stream("live/a")
	require.Same(t, vHdr, info.VideoHeader)
	require.Equal(t, uint64(3), info.InvalidPackets)
	require.Equal(t, "bad packet", info.LastInvalid)
	require.Equal(t, uint64(len(want)), info.Packets, "dropped packets are not counted as published")
	require.Equal(t, uint64(3), h.InvalidPackets())

	// A late joiner gets the cached headers and a GOP, none of them invalid:
	// the second GOP's keyframe was dropped, so the cache still holds the
	// first one from its keyframe.
	late := subscribe(t, h, "live/a")
	got := queued(t, late)
	for _, pkt := range got {
		require.False(t, vs.bad[pkt], "late joiner got an invalid packet")
	}
	require.Equal(t, []*av.Packet{meta, vHdr, aHdr}, got[:3])
	require.True(t, got[3].Keyframe)

	require.Len(t, vs.made, 1)
	require.Equal(t, 4+len(media), vs.made[0].checks, "every packet is checked once")
}

func TestValidatorNil(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no factory":        {},
		"factory gives nil": {Validator: func() PacketValidator { return nil }},
	} {
		t.Run(name, func(t *testing.T) {
			h, _, _ := testHub(t, cfg)
			p := publish(t, h, "live/a")
			r := subscribe(t, h, "live/a")
			bad := invalidHeader()
			write(t, p, bad)
			require.Equal(t, []*av.Packet{bad}, readN(t, r, 1))
			info, _ := h.Stream("live/a")
			require.Zero(t, info.InvalidPackets)
			require.Empty(t, info.LastInvalid)
			require.Same(t, bad, info.VideoHeader)
		})
	}
}

// TestValidatorPerPublisher: a fresh validator for a new, a resumed and a
// takeover publisher; a replaced publisher learns it is replaced even from
// an invalid packet, which is then not counted.
func TestValidatorPerPublisher(t *testing.T) {
	bad := invalidHeader()
	vs := &validators{bad: map[*av.Packet]bool{bad: true}}
	h, _, _ := testHub(t, Config{
		Validator:      vs.factory,
		ReconnectGrace: time.Minute,
		Policy:         func(string) PublishPolicy { return PolicyTakeover },
	})
	p1 := publish(t, h, "live/a")
	p1.Close()
	p2 := publish(t, h, "live/a") // resumes within the grace
	p3 := publish(t, h, "live/a") // takes over
	require.Len(t, vs.made, 3)
	require.NotSame(t, vs.made[1], vs.made[2])
	require.Same(t, PacketValidator(vs.made[2]), p3.v)

	require.ErrorIs(t, p2.WritePacket(bad), ErrReplaced)
	require.ErrorIs(t, p1.WritePacket(bad), ErrPublisherClosed)
	require.NoError(t, p3.WritePacket(bad))
	info, _ := h.Stream("live/a")
	require.Equal(t, uint64(1), info.InvalidPackets)
	require.Equal(t, uint64(1), h.InvalidPackets())

	_, err := h.Publish("bad key", PublisherInfo{})
	require.ErrorIs(t, err, ErrInvalidKey)
	require.Len(t, vs.made, 3, "no validator for a refused publish")
}

// TestInvalidLogRateLimit: at most one line per second per stream, with
// the count of the packets not logged since the previous line, and a last
// line when the publisher leaves with packets not logged yet.
func TestInvalidLogRateLimit(t *testing.T) {
	rec := &logRecorder{}
	bad := invalidHeader()
	vs := &validators{bad: map[*av.Packet]bool{bad: true}}
	h, clk, _ := testHub(t, Config{Validator: vs.factory, Logger: slog.New(rec)})
	pa := publish(t, h, "live/a")
	pb := publish(t, h, "live/b")

	for range 5 {
		write(t, pa, bad)
		clk.advance(100 * time.Millisecond)
	}
	write(t, pb, bad) // another stream: its own budget
	lines := rec.lines("invalid packet dropped")
	require.Len(t, lines, 2)
	require.Equal(t, map[string]any{"level": slog.LevelWarn, "stream": "live/a", "err": errors.New("bad packet"), "dropped": uint64(0)}, lines[0])
	require.Equal(t, "live/b", lines[1]["stream"])

	clk.advance(600 * time.Millisecond) // 1.1 s after the first line
	write(t, pa, bad)
	lines = rec.lines("invalid packet dropped")
	require.Len(t, lines, 3)
	require.Equal(t, "live/a", lines[2]["stream"])
	require.Equal(t, uint64(4), lines[2]["dropped"], "the 4 packets after the first line")

	clk.advance(200 * time.Millisecond)
	write(t, pa, bad)
	write(t, pa, bad)
	require.Len(t, rec.lines("invalid packet dropped"), 3)
	pa.Close()
	lines = rec.lines("invalid packet dropped")
	require.Len(t, lines, 4, "the publisher left with 2 packets not logged")
	require.Equal(t, uint64(1), lines[3]["dropped"], "one line for the last error, one more dropped")
	pb.Close()
	require.Len(t, rec.lines("invalid packet dropped"), 4, "nothing left to report for live/b")
	require.Equal(t, uint64(9), h.InvalidPackets())
}
