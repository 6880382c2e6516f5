package hls

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"hash/maphash"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/ingest"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
	"github.com/ripplemedia/ripple/pkg/internal/pipetest"
)

// The pipeline harness: a hub small enough that queues overflow and GOPs
// get dropped within one input (mediatest.MaxPipelineTags tags), and
// segments short and small enough that one input cuts many of them, on
// time, at keyframes and at the size limit.
const (
	pipeKey        = "live/fuzz"
	pipeQueue      = 64
	pipeGOPPackets = 128
	// pipeMaxOverflows: the first overflow resyncs a reader, the second
	// evicts it (and the muxer rejoins), both within one input.
	pipeMaxOverflows = 2
	// pipeMaxMessage plays rtmp.max_message_size: larger tags are not
	// published. pipeQueueBytes plays hub.queue_max_bytes, which config
	// validation keeps at least that large.
	pipeMaxMessage = 32 << 10
	pipeQueueBytes = pipeMaxMessage + 16<<10
)

// pipeConfig is the muxers' configuration.
func pipeConfig(v Variant, panics *guard.Recorder) Config {
	cfg := Config{
		Variant:         v,
		SegmentDuration: 500 * time.Millisecond,
		PartDuration:    100 * time.Millisecond,
		SegmentCount:    3,
		SegmentKeep:     1,
		SegmentMaxBytes: 16 << 10,
		Panics:          panics,
	}
	cfg = cfg.withDefaults()
	return cfg
}

// FuzzPipeline feeds arbitrary FLV tag sequences (mediatest.PipelineTags)
// through RTMP ingest's path (mediatest.IngestPacket, a hub publisher with
// the ingest validator) to three HLS muxers, one per variant (mpegts,
// fmp4, low_latency), each reading its own hub reader as muxer.read and
// muxer.pump do (handle per packet, panics recovered by Config.Panics,
// the rejoin of muxer.run after an eviction), but on the test goroutine:
// the reader is drained with a context that has ended, so pump returns
// once it caught up instead of waiting. It checks, besides no panic (a
// panic the guard recovered fails too, with its stack):
//
//   - hub: it takes exactly what the validator accepts; a muxer's reader
//     queue stays within QueueSize (raised for a primed GOP), and a primed
//     queue within the GOP cache bound;
//   - files: every segment, part and init section published parses back
//     with mediacommon (an MPEG-TS reader to the end, fmp4.Parts,
//     fmp4.Init); a name always means the same bytes, even across a
//     rejoin; segments are at most SegmentMaxBytes and SegmentMaxDuration;
//     media sequence numbers only grow;
//   - playlists: the media playlist renders with EXT-X-TARGETDURATION at
//     most ceil(SegmentMaxDuration) and every EXTINF, rounded, within it;
//     it lists only files that exist (segments, parts, EXT-X-MAP), its
//     preload hint names the next part, which does not exist yet;
//     EXT-X-MEDIA-SEQUENCE and EXT-X-DISCONTINUITY-SEQUENCE never go back;
//     the multivariant playlist renders;
//   - memory: the packets buffered before the tracks are known stay within
//     maxPending, and with the segment in progress within
//     SegmentMaxBytes; the files kept are exactly the segments, their
//     parts, the parts in progress and the init sections: at most
//     SegmentCount + SegmentKeep segments of at most maxParts parts each,
//     and an init section per kept segment and the next one (every one a
//     kept segment needs is kept).
//
// The hub evicts a reader at its second overflow (pipeMaxOverflows).
//
// Tag.Event bits, applied before the tag is published:
//
//	bit 0  the first one starts the muxers here (as on demand: a late
//	       join, primed with the GOP cache); without one they start
//	       before the first tag. Each later one makes one muxer (in turn)
//	       rejoin as muxer.run does after an eviction
//	bit 1  toggles a stall of the muxers: stalled, they do not drain
//	       (overflow, keyframe resync, eviction and rejoin)
//	bit 2  the publisher reconnects (Close, then Publish within the
//	       reconnect grace: the hub resumes the stream and the Manager's
//	       event marks the muxers resumed)
//
// Run for long with (see the HTTP-FLV target on -fuzzminimizetime):
//
//	go test -run '^$' -fuzz '^FuzzPipeline$' -fuzztime 10m -fuzzminimizetime 5s ./pkg/hls
//
// (or ./scripts/fuzz.sh 10m pkg/hls:FuzzPipeline).
func FuzzPipeline(f *testing.F) {
	for _, s := range mediatest.PipelineSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		runPipeline(t, mediatest.PipelineTags(in))
	})
}

func runPipeline(t *testing.T, tags []mediatest.Tag) {
	h := hub.New(hub.Config{
		QueueSize:      pipeQueue,
		QueueMaxBytes:  pipeQueueBytes,
		MaxOverflows:   pipeMaxOverflows,
		GOPMaxPackets:  pipeGOPPackets,
		ReconnectGrace: time.Minute, // never runs out: Hub.Close ends the stream
		Validator:      func() hub.PacketValidator { return ingest.New() },
	})
	defer h.Close()
	src := pipetest.NewPublisher(t, h, pipeKey, pipeMaxMessage)
	defer src.Close()

	var (
		panics   guard.Recorder
		accepted uint64 // what the validator let into the stream
		seed     = maphash.MakeSeed()
		muxers   []*pipeMuxer
	)
	defer func() {
		for _, pm := range muxers {
			pm.close()
		}
	}()
	startAt := 0
	for i, tag := range tags {
		if tag.Event&1 != 0 {
			startAt = i
			break
		}
	}
	start := func() {
		for _, v := range []Variant{VariantMPEGTS, VariantFMP4, VariantLowLatency} {
			pm := newPipeMuxer(h, v, &panics, seed)
			muxers = append(muxers, pm)
			require.NoError(t, pm.subscribe(t))
			pm.drain(t)
		}
	}
	stalled, rejoins := false, 0
	for i, tag := range tags {
		switch {
		case i == startAt:
			start()
		case tag.Event&1 != 0:
			pm := muxers[rejoins%len(muxers)]
			rejoins++
			if pm.err == nil && pm.rejoin(t) {
				pm.drain(t)
			}
		}
		if tag.Event&2 != 0 {
			stalled = !stalled
		}
		// A reconnect (Event bit 4), then the packet as RTMP ingest
		// and the hub's validator take it.
		p, ok := src.Publish(t, tag)
		if p == nil {
			continue // RTMP ingest drops (and counts) it
		}
		if ok {
			accepted++
		}
		for _, pm := range muxers {
			pm.checkQueue(t)
			if !stalled {
				pm.drain(t)
			}
		}
	}
	if len(muxers) == 0 {
		start() // no tags
	}
	si := muxers[0].r.Stream()
	require.Equal(t, src.Rejected, si.InvalidPackets, "the hub rejected what the validator rejects")
	require.Equal(t, accepted, si.Packets, "the hub took every accepted packet")
	h.Close() // the stream ends: readers drain, then io.EOF

	for _, pm := range muxers {
		pm.drain(t)
		if !errors.Is(pm.err, hub.ErrClosed) { // evicted: the rejoin found the stream over
			require.ErrorIs(t, pm.err, io.EOF, "%s: the muxer ends with the stream", pm.name)
		}
		pm.mx.media().end() // as muxer.run does
		pm.checkMedia(t)
	}
	require.Empty(t, panics.Counts(), "recovered panics")
}

// pipeMuxer is one HLS muxer of the stream, with the Manager that tells it
// about publisher events, and what the checks remember of its output.
type pipeMuxer struct {
	name    string
	m       *Manager
	mx      *muxer
	unwatch func()
	r       *hub.Reader
	buf     []*av.Packet
	done    context.Context // ended: pump returns once it caught up
	limit   int             // the reader's queue bound
	err     error           // the reader's terminal error (io.EOF)

	seed    maphash.Seed
	seen    map[string]uint64 // file name → hash of its bytes, once checked
	maxMSN  uint64            // 1 + the highest segment MSN seen
	mediaSq uint64            // EXT-X-MEDIA-SEQUENCE last rendered
	discSq  uint64            // EXT-X-DISCONTINUITY-SEQUENCE last rendered
}

func newPipeMuxer(h *hub.Hub, v Variant, panics *guard.Recorder, seed maphash.Seed) *pipeMuxer {
	// The Manager's state as it is while the muxer runs: onEvent marks a
	// resumed stream's muxer, and finds the running muxer for any other
	// publish of its key (no goroutine is started).
	m := &Manager{cfg: pipeConfig(v, panics), hub: h, done: make(chan struct{}), muxers: map[string]*muxer{}}
	mx := newMuxer(pipeKey, &m.cfg, h, &m.epochs)
	m.muxers[pipeKey] = mx
	done, cancel := context.WithCancel(context.Background())
	cancel()
	return &pipeMuxer{
		name: v.String(), m: m, mx: mx, unwatch: h.Watch(m.onEvent),
		buf: make([]*av.Packet, 0, 256), done: done, seed: seed, seen: map[string]uint64{},
	}
}

// subscribe is muxer.read's start: a reader, its stream info, no batch.
func (pm *pipeMuxer) subscribe(t *testing.T) error {
	t.Helper()
	r, err := pm.m.hub.Subscribe(pipeKey, hub.ReaderInfo{Protocol: "hls"})
	if err != nil {
		return err
	}
	pm.r, pm.err = r, nil
	mx := pm.mx
	mx.info = r.Stream
	mx.batch, mx.pos, mx.readErr = nil, 0, nil
	// hub.Config.QueueSize, raised to keep room for live packets after a
	// long primed queue: metadata, two headers and the GOP cache.
	primed := r.Stats().Queued
	require.LessOrEqual(t, primed, pipeGOPPackets+3, "%s: primed queue beyond the GOP cache bound", pm.name)
	pm.limit = pipeQueue
	if primed > pipeQueue/2 {
		pm.limit = pipetest.Pow2(primed + pipeQueue/2)
	}
	return nil
}

// rejoin is muxer.run after an eviction: the reader is left, the muxer
// marked resumed (the replayed headers mark a discontinuity), and a new
// reader starts at the GOP cache. It reports whether the stream was still
// there to rejoin.
func (pm *pipeMuxer) rejoin(t *testing.T) bool {
	t.Helper()
	pm.r.Close()
	pm.mx.resumed.Store(true)
	if err := pm.subscribe(t); err != nil {
		// muxer.run returns the error and the muxer stops: here the
		// stream ended with the hub.
		require.ErrorIs(t, err, hub.ErrClosed, pm.name)
		pm.err = err
		return false
	}
	return true
}

func (pm *pipeMuxer) checkQueue(t *testing.T) {
	if q := pm.r.Stats().Queued; q > pm.limit {
		pipetest.Failf(t, "%s: %d packets queued, bound %d", pm.name, q, pm.limit)
	}
}

// drain runs muxer.read's loop until the reader is caught up: pump through
// Config.Panics, which ends on the ended context once nothing is queued.
// An eviction rejoins (muxer.run); a recovered panic fails.
func (pm *pipeMuxer) drain(t *testing.T) {
	if pm.err != nil {
		return
	}
	mx := pm.mx
	for {
		// The last drain ended on the context, not on the reader.
		mx.readErr = nil
		err := mx.cfg.Panics.Run(componentHLS, func() error { return mx.pump(pm.done, pm.r, pm.buf) })
		if pe, ok := guard.AsPanic(err); ok {
			pipetest.Failf(t, "%s: muxer panic: %v\n%s", pm.name, pe.Value, pe.Stack)
		}
		pm.checkState(t)
		switch {
		case errors.Is(err, context.Canceled):
			return
		case errors.Is(err, hub.ErrSlowReader):
			if pm.rejoin(t) {
				continue
			}
			return
		}
		if !errors.Is(err, io.EOF) {
			pipetest.Failf(t, "%s: pump: %v", pm.name, err)
		}
		pm.err = err
		return
	}
}

// checkState checks the muxer's buffers and its media after a drain.
func (pm *pipeMuxer) checkState(t *testing.T) {
	mx := pm.mx
	buffered := mx.pendingN
	if mx.seg.c != nil {
		buffered += mx.seg.c.size()
	}
	if len(mx.pending) > maxPending || int64(buffered) > mx.cfg.SegmentMaxBytes {
		pipetest.Failf(t, "%s: %d packets pending, %d bytes buffered; limits %d, %d",
			pm.name, len(mx.pending), buffered, maxPending, mx.cfg.SegmentMaxBytes)
	}
	pm.checkMedia(t)
}

// checkMedia checks what the media publishes now: files, segments,
// playlists, and the bounds of what it keeps.
func (pm *pipeMuxer) checkMedia(t *testing.T) {
	cfg := pm.mx.cfg
	md := pm.mx.media()
	md.mu.Lock()
	defer md.mu.Unlock()
	name := pm.name
	if md.target > ceilSeconds(cfg.SegmentMaxDuration) {
		pipetest.Failf(t, "%s: target duration %d beyond %s", name, md.target, cfg.SegmentMaxDuration)
	}
	for _, s := range md.segments {
		if int64(s.size) > cfg.SegmentMaxBytes || s.dur > cfg.SegmentMaxDuration {
			pipetest.Failf(t, "%s: segment %s of %d bytes, %s", name, s.name, s.size, s.dur)
		}
		if s.msn+1 > pm.maxMSN {
			pm.maxMSN = s.msn + 1
		} else if _, ok := pm.seen[s.name]; !ok {
			pipetest.Failf(t, "%s: new segment %s has MSN %d, not after %d", name, s.name, s.msn, pm.maxMSN-1)
		}
	}
	for fn, f := range md.files {
		hash := maphash.Bytes(pm.seed, f.data)
		if old, ok := pm.seen[fn]; ok {
			if old != hash {
				pipetest.Failf(t, "%s: %s changed its bytes", name, fn)
			}
			continue
		}
		pm.seen[fn] = hash
		if int64(len(f.data)) > cfg.SegmentMaxBytes {
			pipetest.Failf(t, "%s: %s of %d bytes", name, fn, len(f.data))
		}
		if err := parseBack(fn, f.data); err != nil {
			pipetest.Failf(t, "%s: %s does not parse back: %v", name, fn, err)
		}
	}
	pm.checkKept(t, md)
	pm.checkPlaylist(t, md)
	md.renderMultivariantLocked(pipeKey+"/", "")
}

// checkKept bounds the files kept: SegmentCount + SegmentKeep segments
// with their parts, the parts of the segment in progress, and an init
// section per kept segment and the next one, at most; every init section
// a kept segment needs is kept.
func (pm *pipeMuxer) checkKept(t *testing.T, md *media) {
	cfg := pm.mx.cfg
	keep := cfg.SegmentCount + cfg.SegmentKeep
	if len(md.segments) > keep {
		pipetest.Failf(t, "%s: %d segments kept, bound %d", pm.name, len(md.segments), keep)
	}
	maxParts := pm.mx.seg.maxParts
	if len(md.parts) > maxParts {
		pipetest.Failf(t, "%s: %d parts in progress, bound %d", pm.name, len(md.parts), maxParts)
	}
	n := len(md.parts) + len(md.inits)
	for _, s := range md.segments {
		n += 1 + len(s.parts)
		if len(s.parts) > maxParts {
			pipetest.Failf(t, "%s: segment %s has %d parts, bound %d", pm.name, s.name, len(s.parts), maxParts)
		}
		if _, ok := md.files[s.initName]; s.initName != "" && !ok {
			pipetest.Failf(t, "%s: segment %s needs %s, which is not kept", pm.name, s.name, s.initName)
		}
	}
	if len(md.inits) > keep+1 {
		pipetest.Failf(t, "%s: %d init sections kept for %d segments, bound %d", pm.name, len(md.inits), len(md.segments), keep+1)
	}
	if len(md.files) != n {
		pipetest.Failf(t, "%s: %d files kept, the segments, parts and init sections are %d", pm.name, len(md.files), n)
	}
	if bound := (keep+1)*(maxParts+1) + keep + 1; len(md.files) > bound {
		pipetest.Failf(t, "%s: %d files kept, bound %d", pm.name, len(md.files), bound)
	}
}

// checkPlaylist renders the media playlist and reads it back: the target
// duration, every EXTINF, every URI, the preload hint, and the sequence
// numbers, which never go back (RFC 8216 §6.2.2).
func (pm *pipeMuxer) checkPlaylist(t *testing.T, md *media) {
	name := pm.name
	pl := md.renderMediaLocked("")
	target := -1
	var mediaSq, discSq uint64
	sc := bufio.NewScanner(bytes.NewReader(pl))
	for sc.Scan() {
		line := sc.Text()
		tag, val, _ := strings.Cut(line, ":")
		switch {
		case line == "":
			pipetest.Failf(t, "%s: empty playlist line", name)
		case tag == "#EXT-X-TARGETDURATION":
			target = atoi(t, name, val)
			if target > ceilSeconds(pm.mx.cfg.SegmentMaxDuration) {
				pipetest.Failf(t, "%s: EXT-X-TARGETDURATION %d beyond %s", name, target, pm.mx.cfg.SegmentMaxDuration)
			}
		case tag == "#EXT-X-MEDIA-SEQUENCE":
			mediaSq = uint64(atoi(t, name, val))
		case tag == "#EXT-X-DISCONTINUITY-SEQUENCE":
			discSq = uint64(atoi(t, name, val))
		case tag == "#EXTINF":
			sec, err := strconv.ParseFloat(strings.TrimSuffix(val, ","), 64)
			if err != nil || int(sec+0.5) > target {
				pipetest.Failf(t, "%s: EXTINF %q with target duration %d", name, val, target)
			}
		case tag == "#EXT-X-MAP", tag == "#EXT-X-PART":
			pm.listed(t, md, attr(val, "URI"))
		case tag == "#EXT-X-PRELOAD-HINT":
			uri := attr(val, "URI")
			if want := md.partName(md.nextMSN, len(md.parts)); uri != want {
				pipetest.Failf(t, "%s: preload hint %s, the next part is %s", name, uri, want)
			}
			if _, ok := md.files[uri]; ok {
				pipetest.Failf(t, "%s: preload hint %s names a part that exists", name, uri)
			}
		case !strings.HasPrefix(line, "#"):
			pm.listed(t, md, line)
		}
	}
	if target < 0 {
		pipetest.Failf(t, "%s: no EXT-X-TARGETDURATION", name)
	}
	if !md.readyLocked() {
		return // not served before its first segment
	}
	if mediaSq < pm.mediaSq || discSq < pm.discSq {
		pipetest.Failf(t, "%s: media sequence %d after %d, discontinuity sequence %d after %d",
			name, mediaSq, pm.mediaSq, discSq, pm.discSq)
	}
	pm.mediaSq, pm.discSq = mediaSq, discSq
}

func (pm *pipeMuxer) listed(t *testing.T, md *media, uri string) {
	if _, ok := md.files[uri]; !ok {
		pipetest.Failf(t, "%s: the playlist lists %q, which is not kept", pm.name, uri)
	}
}

// attr returns the quoted attribute key of an attribute list.
func attr(list, key string) string {
	_, v, _ := strings.Cut(list, key+"=\"")
	v, _, _ = strings.Cut(v, "\"")
	return v
}

func atoi(t *testing.T, name, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		pipetest.Failf(t, "%s: playlist number %q: %v", name, s, err)
	}
	return n
}

func (pm *pipeMuxer) close() {
	pm.unwatch()
	if pm.r != nil {
		pm.r.Close()
	}
}
