package record

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// TestRecordingsFromDisk lists the files of an earlier run (another
// Manager on the same root): keys, names, formats, start times from the
// names, durations probed from the files (finished ones, and an fMP4 and
// an FLV cut short with nothing patched), newest first, with filters; and
// the file in progress of this run.
func TestRecordingsFromDisk(t *testing.T) {
	root := t.TempDir()
	clk := newClock()
	rules := map[string]Rule{
		"live/a":     {Enabled: true, SegmentDuration: 6 * time.Second},
		"live/b":     {Enabled: true, Format: FormatFLV},
		"live/x/cam": {Enabled: true},
	}
	events := make(chan Event, 64)
	h := hub.New(hub.Config{QueueSize: 8192})
	m := New(Config{Root: root, Now: clk.Now, Rule: func(k string) Rule { return rules[k] },
		OnEvent: func(e Event) { events <- e }}, h)
	m.Start()
	want := map[string]Recording{}
	for key, files := range map[string]int{"live/a": 2, "live/b": 1, "live/x/cam": 1} {
		clk.Add(time.Minute)
		pub, err := h.Publish(key, hub.PublisherInfo{})
		require.NoError(t, err)
		write(t, pub, fixture(t, 1)...)
		pub.Close() // the end of the stream (no reconnect grace)
		for files > 0 {
			select {
			case ev := <-events:
				if ev.Type == EventDone {
					want[ev.Recording.Path] = ev.Recording
					files--
				}
			case <-time.After(waitFor):
				t.Fatalf("%s not recorded", key)
			}
		}
	}
	h.Close()
	require.NoError(t, m.Close())
	require.Len(t, want, 4, "live/a in two files, live/b, live/x/cam")

	// An fMP4 and an FLV cut short: the mvhd duration and the onMetaData
	// duration left at 0, the last fragment or tag partly written.
	var cutMP4, cutFLV Recording
	for _, r := range want {
		switch r.Key {
		case "live/x/cam":
			cutMP4 = r
		case "live/b":
			cutFLV = r
		}
	}
	b, err := os.ReadFile(cutMP4.Path)
	require.NoError(t, err)
	off, _, _ := findMvhdDuration(b)
	require.Positive(t, off)
	binary.BigEndian.PutUint32(b[off:], 0)
	b = b[:len(b)*6/10] // in the middle of a fragment
	shortMP4 := filepath.Join(root, "recordings", "live", "x", "cam", "20261207T153000Z-1.mp4")
	require.NoError(t, os.WriteFile(shortMP4, b, 0o644))
	b, err = os.ReadFile(cutFLV.Path)
	require.NoError(t, err)
	for i := range 8 {
		b[flvMetaDuration(b)+i] = 0
	}
	shortFLV := filepath.Join(root, "recordings", "live", "b", "20261207T153000Z.flv")
	require.NoError(t, os.WriteFile(shortFLV, b, 0o644))
	// Files that are not recordings.
	require.NoError(t, os.WriteFile(filepath.Join(root, "recordings", "live", "b", "notes.txt"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "recordings", "stray.mp4"), nil, 0o644))

	// A new run.
	h2 := hub.New(hub.Config{})
	defer h2.Close()
	m2 := New(Config{Root: root, Now: clk.Now, Rule: func(k string) Rule { return rules[k] }}, h2)
	defer m2.Close()
	recs, err := m2.Recordings("", "")
	require.NoError(t, err)
	require.Len(t, recs, 6)
	for i, r := range recs {
		if i > 0 {
			require.False(t, r.Start.After(recs[i-1].Start), "newest first")
		}
		require.False(t, r.InProgress)
		require.Equal(t, r.App+"/"+r.Stream, r.Key)
		fi, err := os.Stat(r.Path)
		require.NoError(t, err)
		require.Equal(t, fi.Size(), r.Size)
		if w, ok := want[r.Path]; ok {
			require.Equal(t, w.Key, r.Key)
			require.Equal(t, w.Name, r.Name)
			require.Equal(t, w.Format, r.Format)
			require.True(t, w.Start.Equal(r.Start))
			require.InDelta(t, w.Duration.Seconds(), r.Duration.Seconds(), 0.05, r.Name)
			continue
		}
		switch r.Path {
		case shortMP4:
			require.Equal(t, FormatFMP4, r.Format)
			// Up to the last complete fragment (ffprobe also reads what it
			// can of the one cut, at most FragmentDuration more).
			p := ffprobe(t, r.Path)
			require.Less(t, r.Duration.Seconds(), p.end(""))
			require.Greater(t, r.Duration.Seconds(), p.end("")-FragmentDuration.Seconds()-0.1)
			require.Less(t, r.Duration, cutMP4.Duration*7/10)
		case shortFLV:
			require.Equal(t, FormatFLV, r.Format)
			require.InDelta(t, cutFLV.Duration.Seconds(), r.Duration.Seconds(), 0.1)
		default:
			t.Fatalf("unexpected %s", r.Path)
		}
	}
	recs, err = m2.Recordings("live", "a")
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, "live/a", recs[0].Key)
	require.Equal(t, "live/a", recs[1].Key)
	require.Equal(t, strings.TrimSuffix(recs[1].Name, ".mp4")+"-1.mp4", recs[0].Name, "same second, newest first")
	recs, err = m2.Recordings("live/x", "")
	require.NoError(t, err)
	require.Len(t, recs, 2)
	recs, err = m2.Recordings("", "b")
	require.NoError(t, err)
	require.Len(t, recs, 2)
	recs, err = m2.Recordings("other", "")
	require.NoError(t, err)
	require.Empty(t, recs)

	// In progress in this run.
	events2 := make(chan Event, 64)
	h3 := hub.New(hub.Config{QueueSize: 8192})
	defer h3.Close()
	m3 := New(Config{Root: root, Now: clk.Now, Rule: func(k string) Rule { return rules[k] },
		OnEvent: func(e Event) { events2 <- e }}, h3)
	defer m3.Close()
	m3.Start()
	pub, err := h3.Publish("live/b", hub.PublisherInfo{})
	require.NoError(t, err)
	g := mediatest.New(mediatest.Config{})
	write(t, pub, append(g.Headers(), g.Packets(100)...)...)
	select {
	case ev := <-events2:
		require.Equal(t, EventStarted, ev.Type)
	case <-time.After(waitFor):
		t.Fatal("no recording")
	}
	recs, err = m3.Recordings("live", "b")
	require.NoError(t, err)
	require.Len(t, recs, 3)
	require.True(t, recs[0].InProgress)
	require.Equal(t, FormatFLV, recs[0].Format)
}

// flvMetaDuration is the offset of the onMetaData duration in a file
// Ripple wrote.
func flvMetaDuration(b []byte) int {
	_ = b
	return 9 + 4 + 11 + metaDurationAt
}

// TestRetention applies delete_after and max_bytes: completed files go,
// oldest first, the file in progress never.
func TestRetention(t *testing.T) {
	t.Run("delete_after", func(t *testing.T) {
		rule := Rule{Enabled: true, SegmentDuration: 3 * time.Second, DeleteAfter: time.Hour}
		e := newEnv(t, rule)
		e.clock.Set(time.Now()) // ages are measured from the files' mtimes
		// Files of streams not live (earlier runs): the sweep finds them.
		old := filepath.Join(e.dir, "recordings", "live", "gone", "20200101T000000Z.mp4")
		fresh := filepath.Join(e.dir, "recordings", "live", "gone", "20200101T000001Z.mp4")
		require.NoError(t, os.MkdirAll(filepath.Dir(old), 0o755))
		require.NoError(t, os.WriteFile(old, []byte("x"), 0o644))
		require.NoError(t, os.WriteFile(fresh, []byte("x"), 0o644))
		mtime := time.Date(2020, 1, 1, 1, 0, 0, 0, time.UTC)
		require.NoError(t, os.Chtimes(old, mtime, mtime))

		pub := e.publish(testKey)
		e.writeSync(testKey, pub, fixture(t, 1)...) // 0-4, 4-8 done, 8- in progress
		e.wait(EventDone)
		e.wait(EventDone)
		inProgress := e.wait(EventStarted) // the third
		e.m.sweep()
		_, err := os.Stat(old)
		require.ErrorIs(t, err, os.ErrNotExist)
		require.Len(t, files(t, e.dir), 4, "nothing else old enough")
		e.clock.Add(2 * time.Hour)
		e.m.sweep()
		require.Equal(t, []string{"recordings/" + inProgress.Recording.Name}, files(t, e.dir))
		pub.Close()
	})
	t.Run("max_bytes", func(t *testing.T) {
		rule := Rule{Enabled: true, SegmentDuration: 3 * time.Second, MaxBytes: 250 << 10}
		e := newEnv(t, rule, graceZero)
		e.clock.Tick(time.Second) // names in order
		pub := e.publish(testKey)
		write(t, pub, fixture(t, 2)...)
		pub.Close()
		recs := e.doneEvents(5) // each ~120 KB
		// The recording applies the rule when its last file finishes, right
		// after that file's EventDone; a sweep applies the same rule, so
		// whichever runs first, the files are then what the rule keeps.
		e.m.sweep()
		var kept []string
		var size int64
		for _, r := range recs {
			if _, err := os.Stat(r.Path); err == nil {
				kept = append(kept, "recordings/"+r.Name)
				size += r.Size
			}
		}
		require.Equal(t, kept, files(t, e.dir), "the newest are kept")
		require.LessOrEqual(t, size, rule.MaxBytes, "under the bound once the last file is finished")
		require.Greater(t, size, rule.MaxBytes-150<<10, "no more deleted than needed")
		require.NotEmpty(t, kept)
	})
}

// A filter is a stream key's parts: ".." or a separator in it would make
// Recordings walk outside the recordings root.
func TestRecordingsFilterChecked(t *testing.T) {
	h := hub.New(hub.Config{})
	defer h.Close()
	m := New(Config{Root: t.TempDir()}, h)
	defer m.Close()
	for _, f := range [][2]string{{"../../..", "proc"}, {"live", "../x"}, {"live", "a/b"}, {"/etc", "x"}, {"live/..", "x"}} {
		_, err := m.Recordings(f[0], f[1])
		require.ErrorIs(t, err, ErrBadFilter, "%q", f)
	}
	_, err := m.Recordings("live/x", "cam")
	require.NoError(t, err, "a nested app is a stream key's app")
	_, err = m.Recordings("", "")
	require.NoError(t, err)
}
