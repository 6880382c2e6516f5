package record

import (
	"os"
	"testing"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// discardFile is a file that keeps nothing written: the benchmarks
// measure the recorder, not the disk.
type discardFile struct{ *os.File }

func (discardFile) Write(b []byte) (int, error)            { return len(b), nil }
func (discardFile) WriteAt(b []byte, _ int64) (int, error) { return len(b), nil }
func (discardFile) Truncate(int64) error                   { return nil }

func createDiscard(path string) (diskFile, error) {
	f, err := createFile(path)
	if err != nil {
		return nil, err
	}
	return discardFile{f.(*os.File)}, nil
}

// benchRecorder returns a recorder of testKey driven by the benchmark's
// goroutine (no hub reader), writing through create.
func benchRecorder(b *testing.B, f Format, create func(string) (diskFile, error), rule Rule) *recorder {
	b.Helper()
	h := hub.New(hub.Config{})
	b.Cleanup(h.Close)
	m := New(Config{Root: b.TempDir()}, h)
	b.Cleanup(func() { _ = m.Close() })
	if create != nil {
		m.create = create
	}
	rule.Format = f
	rule = rule.withDefaults()
	tp, err := m.template(rule.Path)
	if err != nil {
		b.Fatal(err)
	}
	app, stream := splitKey(testKey)
	return &recorder{
		m: m, key: testKey, app: app, stream: stream, rule: rule, tpl: tp, rootDir: m.rootDir(tp), log: m.log,
		stopCh: make(chan struct{}), done: make(chan struct{}),
	}
}

// benchRecord feeds a 2.5 Mb/s stream (30 fps H.264, a keyframe every
// 2 s, AAC) to a recorder, a batch per video frame as the hub wakes it,
// cycling through 60 s of packets with their timestamps moved on.
func benchRecord(b *testing.B, f Format, create func(string) (diskFile, error), rule Rule) {
	g := mediatest.New(mediatest.Config{GOP: 60, KeySize: 80 << 10, FrameSz: 8 << 10, AudioSz: 400})
	heads := g.Headers()
	pool := g.Packets(60 * (30 + 44))
	span := pool[len(pool)-1].DTS + 33
	base := make([]int64, len(pool))
	var bytes int64
	for i, p := range pool {
		base[i] = p.DTS
		bytes += int64(len(p.Data))
	}
	r := benchRecorder(b, f, create, rule)
	for _, p := range heads {
		_ = r.Frame(p)
	}
	b.ReportAllocs()
	b.SetBytes(bytes / int64(len(pool)))
	b.ResetTimer()
	for i := range b.N {
		j := i % len(pool)
		p := pool[j]
		p.DTS = base[j] + int64(i/len(pool))*span
		_ = r.Frame(p)
		if p.Kind == av.KindVideo {
			r.batchEnd()
		}
	}
	r.finish()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	if st := r.m.Stats(); st.Errors != 0 {
		b.Fatalf("%d errors", st.Errors)
	}
}

// The "discard" runs measure the recorder alone (1 min files, writes
// dropped); the "file" runs write 10 s files to the test's temporary
// directory, keeping 64 MiB (a retention pass at each new file).
var (
	benchDiscard = Rule{SegmentDuration: time.Minute}
	benchFile    = Rule{SegmentDuration: 10 * time.Second, MaxBytes: 64 << 20}
)

func BenchmarkRecordFMP4(b *testing.B) {
	b.Run("discard", func(b *testing.B) { benchRecord(b, FormatFMP4, createDiscard, benchDiscard) })
	b.Run("file", func(b *testing.B) { benchRecord(b, FormatFMP4, nil, benchFile) })
}

func BenchmarkRecordFLV(b *testing.B) {
	b.Run("discard", func(b *testing.B) { benchRecord(b, FormatFLV, createDiscard, benchDiscard) })
	b.Run("file", func(b *testing.B) { benchRecord(b, FormatFLV, nil, benchFile) })
}
