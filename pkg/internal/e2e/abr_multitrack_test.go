//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// mtLadder is the ladder TestABRMultitrack publishes: track 0 is the
// published stream, tracks 1 and 2 its renditions live/mt_t1, live/mt_t2.
var mtLadder = []struct {
	width, height int
	bitrate       string // x264 target (-b:v, -maxrate)
}{
	{640, 360, "1000k"},
	{320, 180, "300k"},
	{160, 90, "64k"},
}

const (
	// mtClipSeconds is the length of the encoded ladder, looped when
	// published: a whole number of GOPs (-g 25 at 25 fps: one a second)
	// and of 32 ms AAC frames (1024 samples at 32 kHz), so the loop
	// continues every track's timeline without a gap or an overlap.
	mtClipSeconds = 4
	// mtThrottleBPS is the download rate the browser is throttled to: the
	// top variant needs more than twice that, the lowest less than 3/4.
	mtThrottleBPS = 300_000
)

// TestABRMultitrack publishes a three-track H.264 ladder (640x360,
// 320x180, 160x90, keyframes at the same times, one AAC track) as one
// E-RTMP v2 multitrack publish with our RTMP client, at real time, and
// checks the renditions end to end: the API lists live/mt with the
// renditions live/mt_t1 and live/mt_t2; ffprobe sees each track's size over
// HTTP-FLV (?track=N and the rendition's own URL); the multivariant HLS
// playlist lists the three variants with their RESOLUTION, and every
// variant's segments start on keyframes at the same media times. In
// headless Chromium the page lists the renditions under their source,
// hls.js plays the multivariant playlist and the page shows the level
// playing; throttled to mtThrottleBPS (DevTools network emulation) hls.js
// switches down; the manual choice sets hls.currentLevel; a WS-FLV player
// of the source offers the renditions and plays the one chosen; and a
// stream without renditions shows none of this, over WS-FLV or HLS.
func TestABRMultitrack(t *testing.T) {
	t.Parallel()
	const key = "live/mt"
	renditions := []string{"live/mt_t1", "live/mt_t2"}
	clip := mtEncode(t)
	srv := startServer(t)
	mtStartPublish(t, srv, key, clip)

	// The API: the source lists its renditions, each names its source.
	src := pollAPI(t, srv, "/api/v1/streams/"+key, 20*time.Second, func(s mtAPIStream) bool {
		return len(s.Renditions) == len(renditions)
	})
	require.Equal(t, renditions, src.Renditions)
	require.Empty(t, src.Source, "the source is no rendition")
	for i, rk := range renditions {
		var r mtAPIStream
		srv.apiGet(t, "/api/v1/streams/"+rk, &r)
		require.Equal(t, key, r.Source, rk)
		require.Equal(t, "t"+strconv.Itoa(i+1), r.Rendition, rk)
		require.Empty(t, r.Renditions, rk)
	}

	// HTTP-FLV: each track by ?track=N and by its rendition's own URL,
	// probed in the background while the HLS segments accumulate.
	type flvCase struct {
		url           string
		width, height int
		res           <-chan mtSize
	}
	flvCases := []flvCase{{url: srv.flvURL(key), width: mtLadder[0].width, height: mtLadder[0].height}}
	for i, rk := range renditions {
		l := mtLadder[i+1]
		flvCases = append(flvCases,
			flvCase{url: srv.flvURL(key) + "?track=" + strconv.Itoa(i+1), width: l.width, height: l.height},
			flvCase{url: srv.flvURL(rk), width: l.width, height: l.height})
	}
	for i := range flvCases {
		flvCases[i].res = mtProbeSizeAsync(flvCases[i].url)
	}

	// HLS: the multivariant playlist lists the three variants, highest
	// BANDWIDTH first, with their sizes.
	master := "http://" + srv.HTTPAddr + "/" + key + ".m3u8"
	variants := waitVariants(t, master, len(mtLadder))
	for i, v := range variants {
		require.Equal(t, fmt.Sprintf("%dx%d", mtLadder[i].width, mtLadder[i].height), v.resolution,
			"variant %d (%s)", i, v.uri)
		require.Contains(t, v.codecs, "avc1.", v.uri)
		require.Contains(t, v.codecs, "mp4a.", v.uri)
	}
	require.Equal(t, "mt/media.m3u8", variants[0].uri)
	require.Greater(t, variants[0].bandwidth, 2*mtThrottleBPS, "the top variant must not fit the throttled network")
	require.Less(t, variants[len(variants)-1].bandwidth, mtThrottleBPS*3/4, "the lowest variant must fit the throttled network")
	checkAlignment(t, master, variants, 0)

	for _, c := range flvCases {
		r := await(t, "ffprobe "+c.url, c.res, 40*time.Second)
		require.NoError(t, r.err, c.url)
		require.Equal(t, [2]int{c.width, c.height}, [2]int{r.width, r.height}, "video size of %s", c.url)
	}

	// The page.
	br := startBrowser(t)
	tb := br.newTab(t, "abr")
	tb.do(t, "open the page", pageTimeout, chromedp.Navigate(srv.pageURL()+"#"+key+"?hls"))
	requireLocalLibs(t, tb)

	// The live list: the renditions right under their source, labelled.
	tb.poll(t, "the renditions listed under their source", 15*time.Second, `(() => {
  const keys = [...document.querySelectorAll('#streams tr.stream-row')].map((r) => r.dataset.stream);
  const i = keys.indexOf('live/mt');
  const row = (k) => document.querySelector('tr.stream-row[data-stream="' + k + '"]');
  return i >= 0 && keys[i + 1] === 'live/mt_t1' && keys[i + 2] === 'live/mt_t2' &&
    !row('live/mt').classList.contains('rendition-row') &&
    row('live/mt').querySelector('.renditions-count').textContent === '2 renditions' &&
    ['t1', 't2'].every((n) => row('live/mt_' + n).classList.contains('rendition-row') &&
      row('live/mt_' + n).querySelector('.rendition-name').textContent === n);
})()`)

	// hls.js plays the multivariant playlist and offers its levels.
	tb.do(t, "press Play", pageTimeout, chromedp.Click(chromedp.CSS(`#stream-form button[type=submit]`)))
	res := eval[playResult](t, tb, "watch playback", browserPlayTimeout+5*time.Second,
		fmt.Sprintf(watchPlayback, 2.0, browserPlayTimeout.Milliseconds()))
	require.True(t, res.OK, "%s (state: %+v)", res.Reason, res)
	require.Equal(t, "hls.js", res.Engine)
	require.True(t, strings.HasSuffix(res.URL, "/"+key+".m3u8"), res.URL)
	tb.poll(t, "the levels offered", 15*time.Second, `window.ripple.rendition.kind === 'hls' && window.ripple.rendition.playing >= 0`)
	rend := eval[mtRendition](t, tb, "the rendition state", pageTimeout, `window.ripple.rendition`)
	require.Len(t, rend.Options, len(mtLadder))
	for i, o := range rend.Options { // hls.js's order: lowest first
		l := mtLadder[len(mtLadder)-1-i]
		require.Equal(t, [2]int{l.width, l.height}, [2]int{o.Width, o.Height}, "level %d", i)
	}
	require.Equal(t, []string{"Auto", "360p", "180p", "90p"}, mtChoiceLabels(t, tb))
	top, lowest := len(mtLadder)-1, 0
	// On loopback hls.js plays the top level (the playlist's first).
	tb.poll(t, "hls.js plays the top level", 20*time.Second,
		fmt.Sprintf(`window.ripple.rendition.playing === %d && window.ripple.player.currentLevel === %[1]d`, top))
	require.True(t, strings.HasPrefix(mtText(t, tb, "rendition-now"), "Playing 360p"), mtText(t, tb, "rendition-now"))
	tb.screenshot(t, "player-abr.png")

	// Throttled, hls.js switches down on its own.
	mtThrottle(t, tb, mtThrottleBPS, 100*time.Millisecond)
	start := time.Now()
	tb.poll(t, "hls.js switches down", 40*time.Second,
		fmt.Sprintf(`window.ripple.rendition.auto && window.ripple.rendition.playing < %d`, top))
	down := eval[int](t, tb, "the level playing", pageTimeout, `window.ripple.rendition.playing`)
	t.Logf("throttled to %d kb/s: hls.js switched down to level %d (%dp) after %s", mtThrottleBPS/1000,
		down, rend.Options[down].Height, time.Since(start).Round(time.Millisecond))
	require.Contains(t, mtText(t, tb, "rendition-now"), "(auto)")
	mtThrottle(t, tb, -1, 0)

	// The manual choice: the top level, then the lowest, then Auto again.
	for _, level := range []int{top, lowest} {
		mtChoose(t, tb, strconv.Itoa(level))
		tb.poll(t, fmt.Sprintf("hls.js plays level %d as chosen", level), 20*time.Second,
			fmt.Sprintf(`window.ripple.player.currentLevel === %d && window.ripple.rendition.playing === %[1]d && !window.ripple.player.autoLevelEnabled`, level))
	}
	now := mtText(t, tb, "rendition-now")
	require.True(t, strings.HasPrefix(now, "Playing 90p"), now)
	require.NotContains(t, now, "(auto)")
	mtChoose(t, tb, "-1")
	require.True(t, eval[bool](t, tb, "auto again", pageTimeout,
		`window.ripple.player.autoLevelEnabled && window.ripple.rendition.choice === -1`))

	// WS-FLV of the source: the source and its renditions are offered;
	// choosing one plays its FLV URL.
	tb.do(t, "play WS-FLV", pageTimeout,
		chromedp.SetValue(chromedp.CSS(`#proto`), "ws"),
		chromedp.Click(chromedp.CSS(`#stream-form button[type=submit]`)))
	tb.poll(t, "the renditions offered to the FLV player", 15*time.Second,
		`window.ripple.rendition.kind === 'flv' && window.ripple.rendition.options.length === 3`)
	rend = eval[mtRendition](t, tb, "the rendition state", pageTimeout, `window.ripple.rendition`)
	var keys []string
	for _, o := range rend.Options {
		keys = append(keys, o.Key)
	}
	require.Equal(t, append([]string{key}, renditions...), keys)
	mtChoose(t, tb, renditions[1])
	res = eval[playResult](t, tb, "watch the rendition", browserPlayTimeout+5*time.Second,
		fmt.Sprintf(watchPlayback, 1.0, browserPlayTimeout.Milliseconds()))
	require.True(t, res.OK, "%s (state: %+v)", res.Reason, res)
	require.Equal(t, "mpegts.js", res.Engine)
	require.True(t, strings.HasSuffix(res.URL, "/"+renditions[1]+".flv"), res.URL)
	require.Equal(t, [2]int{mtLadder[2].width, mtLadder[2].height}, [2]int{res.Width, res.Height})
	require.Equal(t, renditions[1], eval[string](t, tb, "the choice", pageTimeout, `document.getElementById('rendition').value`))
	require.Contains(t, mtText(t, tb, "rendition-now"), "t2")
	tb.screenshot(t, "player-abr-flv.png")

	// A stream without renditions (track 0 alone) shows none of this: no
	// marks in the list, no choice in the player, whatever the protocol.
	const plain = "live/plain"
	mtStartPublish(t, srv, plain, clip.track(0))
	srv.waitLive(t, plain, nil)
	tb.poll(t, "the plain stream listed", 15*time.Second, `(() => {
  const row = document.querySelector('tr.stream-row[data-stream="live/plain"]');
  return row && !row.classList.contains('rendition-row') && row.querySelector('.renditions-count').hidden &&
    row.querySelector('.rendition-name').hidden;
})()`)
	for _, proto := range []string{"ws", "hls"} {
		tb.do(t, "play "+plain+" over "+proto, pageTimeout,
			chromedp.SetValue(chromedp.CSS(`#stream`), "plain"),
			chromedp.SetValue(chromedp.CSS(`#proto`), proto),
			chromedp.Click(chromedp.CSS(`#stream-form button[type=submit]`)))
		res = eval[playResult](t, tb, "watch "+plain, browserPlayTimeout+5*time.Second,
			fmt.Sprintf(watchPlayback, 1.0, browserPlayTimeout.Milliseconds()))
		require.True(t, res.OK, "%s: %s (state: %+v)", proto, res.Reason, res)
		require.Contains(t, res.URL, "/"+plain+".", proto)
		require.Equal(t, [2]int{mtLadder[0].width, mtLadder[0].height}, [2]int{res.Width, res.Height}, proto)
		require.True(t, eval[bool](t, tb, "no choice of rendition", pageTimeout,
			`window.ripple.rendition.kind === '' && document.getElementById('renditions').hidden`), proto)
	}

	var fatal []playerError
	for _, e := range eval[[]playerError](t, tb, "errors", pageTimeout, `window.ripple.errors`) {
		if e.Fatal {
			fatal = append(fatal, e)
		}
	}
	require.Empty(t, fatal, "fatal player errors: %s", describeErrors(fatal))
}

// mtAPIStream is the part of the API's stream the test reads.
type mtAPIStream struct {
	Key        string   `json:"key"`
	Source     string   `json:"source"`
	Rendition  string   `json:"rendition"`
	Renditions []string `json:"renditions"`
}

// mtRendition is the page's window.ripple.rendition, as far as the test
// reads it (playing is a level for hls, a key for flv: read on its own).
type mtRendition struct {
	Kind    string `json:"kind"`
	Options []struct {
		Key    string `json:"key"`
		Width  int    `json:"width"`
		Height int    `json:"height"`
	} `json:"options"`
	Auto bool `json:"auto"`
}

// mtClip is the encoded ladder as packets to publish: the sequence headers
// of every track, then the frames of mtClipSeconds in timestamp order
// (each timestamp's video of tracks 0, 1, 2, then audio), each packet
// with its track set.
type mtClip struct {
	headers []*av.Packet
	media   []*av.Packet
	dur     int64 // ms: the loop's length
}

// mtEncode encodes the ladder from one testsrc2 with ffmpeg (libx264, no
// B-frames, a keyframe every 25 frames and nowhere else: the same times on
// every track) and a sine in AAC, each into an FLV file of its own, and
// reads them back with pkg/flv. The audio goes with track 0.
func mtEncode(t *testing.T) mtClip {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	split := fmt.Sprintf("[0:v]split=%d", len(mtLadder))
	var scale []string
	for i, l := range mtLadder {
		split += fmt.Sprintf("[s%d]", i)
		scale = append(scale, fmt.Sprintf("[s%d]scale=%d:%d[v%d]", i, l.width, l.height, i))
	}
	args := append(append([]string{}, ffmpegBase...), "-y",
		"-f", "lavfi", "-t", strconv.Itoa(mtClipSeconds), "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=25", mtLadder[0].width, mtLadder[0].height),
		"-f", "lavfi", "-t", strconv.Itoa(mtClipSeconds), "-i", "sine=frequency=440:sample_rate=32000",
		"-filter_complex", split+";"+strings.Join(scale, ";"))
	for i, l := range mtLadder {
		args = append(args, "-map", fmt.Sprintf("[v%d]", i), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
			"-bf", "0", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
			"-b:v", l.bitrate, "-maxrate", l.bitrate, "-bufsize", l.bitrate,
			filepath.Join(dir, fmt.Sprintf("v%d.flv", i)))
	}
	args = append(args, "-map", "1:a", "-c:a", "aac", "-b:a", "32k", filepath.Join(dir, "a.flv"))
	if out, err := exec.CommandContext(ctx, ffmpegBin, args...).CombinedOutput(); err != nil {
		t.Fatalf("encode the ladder: %v\n%s", err, out)
	}

	var clip mtClip
	var keys [][]int64
	for i := range mtLadder {
		hdr, frames := mtReadFLV(t, filepath.Join(dir, fmt.Sprintf("v%d.flv", i)), uint8(i))
		require.Len(t, hdr, 1, "v%d: one video sequence header", i)
		require.NotEmpty(t, frames, "v%d", i)
		clip.headers = append(clip.headers, hdr...)
		clip.media = append(clip.media, frames...)
		var k []int64
		for _, p := range frames {
			if p.Keyframe {
				k = append(k, p.DTS)
			}
		}
		keys = append(keys, k)
		if i == 0 {
			clip.dur = frames[len(frames)-1].DTS + 40
		}
	}
	require.Equal(t, int64(mtClipSeconds*1000), clip.dur, "track 0 lasts the clip")
	for i := range keys {
		require.Equal(t, keys[0], keys[i], "track %d has its keyframes where track 0 has", i)
	}
	require.Len(t, keys[0], mtClipSeconds, "a keyframe a second")
	hdr, audio := mtReadFLV(t, filepath.Join(dir, "a.flv"), 0)
	require.Len(t, hdr, 1, "one AAC sequence header")
	clip.headers = append(clip.headers, hdr...)
	// The encoder's last frame ends past the clip (its priming delay): the
	// loop starts again where the clip ends.
	audio = slices.DeleteFunc(audio, func(p *av.Packet) bool { return p.DTS >= clip.dur })
	require.NotEmpty(t, audio)
	clip.media = append(clip.media, audio...)
	// Stable: each timestamp's video in track order, then its audio.
	sort.SliceStable(clip.media, func(i, j int) bool { return clip.media[i].DTS < clip.media[j].DTS })
	return clip
}

// mtReadFLV reads an FLV file's audio and video tags as packets of track
// (script data dropped): its sequence headers and its frames.
func mtReadFLV(t *testing.T, path string, track uint8) (headers, frames []*av.Packet) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r := flv.NewReader(f)
	_, err = r.ReadHeader()
	require.NoError(t, err, path)
	for {
		tag, err := r.ReadTag()
		if errors.Is(err, io.EOF) {
			return headers, frames
		}
		require.NoError(t, err, path)
		p, err := flv.PacketFromTag(tag.Type, tag.Timestamp, tag.Body)
		require.NoError(t, err, path)
		if p == nil || !p.IsMedia() {
			continue
		}
		p.Track = track
		if p.Header {
			headers = append(headers, p)
		} else {
			frames = append(frames, p)
		}
	}
}

// track returns the packets of one track of the clip (as track 0).
func (c mtClip) track(n uint8) mtClip {
	out := mtClip{dur: c.dur}
	pick := func(ps []*av.Packet) (kept []*av.Packet) {
		for _, p := range ps {
			if p.Track == n {
				q := p.Fork()
				q.Track = 0
				kept = append(kept, q)
			}
		}
		return kept
	}
	out.headers, out.media = pick(c.headers), pick(c.media)
	return out
}

// mtStartPublish publishes clip to key (mtPublish) until the test ends,
// and returns once the publish started.
func mtStartPublish(t *testing.T, srv *server, key string, clip mtClip) {
	t.Helper()
	app, name, _ := strings.Cut(key, "/")
	ctx, cancel := context.WithCancel(t.Context())
	pubErr := make(chan error, 1)
	live := make(chan struct{})
	go func() { pubErr <- mtPublish(ctx, "rtmp://"+srv.RTMPAddr+"/"+app, name, clip, live) }()
	t.Cleanup(func() {
		cancel()
		// The loop returns nil when cancelled: any error is real.
		if err := await(t, "publisher of "+key, pubErr, 30*time.Second); err != nil {
			t.Errorf("publisher of %s: %v", key, err)
		}
	})
	select {
	case <-live:
	case err := <-pubErr:
		t.Fatalf("publisher of %s: %v", key, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("publisher of %s not live within 30 s", key)
	}
}

// mtPublish publishes clip as one multitrack publish of name, the way OBS
// sends its ladder: track 0 as plain messages, the other tracks as
// multitrack messages of one track each (rtmp.ClientConn.WritePacket), at
// real time, looping with the timestamps continuing, until ctx ends. live
// is closed once the publish started. It returns nil when ctx ended it.
func mtPublish(ctx context.Context, url, name string, clip mtClip, live chan<- struct{}) error {
	c, err := rtmp.Dial(ctx, url, rtmp.ClientConfig{})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Publish(ctx, name); err != nil {
		return err
	}
	close(live)
	failed := func(err error) error {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	for _, h := range clip.headers {
		if err := c.WritePacket(h); err != nil {
			return failed(err)
		}
	}
	start := time.Now()
	pace := time.NewTimer(0)
	defer pace.Stop()
	for n := int64(0); ; n++ {
		for _, p := range clip.media {
			q := p.Fork() // the client keeps what it is given until sent
			q.DTS += n * clip.dur
			if d := time.Until(start.Add(time.Duration(q.DTS) * time.Millisecond)); d > 0 {
				pace.Reset(d)
				select {
				case <-ctx.Done():
					return nil
				case <-pace.C:
				}
			}
			if err := c.WritePacket(q); err != nil {
				return failed(err)
			}
		}
	}
}

// mtSize is the video size ffprobe found, or why it found none.
type mtSize struct {
	width, height int
	err           error
}

// mtProbeSizeAsync runs ffprobe on a live FLV URL for the size of its
// video: ffprobe stops once it knows the streams.
func mtProbeSizeAsync(url string) <-chan mtSize {
	ch := make(chan mtSize, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-select_streams", "v:0",
			"-show_entries", "stream=width,height", "-of", "csv=p=0", url).Output()
		if err != nil {
			ch <- mtSize{err: fmt.Errorf("ffprobe %s: %w", url, err)}
			return
		}
		var s mtSize
		if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "%d,%d", &s.width, &s.height); err != nil {
			s.err = fmt.Errorf("ffprobe %s: %q: %w", url, out, err)
		}
		ch <- s
	}()
	return ch
}

// hlsVariant is one EXT-X-STREAM-INF of a multivariant playlist.
type hlsVariant struct {
	uri, resolution, codecs, frameRate string
	bandwidth, avgBandwidth            int
}

var (
	reStreamInf = regexp.MustCompile(`#EXT-X-STREAM-INF:([^\n]*)\n([^\n#][^\n]*)`)
	reAttr      = regexp.MustCompile(`([A-Z-]+)=("[^"]*"|[^,]*)`)
)

// waitVariants polls a multivariant playlist until it lists n variants,
// and returns them in its order.
func waitVariants(t *testing.T, u string, n int) []hlsVariant {
	t.Helper()
	deadline := time.Now().Add(hlsWait)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for time.Now().Before(deadline) {
		resp, err := http.Get(u)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			if m := reStreamInf.FindAllStringSubmatch(last, -1); resp.StatusCode == http.StatusOK && len(m) >= n {
				vs := make([]hlsVariant, 0, len(m))
				for _, sm := range m {
					v := hlsVariant{uri: sm[2]}
					for _, a := range reAttr.FindAllStringSubmatch(sm[1], -1) {
						switch a[1] {
						case "RESOLUTION":
							v.resolution = a[2]
						case "CODECS":
							v.codecs = strings.Trim(a[2], `"`)
						case "BANDWIDTH":
							v.bandwidth, _ = strconv.Atoi(a[2])
						case "AVERAGE-BANDWIDTH":
							v.avgBandwidth, _ = strconv.Atoi(a[2])
						case "FRAME-RATE":
							v.frameRate = a[2]
						}
					}
					vs = append(vs, v)
				}
				t.Logf("multivariant playlist:\n%s", last)
				require.Len(t, vs, n, last)
				return vs
			}
		}
		<-tick.C
	}
	t.Fatalf("%s did not list %d variants within %s; last:\n%s", u, n, hlsWait, last)
	return nil
}

// checkAlignment requires every variant's segments to start on a video
// keyframe at the same media times: the segments each media playlist lists
// (once it lists 3+skip) are fetched and probed, leaving out the first skip
// of each (a transcoder's renditions start where their ladder did), and
// where the variants' lists overlap (they may be a segment apart at either
// end) every variant must start its segments at the same PTS, at least
// twice.
func checkAlignment(t *testing.T, master string, variants []hlsVariant, skip int) {
	t.Helper()
	const maxSegments = 4
	dir := t.TempDir()
	paths := make([][]string, len(variants))
	// Fetch everything first: the window moves on at real time while
	// ffprobe runs.
	for i, v := range variants {
		media := resolve(t, master, v.uri)
		pl := waitPlaylist(t, media, 3+skip)
		segs := reExtinf.FindAllStringSubmatch(pl, -1)[skip:]
		for j, s := range segs[:min(len(segs), maxSegments)] {
			body, ct := fetch(t, resolve(t, media, s[2]))
			require.Equal(t, "video/mp2t", ct)
			path := filepath.Join(dir, fmt.Sprintf("v%d_%d.ts", i, j))
			require.NoError(t, os.WriteFile(path, body, 0o644))
			paths[i] = append(paths[i], path)
		}
	}
	starts := make([][]int64, len(variants))
	for i, ps := range paths {
		for _, path := range ps {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			p, err := runProbe(ctx, path)
			cancel()
			require.NoError(t, err)
			v := p.packets("video")
			require.NotEmpty(t, v, path)
			require.True(t, strings.HasPrefix(v[0].Flags, "K"), "%s (%s) starts with a keyframe", filepath.Base(path), variants[i].uri)
			require.NotNil(t, v[0].PTS, path)
			starts[i] = append(starts[i], *v[0].PTS)
		}
	}
	lo, hi := starts[0][0], starts[0][len(starts[0])-1]
	for _, s := range starts {
		lo, hi = max(lo, s[0]), min(hi, s[len(s)-1])
	}
	within := func(s []int64) []int64 {
		return slices.DeleteFunc(slices.Clone(s), func(pts int64) bool { return pts < lo || pts > hi })
	}
	common := within(starts[0])
	t.Logf("segment start PTS per variant: %v; compared from %d to %d", starts, lo, hi)
	require.GreaterOrEqual(t, len(common), 2, "the variants' segment lists share fewer than two segments: %v", starts)
	for i, s := range starts {
		require.Equal(t, common, within(s), "variant %s starts its segments elsewhere than %s", variants[i].uri, variants[0].uri)
	}
}

// mtThrottle sets the tab's network conditions (DevTools network
// emulation): bps bits per second down and latency; bps < 0 lifts them.
func mtThrottle(t *testing.T, tb *tab, bps int, latency time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, pageTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("%s: enable the network domain: %v", tb.name, err)
	}
	down := float64(bps) / 8
	if bps < 0 {
		down = -1
	}
	cond := []*network.Conditions{{Latency: float64(latency.Milliseconds()), DownloadThroughput: down, UploadThroughput: -1}}
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule,
		network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: cond}); err != nil {
		t.Fatalf("%s: emulate network conditions: %v", tb.name, err)
	}
}

// mtChoose picks value in the page's choice of rendition, as a person does
// (the select's change event).
func mtChoose(t *testing.T, tb *tab, value string) {
	t.Helper()
	ok := eval[bool](t, tb, "choose "+value, pageTimeout, fmt.Sprintf(`(() => {
  const sel = document.getElementById('rendition');
  if (sel.closest('[hidden]') || ![...sel.options].some((o) => o.value === %[1]q)) return false;
  sel.value = %[1]q;
  sel.dispatchEvent(new Event('change', { bubbles: true }));
  return true;
})()`, value))
	require.True(t, ok, "the page offers no %q to choose", value)
}

// mtChoiceLabels returns the labels of the choice of rendition, up to the
// first " · " (the bitrate, which the server measures).
func mtChoiceLabels(t *testing.T, tb *tab) []string {
	t.Helper()
	return eval[[]string](t, tb, "the choice's labels", pageTimeout,
		`[...document.getElementById('rendition').options].map((o) => o.textContent.split(' · ')[0])`)
}

func mtText(t *testing.T, tb *tab, id string) string {
	t.Helper()
	return eval[string](t, tb, "#"+id, pageTimeout, fmt.Sprintf(`document.getElementById(%q).textContent`, id))
}
