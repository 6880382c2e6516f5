package record

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// TestRecordFixture records 20 s of the media/ clip (H.264 + AAC) in both
// formats and reads the files back with ffprobe: both tracks, the
// duration within a GOP, the first video packet a keyframe near 0.
func TestRecordFixture(t *testing.T) {
	pkts := fixture(t, 2)
	for _, f := range []Format{FormatFMP4, FormatFLV} {
		t.Run(f.String(), func(t *testing.T) {
			e := newEnv(t, Rule{Enabled: true, Format: f}, graceZero)
			pub := e.publish(testKey)
			write(t, pub, pkts...)
			started := e.wait(EventStarted)
			require.True(t, started.Recording.InProgress)
			pub.Close()
			done := e.wait(EventDone)
			rec := done.Recording
			require.Equal(t, testKey, rec.Key)
			require.False(t, rec.InProgress)
			require.InDelta(t, 20.0, rec.Duration.Seconds(), 2.1)
			p := ffprobe(t, rec.Path)
			require.Equal(t, map[string]string{"video": "h264", "audio": "aac"}, p.codecs())
			require.InDelta(t, 20.0, p.end("video"), 2.1)
			require.InDelta(t, 20.0, p.end("audio"), 2.1)
			require.InDelta(t, 20.0, p.duration(), 2.1, "format duration")
			pts, key := p.first("video")
			require.True(t, key)
			require.Less(t, pts, 0.2)
			fi, err := os.Stat(rec.Path)
			require.NoError(t, err)
			require.Equal(t, fi.Size(), rec.Size)
		})
	}
}

// doneEvents waits for n EventDone, in order.
func (e *env) doneEvents(n int) []Recording {
	e.t.Helper()
	var out []Recording
	for range n {
		out = append(out, e.wait(EventDone).Recording)
	}
	return out
}

// TestSegments cuts the 20 s clip (a keyframe every 2 s) into files of
// at least 3 s: each starts at the first keyframe past it, so they are 4
// s long, each begins with a keyframe at time 0, and the names, all of the
// same second, never collide.
func TestSegments(t *testing.T) {
	pkts := fixture(t, 2)
	for _, f := range []Format{FormatFMP4, FormatFLV} {
		t.Run(f.String(), func(t *testing.T) {
			e := newEnv(t, Rule{Enabled: true, Format: f, SegmentDuration: 3 * time.Second}, graceZero)
			pub := e.publish(testKey)
			write(t, pub, pkts...)
			pub.Close()
			recs := e.doneEvents(5)
			for i, rec := range recs {
				want := "live/cam/20261207T153000Z." + f.Ext()
				if i > 0 {
					want = "live/cam/20261207T153000Z-" + strconv.Itoa(i) + "." + f.Ext()
				}
				require.Equal(t, want, rec.Name)
				require.Equal(t, filepath.Join(e.dir, "recordings", filepath.FromSlash(want)), rec.Path)
				p := ffprobe(t, rec.Path)
				pts, key := p.first("video")
				require.True(t, key, "%s starts with a keyframe", rec.Name)
				require.Less(t, pts, 0.1, "%s starts at 0", rec.Name)
				apts, _ := p.first("audio")
				require.Less(t, apts, 0.1)
				require.InDelta(t, 4.0, p.end("video"), 0.2, rec.Name)
				require.InDelta(t, 4.0, rec.Duration.Seconds(), 0.2, rec.Name)
			}
			e.noEvent()
		})
	}
}

// TestAudioOnlySegments cuts an audio-only stream on time.
func TestAudioOnlySegments(t *testing.T) {
	pkts := generated(mediatest.Config{NoVideo: true}, 7*44) // ~7.15 s
	for _, f := range []Format{FormatFMP4, FormatFLV} {
		t.Run(f.String(), func(t *testing.T) {
			e := newEnv(t, Rule{Enabled: true, Format: f, SegmentDuration: 2 * time.Second}, graceZero)
			pub := e.publish(testKey)
			write(t, pub, pkts...)
			pub.Close()
			recs := e.doneEvents(4)
			for i, rec := range recs {
				p := ffprobe(t, rec.Path)
				require.Equal(t, map[string]string{"audio": "aac"}, p.codecs())
				pts, _ := p.first("audio")
				require.Less(t, pts, 0.03)
				want := 2.0
				if i == 3 {
					want = 1.1
				}
				require.InDelta(t, want, p.end("audio"), 0.05, rec.Name)
				require.InDelta(t, want, rec.Duration.Seconds(), 0.05, rec.Name)
			}
			e.noEvent()
		})
	}
}

// TestNeverOverwrites finds a file where the next recording would go: the
// recording takes the next free name and the file stays as it was.
func TestNeverOverwrites(t *testing.T) {
	e := newEnv(t, Rule{Enabled: true}, graceZero)
	dir := filepath.Join(e.dir, "recordings", "live", "cam")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, name := range []string{"20261207T153000Z.mp4", "20261207T153000Z-1.mp4"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("mine"), 0o600))
	}
	pub := e.publish(testKey)
	write(t, pub, generated(mediatest.Config{}, 100)...)
	pub.Close()
	rec := e.wait(EventDone).Recording
	require.Equal(t, "live/cam/20261207T153000Z-2.mp4", rec.Name)
	for _, name := range []string{"20261207T153000Z.mp4", "20261207T153000Z-1.mp4"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Equal(t, "mine", string(b))
	}
	fi, err := os.Stat(rec.Path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
	di, err := os.Stat(filepath.Join(e.dir, "recordings"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o755), di.Mode().Perm())
}

// TestTracksChange: an audio-only stream that starts sending video gets a
// new file with both tracks at the first keyframe; a new video
// configuration ends an fMP4 file (FLV carries it inline).
func TestTracksChange(t *testing.T) {
	for _, f := range []Format{FormatFMP4, FormatFLV} {
		t.Run(f.String(), func(t *testing.T) {
			e := newEnv(t, Rule{Enabled: true, Format: f}, graceZero)
			pub := e.publish(testKey)
			ga := mediatest.New(mediatest.Config{NoVideo: true})
			e.writeSync(testKey, pub, append(ga.Headers(), ga.Packets(44)...)...) // 1 s of audio
			first := e.wait(EventStarted)

			gv := mediatest.New(mediatest.Config{NoAudio: true, StartTS: 1022})
			pkts := []*av.Packet{gv.VideoHeader()}
			for range 60 { // 2 s of both
				pkts = append(pkts, gv.NextVideo(), ga.NextAudio(), ga.NextAudio())
			}
			e.writeSync(testKey, pub, pkts...)
			done := e.next()
			require.Equal(t, EventDone, done.Type)
			require.Equal(t, first.Recording.Path, done.Recording.Path)
			second := e.next()
			require.Equal(t, EventStarted, second.Type)

			// A new resolution.
			pkts = []*av.Packet{mediatest.VideoHeader(uint32(gv.VideoDTS(60)+1022), 640, 480)}
			for range 60 {
				pkts = append(pkts, gv.NextVideo(), ga.NextAudio(), ga.NextAudio())
			}
			e.writeSync(testKey, pub, pkts...)
			pub.Close()
			recs := []Recording{first.Recording, second.Recording}
			ev := e.next()
			require.Equal(t, EventDone, ev.Type)
			require.Equal(t, second.Recording.Path, ev.Recording.Path)
			if f == FormatFMP4 {
				third := e.next()
				require.Equal(t, EventStarted, third.Type)
				recs = append(recs, third.Recording)
				ev = e.next()
				require.Equal(t, EventDone, ev.Type)
				require.Equal(t, third.Recording.Path, ev.Recording.Path)
			}
			e.noEvent()
			require.Equal(t, map[string]string{"audio": "aac"}, ffprobe(t, recs[0].Path).codecs())
			for _, r := range recs[1:] {
				p := ffprobe(t, r.Path)
				require.Equal(t, map[string]string{"video": "h264", "audio": "aac"}, p.codecs(), r.Name)
				_, key := p.first("video")
				require.True(t, key)
			}
		})
	}
}
