//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPlayback publishes a clip with ffmpeg and plays it at the same time over
// RTMP (ffmpeg), HTTP-FLV (ffprobe) and WS-FLV (Go client), each player
// started right after the stream goes live: each must get every frame from
// the keyframe of the GOP it subscribed in (the first, unless the machine is
// loaded; see checkPlaybackJoined).
func TestPlayback(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		clip    string
		pubArgs []string
		env     []string // extra server environment
	}{
		{name: "h264_aac_gop2s", clip: "h264_aac_gop2s.mp4"},
		{name: "h264_aac_bframes", clip: "h264_aac_gop2s_bframes.mp4"},
		// 20000 s is past 0xFFFFFF ms (4 h 39 m 37.215 s): every RTMP message
		// of the publisher carries an extended timestamp (RTMP 1.0 §5.3.1.3).
		{name: "ts_past_0xffffff", clip: "h264_aac_gop2s.mp4", pubArgs: []string{"-output_ts_offset", "20000"}},
		{name: "flv_source", clip: "h264_aac_gop2s.flv"},
		// The smallest and largest outgoing chunk sizes: every frame spans
		// many chunks, or one chunk holds whole frames.
		{name: "chunk_size_128", clip: "h264_aac_gop2s_bframes.mp4", env: []string{"RIPPLE_RTMP_CHUNK_SIZE=128"}},
		{name: "chunk_size_65536", clip: "h264_aac_gop2s.mp4", env: []string{"RIPPLE_RTMP_CHUNK_SIZE=65536"}},
		// Merged writes: players woken once per window get every frame,
		// in order, as with per-frame writes.
		{name: "merge_window_200ms", clip: "h264_aac_gop2s.mp4", env: []string{"RIPPLE_HUB_MERGE_WINDOW=200ms"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clip := mediaPath(t, tc.clip)
			src := probeClip(t, clip)
			srv := startServer(t, append([]string{envGrace + "=0s"}, tc.env...)...)
			const key = "live/e2e"

			events := srv.openEvents(t, "")
			pub := publish(t, srv, key, clip, append(append([]string{}, tc.pubArgs...), "-progress", "pipe:2", "-stats_period", "0.1")...)
			srv.waitLive(t, key, pub)

			rtmpOut := tempFile(t, "rtmp.flv")
			rtmpPlayer := playRTMPToFile(t, srv, key, rtmpOut)
			httpRes := probeURLAsync(srv.flvURL(key))
			wsRes := playWSAsync(srv.wsURL(key), tempFile(t, "ws.flv"))
			// Started once live, the players usually subscribe within the
			// first GOP; under load one may subscribe later.
			joined := waitJoins(t, events, pub, key, "rtmp", "http-flv", "ws-flv")

			require.NoError(t, pub.wait(playTimeout), "publisher")

			t.Run("rtmp", func(t *testing.T) {
				require.NoError(t, rtmpPlayer.wait(playTimeout), "ffmpeg rtmp player should exit 0 at end of stream")
				assert.Empty(t, timestampWarnings(rtmpPlayer), "ffmpeg complained about received timestamps")
				got, err := runProbe(t.Context(), rtmpOut)
				require.NoError(t, err)
				checkPlaybackJoined(t, got, src, joined["rtmp"])
			})
			t.Run("httpflv", func(t *testing.T) {
				r := await(t, "http-flv ffprobe", httpRes, playTimeout)
				require.NoError(t, r.err)
				checkPlaybackJoined(t, r.probe, src, joined["http-flv"])
			})
			t.Run("wsflv", func(t *testing.T) {
				r := await(t, "ws-flv client", wsRes, playTimeout)
				require.NoError(t, r.err)
				checkPlaybackJoined(t, r.probe, src, joined["ws-flv"])
			})
		})
	}
}

// TestMidGOPJoin starts players in the middle of the second GOP: the GOP
// cache must start each at the keyframe of the GOP that was live when it
// subscribed, so it gets exactly the frames from that keyframe on, beginning
// with a keyframe. Under load a player process can take longer than the rest
// of the GOP to subscribe, so the GOP it must get is bounded by what the
// publisher had sent when the players were started and when the server
// announced each subscription (its player_joined event), not assumed.
func TestMidGOPJoin(t *testing.T) {
	t.Parallel()
	const key = "live/midgop"
	clip := mediaPath(t, "h264_aac_gop2s.mp4")
	src := probeClip(t, clip)
	keyframes := src.keyframes()
	require.GreaterOrEqual(t, len(keyframes), 3, "clip keyframes %v", keyframes)
	// Start the players a fifth into the second GOP: usually they join
	// within it.
	joinAt := keyframes[1] + (keyframes[2]-keyframes[1])/5
	srv := startServer(t, envGrace+"=0s")
	events := srv.openEvents(t, "")

	pub := publish(t, srv, key, clip, "-progress", "pipe:2", "-stats_period", "0.1")
	line, err := pub.out.waitFor(30*time.Second, 0, func(s string) bool {
		n, ok := progressFrame(s)
		return ok && n >= joinAt
	})
	require.NoError(t, err, "publisher progress")
	sent, _ := progressFrame(line)
	rtmpOut := tempFile(t, "rtmp.flv")
	rtmpPlayer := playRTMPToFile(t, srv, key, rtmpOut)
	httpRes := probeURLAsync(srv.flvURL(key))
	joined := waitJoins(t, events, pub, key, "rtmp", "http-flv")
	require.NoError(t, pub.wait(playTimeout), "publisher")

	check := func(t *testing.T, proto string, got probe) {
		video := got.packets("video")
		// The GOPs live while the player subscribed start at the last
		// keyframe at or before sent and at or before joined[proto]; the
		// frame count says which of them it got.
		first, last := gopStart(keyframes, sent), gopStart(keyframes, joined[proto])
		from := first
		for _, k := range keyframes {
			if k > first && k <= last && abs(src.VideoPackets-k-len(video)) < abs(src.VideoPackets-from-len(video)) {
				from = k
			}
		}
		want := src.VideoPackets - from
		t.Logf("subscribed between frames %d and %d (GOPs from keyframes %d..%d): received %d video packets, want %d (from keyframe %d)",
			sent, joined[proto], first, last, len(video), want, from)
		checkStreams(t, got, src)
		checkCount(t, "video", len(video), want, 0.02)
		checkTimestamps(t, got, time.Second)
	}
	t.Run("rtmp", func(t *testing.T) {
		require.NoError(t, rtmpPlayer.wait(playTimeout), "ffmpeg rtmp player")
		assert.Empty(t, timestampWarnings(rtmpPlayer), "ffmpeg complained about received timestamps")
		got, err := runProbe(t.Context(), rtmpOut)
		require.NoError(t, err)
		check(t, "rtmp", got)
	})
	t.Run("httpflv", func(t *testing.T) {
		r := await(t, "http-flv ffprobe", httpRes, playTimeout)
		require.NoError(t, r.err)
		check(t, "http-flv", r.probe)
	})
}

// checkPlaybackJoined is checkPlayback for a player that was started once
// the stream was live and may, on a loaded machine, have subscribed after
// the first GOP: the GOP cache started it at a keyframe no later than the one
// live at frame upTo (see waitJoins), and it must have every frame from that
// keyframe on (audio: the same share of the source's).
func checkPlaybackJoined(t *testing.T, got probe, src source, upTo int) {
	t.Helper()
	keyframes := src.keyframes()
	video := len(got.packets("video"))
	last := gopStart(keyframes, upTo)
	from := 0
	for _, k := range keyframes {
		if k <= last && abs(src.VideoPackets-k-video) < abs(src.VideoPackets-from-video) {
			from = k
		}
	}
	wantV := src.VideoPackets - from
	wantA := src.AudioPackets * wantV / src.VideoPackets
	t.Logf("subscribed by frame %d (GOPs from keyframes 0..%d): received %d video / %d audio packets, want %d / %d (from keyframe %d)",
		upTo, last, video, len(got.packets("audio")), wantV, wantA, from)
	checkStreams(t, got, src)
	checkCount(t, "video", video, wantV, 0.02)
	checkCount(t, "audio", len(got.packets("audio")), wantA, 0.05)
	checkTimestamps(t, got, time.Second)
}

// gopStart returns the last keyframe at or before frame.
func gopStart(keyframes []int, frame int) int {
	start := 0
	for _, k := range keyframes {
		if k <= frame {
			start = k
		}
	}
	return start
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// waitJoins waits for a player_joined event on key for each of protocols
// and returns, per protocol, a publisher frame count reached after the
// server announced the subscription: an upper bound for the frames the
// server had received when the player subscribed. It takes the second
// progress report after the event, so that a report ffmpeg wrote before the
// subscription but that was read late cannot pass for one after it.
func waitJoins(t *testing.T, events *sseStream, pub *proc, key string, protocols ...string) map[string]int {
	t.Helper()
	frames := make(map[string]int, len(protocols))
	for len(frames) < len(protocols) {
		ev := events.nextOf(t)
		if ev.name != "player_joined" {
			continue
		}
		var pe struct {
			Key      string `json:"key"`
			Protocol string `json:"protocol"`
		}
		require.NoError(t, json.Unmarshal([]byte(ev.data), &pe), "player_joined data %s", ev.data)
		if pe.Key != key || !slices.Contains(protocols, pe.Protocol) {
			continue
		}
		reports := 0
		line, err := pub.out.waitFor(30*time.Second, pub.out.len(), func(s string) bool {
			_, ok := progressFrame(s)
			if ok {
				reports++
			}
			return reports == 2
		})
		require.NoError(t, err, "publisher progress after %s joined", pe.Protocol)
		frames[pe.Protocol], _ = progressFrame(line)
	}
	return frames
}

// TestSingleTrack plays audio-only and video-only streams over HTTP-FLV: the
// FLV header must announce only the track that exists (flv.js/mpegts.js wait
// forever for a missing one) and ffprobe must see exactly one stream.
func TestSingleTrack(t *testing.T) {
	t.Parallel()
	const (
		flagAudio = 0x04 // FLV 10.1 §E.2: TypeFlagsAudio
		flagVideo = 0x01 // TypeFlagsVideo
	)
	cases := []struct {
		name      string
		clip      string
		codecType string
		flags     byte
	}{
		{name: "audio_only", clip: "audio_only_aac.mp4", codecType: "audio", flags: flagAudio},
		{name: "video_only", clip: "video_only_h264.mp4", codecType: "video", flags: flagVideo},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clip := mediaPath(t, tc.clip)
			src := probeClip(t, clip)
			require.Len(t, src.Streams, 1, "clip should have one stream")
			srv := startServer(t, envGrace+"=0s")
			const key = "live/single"

			pub := publish(t, srv, key, clip)
			srv.waitLive(t, key, pub)
			out := tempFile(t, "http.flv")
			fetched := fetchFLVAsync(srv.flvURL(key), out)

			require.NoError(t, pub.wait(playTimeout), "publisher")
			require.NoError(t, await(t, "http-flv download", fetched, playTimeout))

			b, err := os.ReadFile(out)
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(b), 13, "FLV header + PreviousTagSize0")
			require.Equal(t, "FLV", string(b[:3]), "FLV signature")
			assert.Equalf(t, tc.flags, b[4], "FLV header flags byte: got %#02x, want %#02x", b[4], tc.flags)

			got, err := runProbe(t.Context(), out)
			require.NoError(t, err)
			require.Len(t, got.Streams, 1, "ffprobe streams: %v", got.Streams)
			assert.Equal(t, tc.codecType, got.Streams[0].CodecType)
			checkPlayback(t, got, src)
		})
	}
}
