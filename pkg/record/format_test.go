package record

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
)

func graceZero(_ *Config, hc *hub.Config) { hc.ReconnectGrace = 0 }

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
			t.Logf("%s: %d bytes, duration %s, ffprobe %.3f / %.3f", rec.Name, rec.Size, rec.Duration, p.duration(), p.end(""))
			_ = time.Second
		})
	}
}
