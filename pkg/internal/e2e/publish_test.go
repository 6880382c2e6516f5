//go:build e2e

package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReconnectGrace kills a publisher mid-stream and starts a new one on the
// same key within the reconnect grace: the RTMP player (one ffmpeg process,
// never restarted) must keep playing, receive the frames of both publishes
// with monotonic timestamps, and exit cleanly once the last publisher has been
// gone for longer than the grace.
func TestReconnectGrace(t *testing.T) {
	t.Parallel()
	const (
		grace = 5 * time.Second
		key   = "live/reconnect"
		// Kill the first publisher after this many frames (4 s at 25 fps):
		// mid-GOP, so the player has a partial GOP when the stream resumes.
		killAfter = 100
	)
	clip := mediaPath(t, "h264_aac_gop2s.mp4")
	src := probeClip(t, clip)
	srv := startServer(t, envGrace+"="+grace.String())

	// -progress prints "frame=N" lines every -stats_period: the test waits on
	// them instead of sleeping.
	events := srv.openEvents(t, "")
	pub1 := publish(t, srv, key, clip, "-progress", "pipe:2", "-stats_period", "0.1")
	srv.waitLive(t, key, pub1)
	out := tempFile(t, "rtmp.flv")
	player := playRTMPToFile(t, srv, key, out)
	// Usually within the first GOP, but under load the player may
	// subscribe later: the GOP it started from bounds what it gets.
	joined := waitJoins(t, events, pub1, key, "rtmp")

	line, err := pub1.out.waitFor(30*time.Second, 0, func(s string) bool {
		n, ok := progressFrame(s)
		return ok && n >= killAfter
	})
	require.NoError(t, err, "first publisher progress")
	sent1, _ := progressFrame(line)
	pub1.kill() // SIGKILL: no FCUnpublish/deleteStream, the TCP connection just dies
	killedAt := time.Now()
	// Start the second publisher only once the server has seen the first one
	// go (the hub logs it when the grace starts): before that the key is
	// still live and the new publisher would rightly be rejected.
	logFrom := srv.out.len()
	_, err = srv.out.waitFor(10*time.Second, 0, func(s string) bool {
		return strings.Contains(s, `msg="publish stopped"`) && strings.Contains(s, "stream="+key)
	})
	require.NoError(t, err, "server did not log \"publish stopped\" for the killed publisher")
	require.False(t, player.exited(), "player exited when the publisher died: %v", player.result())

	pub2 := publish(t, srv, key, clip)
	_, err = srv.out.waitFor(20*time.Second, logFrom, func(s string) bool {
		return strings.Contains(s, `msg="publish resumed"`) && strings.Contains(s, "stream="+key)
	})
	assert.NoError(t, err, "server should log \"publish resumed\" for the second publisher")
	require.False(t, player.exited(), "player exited before the second publisher resumed: %v", player.result())
	require.NoError(t, pub2.wait(playTimeout), "second publisher (within the grace) should stream the whole clip")
	require.Less(t, time.Since(killedAt), playTimeout)

	// The last publisher left on purpose (FCUnpublish, deleteStream): the
	// stream ends at once, without the grace, and the player gets EOF.
	require.NoError(t, player.wait(30*time.Second), "player should exit 0 when the stream ends")
	assert.Empty(t, timestampWarnings(player), "ffmpeg complained about received timestamps")

	got, err := runProbe(t.Context(), out)
	require.NoError(t, err)
	checkStreams(t, got, src)
	// Across the reconnect the timeline continues: no jump beyond the time
	// the stream really had no publisher.
	checkTimestamps(t, got, grace)
	// The first publisher sent at least sent1 frames (progress lags by up to
	// one -stats_period, and a few more left before the kill landed), of
	// which the player got those from the keyframe it started at (no later
	// than the one live when it subscribed); the second sent the whole clip.
	video := len(got.packets("video"))
	keyframes := src.keyframes()
	last := gopStart(keyframes, joined["rtmp"])
	from := 0
	for _, k := range keyframes {
		if k <= last && abs(sent1-k+src.VideoPackets-video) < abs(sent1-from+src.VideoPackets-video) {
			from = k
		}
	}
	t.Logf("player got %d video frames: first publisher sent ≥%d (player from keyframe %d; subscribed by frame %d), second %d",
		video, sent1, from, joined["rtmp"], src.VideoPackets)
	lo := sent1 - from + int(float64(src.VideoPackets)*0.98)
	hi := sent1 - from + 10 + int(float64(src.VideoPackets)*1.02)
	assert.True(t, video >= lo && video <= hi,
		"player got %d video frames, want %d..%d (first publisher ≥%d from keyframe %d + second %d)", video, lo, hi, sent1, from, src.VideoPackets)
}

var rejectedRE = regexp.MustCompile(`(?i)server error|badname|already`)

var progressRE = regexp.MustCompile(`^frame=(\d+)$`)

// progressFrame parses ffmpeg's -progress "frame=N" line.
func progressFrame(s string) (int, bool) {
	m := progressRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

// TestSecondPublisherRejected checks the default publish policy: a second
// publisher on a live key gets onStatus NetStream.Publish.BadName (ffmpeg
// prints "Server error: <description>" and exits non-zero) while the first
// one keeps streaming.
func TestSecondPublisherRejected(t *testing.T) {
	t.Parallel()
	const key = "live/busy"
	clip := mediaPath(t, "h264_aac_gop2s.mp4")
	srv := startServer(t)

	pub1 := publish(t, srv, key, clip)
	srv.waitLive(t, key, pub1)

	pub2 := publish(t, srv, key, clip)
	code, err := pub2.exitCode(30 * time.Second)
	require.NoError(t, err, "second publisher should be rejected and exit")
	assert.NotZero(t, code, "second publisher exit code")
	rejected := pub2.out.matching(0, rejectedRE.MatchString)
	assert.NotEmpty(t, rejected, "second publisher's stderr should carry the server's rejection")

	assert.False(t, pub1.exited(), "first publisher must keep streaming: %v", pub1.result())
	assert.Equal(t, "200", srv.head(nil, key), "stream still live")
}
