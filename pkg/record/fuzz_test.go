package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/ingest"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
	"github.com/ripplemedia/ripple/pkg/internal/pipetest"
)

// The harness of FuzzRecord: queues that hold a whole input (the
// recordings run on their own goroutines; their evictions are tested
// elsewhere), segments and a retention bound small enough that one input
// cuts and deletes files.
const (
	fuzzQueue      = 2 * mediatest.MaxPipelineTags
	fuzzMaxMessage = 32 << 10
)

// FuzzRecord feeds arbitrary FLV tag sequences (mediatest.PipelineTags)
// through RTMP ingest's path (pipetest.Publisher: the ingest validator, a
// hub publisher) to a Manager recording two streams with the same tags,
// one in each format, into a temporary directory: 500 ms segments, 48 KiB
// per stream kept. It checks that nothing panics (a panic the guard
// recovered fails too), that every file started is done once, and that
// every file on disk parses to its end: fMP4 as an init section and
// whole moof+mdat fragments (mediacommon's reader), FLV as a header and
// whole tags.
//
// Tag.Event bits, applied before the tag is published:
//
//	bit 0  StopRecording, or StartRecording if stopped, of the fMP4 stream
//	bit 1  the same for the FLV stream
//	bit 2  the publishers reconnect within the reconnect grace
//
// Run for long with:
//
//	go test -run '^$' -fuzz '^FuzzRecord$' -fuzztime 10m ./pkg/record
func FuzzRecord(f *testing.F) {
	for _, s := range mediatest.PipelineSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		runRecord(t, mediatest.PipelineTags(in))
	})
}

func runRecord(t *testing.T, tags []mediatest.Tag) {
	dir := t.TempDir()
	var panics guard.Recorder
	h := hub.New(hub.Config{
		QueueSize:      fuzzQueue,
		GOPMaxPackets:  128,
		ReconnectGrace: time.Minute, // never runs out: Hub.Close ends the streams
		Validator:      func() hub.PacketValidator { return ingest.New() },
	})
	defer h.Close()
	formats := map[string]Format{"live/mp4": FormatFMP4, "live/flv": FormatFLV}
	events := make(chan Event, 1<<14)
	m := New(Config{
		Logger: testLogger(),
		Root:   dir,
		Rule: func(key string) Rule {
			return Rule{Enabled: true, Format: formats[key], SegmentDuration: 500 * time.Millisecond, MaxBytes: 48 << 10}
		},
		RetryInterval: time.Nanosecond,
		Panics:        &panics,
		OnEvent: func(e Event) {
			select {
			case events <- e:
			default:
				panic("record fuzz: event channel full")
			}
		},
	}, h)
	m.Start()
	defer m.Close()
	keys := []string{"live/mp4", "live/flv"}
	pubs := make([]*pipetest.Publisher, len(keys))
	for i, key := range keys {
		pubs[i] = pipetest.NewPublisher(t, h, key, fuzzMaxMessage)
		defer pubs[i].Close()
	}
	for _, tag := range tags {
		for i, key := range keys {
			if tag.Event&(1<<i) != 0 {
				if err := m.StopRecording(key); errors.Is(err, ErrNotRecording) {
					pipetest.NoErr(t, m.StartRecording(key))
				}
			}
			pubs[i].Publish(t, tag)
		}
	}
	h.Close() // the streams end: the recordings drain and finish
	require.NoError(t, m.Close())
	require.Empty(t, panics.Counts())
	st := m.Stats()
	require.Zero(t, st.Active)
	require.Zero(t, st.Errors, "no write errors, no evictions")
	close(events)
	open := map[string]bool{}
	for e := range events {
		switch e.Type {
		case EventStarted:
			require.False(t, open[e.Recording.Path], "%s started twice", e.Recording.Path)
			open[e.Recording.Path] = true
		case EventDone:
			require.True(t, open[e.Recording.Path], "%s done but not started", e.Recording.Path)
			delete(open, e.Recording.Path)
		}
	}
	require.Empty(t, open, "started and never done")
	recs, err := m.Recordings("", "")
	require.NoError(t, err)
	for _, r := range recs {
		require.False(t, r.InProgress)
		b, err := os.ReadFile(r.Path)
		require.NoError(t, err)
		if r.Format == FormatFLV {
			checkFLV(t, b)
		} else {
			checkFMP4(t, b)
		}
	}
}

// checkFLV reads an FLV file to its end: whole tags only.
func checkFLV(t *testing.T, b []byte) {
	r := flv.NewReader(bytes.NewReader(b))
	_, err := r.ReadHeader()
	pipetest.NoErr(t, err)
	for {
		_, err := r.ReadTag()
		if errors.Is(err, io.EOF) {
			break
		}
		pipetest.NoErr(t, err)
	}
	if r.SizeMismatches() != 0 {
		pipetest.Failf(t, "%d PreviousTagSize mismatches", r.SizeMismatches())
	}
}

// checkFMP4 reads an fMP4 file: ftyp+moov, then whole moof+mdat pairs.
func checkFMP4(t *testing.T, b []byte) {
	var boxes []string
	var initEnd int
	for off := 0; off < len(b); {
		if len(b)-off < 8 {
			pipetest.Failf(t, "%d bytes after the last box", len(b)-off)
		}
		size := int(binary.BigEndian.Uint32(b[off:]))
		if size < 8 || off+size > len(b) {
			pipetest.Failf(t, "box at %d of size %d past the end (%d)", off, size, len(b))
		}
		boxes = append(boxes, string(b[off+4:off+8]))
		off += size
		if len(boxes) == 2 {
			initEnd = off
		}
	}
	if len(boxes) < 2 || boxes[0] != "ftyp" || boxes[1] != "moov" || len(boxes)%2 != 0 {
		pipetest.Failf(t, "boxes %v", boxes)
	}
	for i := 2; i < len(boxes); i += 2 {
		if boxes[i] != "moof" || boxes[i+1] != "mdat" {
			pipetest.Failf(t, "boxes %v", boxes)
		}
	}
	var init fmp4.Init
	pipetest.NoErr(t, init.Unmarshal(bytes.NewReader(b[:initEnd])))
	var parts fmp4.Parts
	pipetest.NoErr(t, parts.Unmarshal(b[initEnd:]))
	ids := map[int]bool{}
	for _, tr := range init.Tracks {
		ids[tr.ID] = true
	}
	for _, p := range parts {
		for _, pt := range p.Tracks {
			if !ids[pt.ID] {
				pipetest.Failf(t, "fragment of track %d, not in the init section", pt.ID)
			}
		}
	}
}
