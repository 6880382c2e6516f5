package hls

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// A source and two renditions with different picture sizes and bit rates
// (same frame rate and GOP: keyframes at the same timestamps, as a
// transcoder forcing them at the source's keyframes sends them).
const (
	srcKey  = testKey // live/cam
	r540Key = "live/cam_540p"
	r360Key = "live/cam_360p"
)

// variantPub is one publisher of a source or rendition.
type variantPub struct {
	key string
	pub *hub.Publisher
	gen *mediatest.Generator
}

// ladder is the source and rendition configurations, highest bit rate
// first.
var ladder = []struct {
	key, name string
	mc        mediatest.Config
}{
	{srcKey, "", mediatest.Config{Width: 1280, Height: 720, KeySize: 24000, FrameSz: 4800}},
	{r540Key, "540p", mediatest.Config{Width: 960, Height: 540, KeySize: 9000, FrameSz: 1800}},
	{r360Key, "360p", mediatest.Config{Width: 640, Height: 360, KeySize: 3000, FrameSz: 600}},
}

// publishVariant publishes key (a rendition of source when source is not
// empty) and sends its headers (vhdr replaces the generator's video
// header when not nil).
func (e *env) publishVariant(t *testing.T, key, source, name string, mc mediatest.Config, vhdr *av.Packet) *variantPub {
	t.Helper()
	pub, err := e.hub.Publish(key, hub.PublisherInfo{Protocol: "test", Source: source, Rendition: name})
	require.NoError(t, err)
	vp := &variantPub{key: key, pub: pub, gen: mediatest.New(mc)}
	for _, p := range vp.gen.Headers() {
		if p.Kind == av.KindVideo && vhdr != nil {
			p = vhdr
		}
		require.NoError(t, pub.WritePacket(p))
	}
	return vp
}

// publishLadder publishes the source and both renditions and, unless on
// demand, waits until their three muxers have subscribed, so that all of
// them see the same first keyframe.
func (e *env) publishLadder(t *testing.T, muxers bool) []*variantPub {
	t.Helper()
	var vps []*variantPub
	for _, l := range ladder {
		src := ""
		if l.name != "" {
			src = srcKey
		}
		vps = append(vps, e.publishVariant(t, l.key, src, l.name, l.mc, nil))
	}
	if muxers {
		e.waitJoins(t, srcKey, r540Key, r360Key)
	}
	return vps
}

// waitJoins waits until an HLS muxer subscribed to each key.
func (e *env) waitJoins(t *testing.T, keys ...string) {
	t.Helper()
	want := make(map[string]bool)
	for _, k := range keys {
		want[k] = true
	}
	timeout := time.After(waitFor)
	for len(want) > 0 {
		select {
		case ev := <-e.events:
			if ev.Type == hub.EventReaderJoin && ev.Reader.Protocol == "hls" {
				delete(want, ev.Key)
			}
		case <-timeout:
			t.Fatalf("no hls reader joined %v", want)
		}
	}
}

// sendLockstep sends the same packet sequence to every publisher, one
// packet each in turn, until wire DTS until.
func sendLockstep(t *testing.T, vps []*variantPub, until time.Duration) {
	t.Helper()
	for {
		var wire int64
		for _, vp := range vps {
			p := vp.gen.Next()
			wire = p.DTS
			require.NoError(t, vp.pub.WritePacket(p))
		}
		if wire >= until.Milliseconds() {
			return
		}
	}
}

// waitMSN waits until key's muxer has published n segments.
func (e *env) waitMSN(t *testing.T, key string, n int) *media {
	t.Helper()
	mx := e.m.get(key)
	require.NotNil(t, mx, key)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	md := mx.media()
	ok := md.wait(ctx, nil, func() bool { return md.nextMSN >= uint64(n) })
	require.True(t, ok, "%s: %d segments", key, n)
	return md
}

// segmentsOf copies md's segment list.
func segmentsOf(md *media) []segment {
	md.mu.Lock()
	defer md.mu.Unlock()
	out := make([]segment, len(md.segments))
	for i, s := range md.segments {
		out[i] = *s
	}
	return out
}

var streamInf = regexp.MustCompile(`(?m)^#EXT-X-STREAM-INF:(.*)\n(.*)$`)

// streamInfs parses the EXT-X-STREAM-INF entries of a multivariant
// playlist: their attributes and URIs, in order.
func streamInfs(t *testing.T, pl string) (attrs []map[string]string, uris []string) {
	t.Helper()
	for _, m := range streamInf.FindAllStringSubmatch(pl, -1) {
		a := make(map[string]string)
		rest := m[1]
		for rest != "" {
			k, v, ok := strings.Cut(rest, "=")
			require.True(t, ok, "attribute list %q", m[1])
			if strings.HasPrefix(v, `"`) {
				end := strings.IndexByte(v[1:], '"')
				require.GreaterOrEqual(t, end, 0)
				a[k], rest = v[1:end+1], strings.TrimPrefix(v[end+2:], ",")
			} else {
				a[k], rest, _ = strings.Cut(v, ",")
			}
		}
		attrs = append(attrs, a)
		uris = append(uris, m[2])
	}
	return attrs, uris
}

// extinfs returns the media sequence number and the EXTINF durations of a
// media playlist: what must match between aligned variants.
func extinfs(t *testing.T, pl string) (string, []string) {
	t.Helper()
	var durs []string
	for l := range strings.SplitSeq(pl, "\n") {
		if d, ok := strings.CutPrefix(l, "#EXTINF:"); ok {
			durs = append(durs, d)
		}
	}
	return regexpFind(t, `#EXT-X-MEDIA-SEQUENCE:([0-9]+)`, pl), durs
}

func TestRenditionsMultivariant(t *testing.T) {
	for _, v := range []Variant{VariantMPEGTS, VariantFMP4, VariantLowLatency} {
		t.Run(v.String(), func(t *testing.T) {
			e := newEnv(t, Config{Variant: v}, hub.Config{})
			vps := e.publishLadder(t, true)
			sendLockstep(t, vps, 7*time.Second)
			// Keyframes every second, 2 s segments: cuts at 2, 4 and 6 s.
			mds := make([]*media, len(vps))
			for i, vp := range vps {
				mds[i] = e.waitMSN(t, vp.key, 3)
			}

			resp, body := e.get(t, "/live/cam.m3u8")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "application/vnd.apple.mpegurl", resp.Header.Get("Content-Type"))
			require.True(t, strings.HasPrefix(body, "#EXTM3U\n#EXT-X-VERSION:"+strconv.Itoa(mds[0].playlistVersion())+"\n"), body)
			require.NotContains(t, body, "#EXTINF", "a multivariant playlist, not a media one")
			if v == VariantMPEGTS {
				require.NotContains(t, body, "#EXT-X-INDEPENDENT-SEGMENTS", "as its media playlists")
			} else {
				require.Contains(t, body, "#EXT-X-INDEPENDENT-SEGMENTS\n", "every variant's segments start with a keyframe")
			}
			attrs, us := streamInfs(t, body)
			require.Equal(t, []string{"cam/media.m3u8", "cam_540p/media.m3u8", "cam_360p/media.m3u8"}, us, "highest bandwidth first")
			sizes := []string{"1280x720", "960x540", "640x360"}
			prev := int(^uint(0) >> 1)
			for i, a := range attrs {
				require.Equal(t, "avc1.42c028,mp4a.40.2", a["CODECS"])
				require.Equal(t, sizes[i], a["RESOLUTION"])
				require.Equal(t, "30.000", a["FRAME-RATE"], "measured: the SPS has no timing")
				bw, err := strconv.Atoi(a["BANDWIDTH"])
				require.NoError(t, err)
				avg, err := strconv.Atoi(a["AVERAGE-BANDWIDTH"])
				require.NoError(t, err)
				require.Greater(t, bw, 1000)
				require.LessOrEqual(t, avg, bw)
				require.Less(t, bw, prev)
				prev = bw
				mds[i].mu.Lock()
				peak, mavg := mds[i].bandwidthLocked()
				mds[i].mu.Unlock()
				require.Equal(t, peak, bw, "measured from its segments")
				require.Equal(t, mavg, avg)
			}

			// Every URI resolves (relative to /live/) to a valid media
			// playlist whose segments play; the cut points and sequence
			// numbers coincide.
			var seq0 string
			var durs0 []string
			for i, u := range us {
				resp, pl := e.get(t, "/live/"+u)
				require.Equal(t, http.StatusOK, resp.StatusCode, u)
				require.True(t, strings.HasPrefix(pl, "#EXTM3U\n"), pl)
				require.Contains(t, pl, "#EXT-X-TARGETDURATION:2\n")
				seq, durs := extinfs(t, pl)
				require.Len(t, durs, 3, pl)
				if i == 0 {
					seq0, durs0 = seq, durs
				} else {
					require.Equal(t, seq0, seq, "same media sequence numbers")
					require.Equal(t, durs0, durs, "same cut points")
				}
				segs := uris(pl)
				require.NotEmpty(t, segs)
				resp, data := e.get(t, "/live/"+strings.TrimSuffix(u, "media.m3u8")+segs[0])
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.NotEmpty(t, data)
			}
			ref := segmentsOf(mds[0])
			for i := range mds {
				segs := segmentsOf(mds[i])
				require.Len(t, segs, len(ref))
				for j, s := range segs {
					require.Equal(t, ref[j].msn, s.msn)
					require.Equal(t, ref[j].dur, s.dur)
					require.Equal(t, ref[j].maxDTS, s.maxDTS, "%s segment %d ends at the same sample", vps[i].key, j)
					require.Len(t, s.parts, len(ref[j].parts))
				}
			}

			// A rendition's own playlist is still a single-variant stream.
			resp, own := e.get(t, "/live/cam_540p.m3u8")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			if v == VariantMPEGTS {
				require.Contains(t, own, "#EXTINF:")
				require.True(t, strings.HasPrefix(uris(own)[0], "cam_540p/"), own)
			} else {
				_, ownURIs := streamInfs(t, own)
				require.Equal(t, []string{"cam_540p/media.m3u8"}, ownURIs)
			}
		})
	}
}

// TestRenditionEnds: a rendition that ends leaves the multivariant
// playlist; without renditions the MPEG-TS entry is the media playlist
// again, as it is for a stream that never had any.
func TestRenditionEnds(t *testing.T) {
	takeover := func(string) hub.PublishPolicy { return hub.PolicyTakeover }
	e := newEnv(t, Config{}, hub.Config{Policy: takeover})
	vps := e.publishLadder(t, true)
	sendLockstep(t, vps, 5*time.Second)
	for _, vp := range vps {
		e.waitMSN(t, vp.key, 2)
	}
	_, body := e.get(t, "/live/cam.m3u8")
	_, us := streamInfs(t, body)
	require.Len(t, us, 3)

	// Close emits the stream end (zero grace) before it returns.
	vps[1].pub.Close()
	_, body = e.get(t, "/live/cam.m3u8")
	_, us = streamInfs(t, body)
	require.Equal(t, []string{"cam/media.m3u8", "cam_360p/media.m3u8"}, us)

	old := e.m.get(r360Key)
	require.NotNil(t, old)
	vps[2].pub.End()
	resp, body := e.get(t, "/live/cam.m3u8")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, body, "#EXT-X-STREAM-INF")
	require.Contains(t, body, "#EXTINF:")
	require.True(t, strings.HasPrefix(uris(body)[0], "cam/"), body)

	// The same stream published again as a rendition is listed again
	// (once its old muxer has drained the ended stream: a publish while it
	// still runs would find it).
	select {
	case <-old.stopped:
	case <-time.After(waitFor):
		t.Fatal("muxer of the ended rendition still runs")
	}
	vp := e.publishVariant(t, r360Key, srcKey, "360p", ladder[2].mc, nil)
	e.waitJoins(t, r360Key)
	sendLockstep(t, []*variantPub{vp}, 3*time.Second)
	e.waitMSN(t, r360Key, 1)
	_, body = e.get(t, "/live/cam.m3u8")
	_, us = streamInfs(t, body)
	require.ElementsMatch(t, []string{"cam/media.m3u8", "cam_360p/media.m3u8"}, us)

	// A takeover by a publisher that is no rendition unlists it.
	_, err := e.hub.Publish(r360Key, hub.PublisherInfo{Protocol: "test"})
	require.NoError(t, err)
	resp, body = e.get(t, "/live/cam.m3u8")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, body, "#EXT-X-STREAM-INF")
}

// TestRenditionsMPEGTSMedia: with renditions, /app/stream/media.m3u8
// serves the MPEG-TS media playlist the multivariant playlist points at
// (URIs relative to it, so no "cam/" prefix).
func TestRenditionsMPEGTSMedia(t *testing.T) {
	e := newEnv(t, Config{}, hub.Config{})
	vps := e.publishLadder(t, true)
	sendLockstep(t, vps, 5*time.Second)
	e.waitMSN(t, srcKey, 2)
	resp, body := e.get(t, "/live/cam/media.m3u8")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "#EXT-X-VERSION:3\n")
	u := uris(body)
	require.NotEmpty(t, u)
	require.Regexp(t, `^[0-9a-z]+-0\.ts$`, u[0])
	resp, seg := e.get(t, "/live/cam/"+u[0])
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "video/mp2t", resp.Header.Get("Content-Type"))
	require.Equal(t, byte(0x47), seg[0])
}

var renditionReport = regexp.MustCompile(`(?m)^#EXT-X-RENDITION-REPORT:URI="([^"]+)",LAST-MSN=([0-9]+),LAST-PART=([0-9]+)$`)

// lastPart returns the media sequence number and index of the last part a
// low_latency media playlist lists.
func lastPart(t *testing.T, pl string) (string, string) {
	t.Helper()
	all := regexp.MustCompile(`#EXT-X-PART:[^\n]*URI="[0-9a-z]+-([0-9]+)\.([0-9]+)\.m4s[^"]*"`).FindAllStringSubmatch(pl, -1)
	require.NotEmpty(t, all, pl)
	last := all[len(all)-1]
	return last[1], last[2]
}

func TestRenditionReports(t *testing.T) {
	var g gate
	e := newEnv(t, Config{Variant: VariantLowLatency, Authorize: g.authorize}, hub.Config{})
	vps := e.publishLadder(t, true)
	sendLockstep(t, vps, 7*time.Second)
	for _, vp := range vps {
		e.waitMSN(t, vp.key, 3)
	}
	// Wait until everything sent is muxed, so that the playlists no longer
	// change: the last packet of each stream is the keyframe at 7 s, which
	// closes the fifth 200 ms part of segment 3 (started at 6 s) and
	// nothing more.
	for _, vp := range vps {
		mx := e.m.get(vp.key)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		md := mx.media()
		require.True(t, md.wait(ctx, nil, func() bool { return md.nextMSN == 3 && len(md.parts) == 5 }))
		cancel()
	}
	g.take()

	// The state of each variant, from its own playlist.
	own := make(map[string][2]string)
	bodies := make(map[string]string)
	for _, vp := range vps {
		name := vp.key[strings.IndexByte(vp.key, '/')+1:]
		resp, pl := e.get(t, "/live/"+name+"/media.m3u8?token=good")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "private, max-age=1", resp.Header.Get("Cache-Control"))
		msn, part := lastPart(t, pl)
		own[name] = [2]string{msn, part}
		bodies[name] = pl
	}
	for _, r := range g.take() {
		require.Equal(t, "media", r.Object)
		require.Contains(t, []string{srcKey, r540Key, r360Key}, r.Key, "each admitted under its own key")
	}
	for name, pl := range bodies {
		reps := renditionReport.FindAllStringSubmatch(pl, -1)
		require.Len(t, reps, 2, "the other two variants of %s:\n%s", name, pl)
		for _, rep := range reps {
			other := strings.TrimSuffix(strings.TrimPrefix(rep[1], "../"), "/media.m3u8?token=good")
			require.NotEqual(t, name, other)
			require.Contains(t, own, other, rep[1])
			require.Equal(t, own[other], [2]string{rep[2], rep[3]}, "%s reports %s as it is", name, other)
		}
		// The reports follow the playlist's last line.
		require.True(t, strings.HasSuffix(pl, "\n"))
		require.Less(t, strings.Index(pl, "#EXT-X-PRELOAD-HINT"), strings.Index(pl, "#EXT-X-RENDITION-REPORT"))
	}

	// A blocking reload carries them too.
	resp, pl := e.get(t, "/live/cam_360p/media.m3u8?token=good&_HLS_msn=3&_HLS_part=0")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, renditionReport.FindAllStringSubmatch(pl, -1), 2, pl)

	// A report URI is the rendition's media playlist: it resolves, and
	// it is admitted under the rendition's key.
	g.take()
	rep := renditionReport.FindStringSubmatch(bodies["cam"])
	base, err := url.Parse(e.srv.URL + "/live/cam/media.m3u8")
	require.NoError(t, err)
	ref, err := url.Parse(rep[1])
	require.NoError(t, err)
	resp, _ = e.get(t, base.ResolveReference(ref).RequestURI())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	reqs := g.take()
	require.Len(t, reqs, 1)
	require.Equal(t, "live/"+strings.TrimSuffix(strings.TrimPrefix(rep[1], "../"), "/media.m3u8?token=good"), reqs[0].Key)
	require.Contains(t, []string{r540Key, r360Key}, reqs[0].Key)

	// The multivariant playlist carries the viewer's token to every variant.
	resp, body := e.get(t, "/live/cam.m3u8?token=good")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "private, max-age=1", resp.Header.Get("Cache-Control"))
	_, us := streamInfs(t, body)
	require.Len(t, us, 3)
	for _, u := range us {
		require.True(t, strings.HasSuffix(u, "/media.m3u8?token=good"), u)
	}
	resp, _ = e.get(t, "/live/cam_360p/media.m3u8")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a rendition is checked like any stream")
}

// TestRenditionsOnDemand: with OnDemand, the multivariant playlist starts
// the renditions' muxers, and a rendition's media playlist demands its
// stream from the hub like any stream's.
func TestRenditionsOnDemand(t *testing.T) {
	e := newEnv(t, Config{Variant: VariantFMP4, OnDemand: true}, hub.Config{})
	vps := e.publishLadder(t, false)
	require.Nil(t, e.m.get(srcKey))
	require.Nil(t, e.m.get(r540Key))

	top := e.async("/live/cam.m3u8")
	e.waitJoins(t, srcKey, r540Key, r360Key)
	sendLockstep(t, vps, 5*time.Second)
	res := wait(t, top)
	require.Equal(t, http.StatusOK, res.resp.StatusCode, res.body)
	_, us := streamInfs(t, res.body)
	require.Len(t, us, 3, res.body)

	// A rendition nobody publishes yet: its media playlist asks the hub,
	// whose demand handler (a transcoder) publishes it.
	const r240Key = "live/cam_240p"
	demanded := make(chan string, 1)
	remove := e.hub.AddDemand(func(key string, _ hub.ReaderInfo) error {
		if key != r240Key {
			return hub.ErrStreamNotFound
		}
		demanded <- key
		return nil
	})
	defer remove()
	media := e.async("/live/cam_240p/media.m3u8")
	select {
	case k := <-demanded:
		require.Equal(t, r240Key, k)
	case <-time.After(waitFor):
		t.Fatal("no demand")
	}
	vp := e.publishVariant(t, r240Key, srcKey, "240p", mediatest.Config{Width: 426, Height: 240}, nil)
	e.waitJoins(t, r240Key)
	sendLockstep(t, []*variantPub{vp}, 5*time.Second)
	res = wait(t, media)
	require.Equal(t, http.StatusOK, res.resp.StatusCode, res.body)
	require.Contains(t, res.body, "#EXTINF:")
	_, body := e.get(t, "/live/cam.m3u8")
	_, us = streamInfs(t, body)
	require.Len(t, us, 4, body)
	require.Contains(t, us, "cam_240p/media.m3u8")
}

// TestRenditionDeclaredFrameRate: FRAME-RATE comes from the SPS timing
// when the SPS has it (declared 59.94 here, whatever the timestamps say).
func TestRenditionDeclaredFrameRate(t *testing.T) {
	e := newEnv(t, Config{Variant: VariantFMP4}, hub.Config{})
	src := e.publishVariant(t, srcKey, "", "", ladder[0].mc, nil)
	r := e.publishVariant(t, r540Key, srcKey, "540p", ladder[1].mc, avcHeader(t, 0, 4, spsWithTiming(1024, 576, 1001, 120000), mediatest.PPS()))
	e.waitJoins(t, srcKey, r540Key)
	sendLockstep(t, []*variantPub{src, r}, 5*time.Second)
	e.waitMSN(t, srcKey, 2)
	e.waitMSN(t, r540Key, 2)
	_, body := e.get(t, "/live/cam.m3u8")
	attrs, us := streamInfs(t, body)
	require.Equal(t, []string{"cam/media.m3u8", "cam_540p/media.m3u8"}, us)
	require.Equal(t, "30.000", attrs[0]["FRAME-RATE"])
	require.Equal(t, "59.940", attrs[1]["FRAME-RATE"])
	require.Equal(t, "1024x576", attrs[1]["RESOLUTION"])
}

// TestRenditionFFprobe: ffprobe reads the multivariant playlist over HTTP
// and lists every variant.
func TestRenditionFFprobe(t *testing.T) {
	ffprobe := requireTool(t, "ffprobe")
	e := newEnv(t, Config{Variant: VariantMPEGTS}, hub.Config{})
	vps := e.publishLadder(t, true)
	sendLockstep(t, vps, 7*time.Second)
	for _, vp := range vps {
		e.waitMSN(t, vp.key, 3)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffprobe, "-v", "quiet", "-show_programs", "-of", "json", e.srv.URL+"/live/cam.m3u8")
	out, err := cmd.Output()
	require.NoError(t, err, "%s", out)
	var probe struct {
		Programs []struct {
			Tags    map[string]string `json:"tags"`
			Streams []struct {
				CodecType string `json:"codec_type"`
				CodecName string `json:"codec_name"`
				Width     int    `json:"width"`
				Height    int    `json:"height"`
			} `json:"streams"`
		} `json:"programs"`
	}
	require.NoError(t, json.Unmarshal(out, &probe), "%s", out)
	// One program per variant stream, tagged with its BANDWIDTH.
	require.Len(t, probe.Programs, 3, "%s", out)
	_, body := e.get(t, "/live/cam.m3u8")
	attrs, _ := streamInfs(t, body)
	sizes := make(map[string]bool)
	for i, p := range probe.Programs {
		require.Equal(t, attrs[i]["BANDWIDTH"], p.Tags["variant_bitrate"], "%s", out)
		for _, s := range p.Streams {
			if s.CodecType == "video" {
				require.Equal(t, "h264", s.CodecName)
				sizes[strconv.Itoa(s.Width)+"x"+strconv.Itoa(s.Height)] = true
			}
		}
	}
	require.Equal(t, map[string]bool{"1280x720": true, "960x540": true, "640x360": true}, sizes, "%s", out)
}

// requireTool finds an ffmpeg tool: a test that needs it fails without it,
// unless -short.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if testing.Short() {
			t.Skipf("%s not installed (-short)", name)
		}
		t.Fatalf("%s not installed", name)
	}
	return p
}

// spsWithTiming is a Baseline SPS (ITU-T H.264 §7.3.2.1.1) of w×h (whole
// macroblocks) whose VUI declares time_scale / (2·num_units_in_tick)
// frames per second (Annex E.1.1).
func spsWithTiming(w, h int, units, scale uint32) []byte {
	var bw testBits
	bw.put(66, 8)   // profile_idc
	bw.put(0xC0, 8) // constraint_set0/1
	bw.put(40, 8)   // level_idc
	bw.ue(0)        // seq_parameter_set_id
	bw.ue(0)        // log2_max_frame_num_minus4
	bw.ue(2)        // pic_order_cnt_type
	bw.ue(1)        // max_num_ref_frames
	bw.put(0, 1)    // gaps_in_frame_num_value_allowed_flag
	bw.ue(uint32(w/16 - 1))
	bw.ue(uint32(h/16 - 1))
	if h%16 != 0 {
		panic("whole macroblocks only")
	}
	bw.put(1, 1)              // frame_mbs_only_flag
	bw.put(1, 1)              // direct_8x8_inference_flag
	bw.put(0, 1)              // frame_cropping_flag
	bw.put(1, 1)              // vui_parameters_present_flag
	bw.put(0, 4)              // aspect ratio, overscan, video signal, chroma loc: absent
	bw.put(1, 1)              // timing_info_present_flag
	bw.put(uint64(units), 32) // num_units_in_tick
	bw.put(uint64(scale), 32) // time_scale
	bw.put(1, 1)              // fixed_frame_rate_flag
	bw.put(0, 5)              // no HRD, no pic_struct, no bitstream restriction
	bw.put(1, 1)              // rbsp_stop_one_bit
	rbsp := bw.bytes()        // byte-aligned with zero bits
	out := []byte{3<<5 | 7}   // nal_ref_idc 3, SPS
	zeros := 0
	for _, c := range rbsp {
		if zeros >= 2 && c <= 3 {
			out = append(out, 3) // emulation_prevention_three_byte
			zeros = 0
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// testBits is an MSB-first bit writer with Exp-Golomb codes.
type testBits struct {
	b []byte
	n int // bits written
}

func (w *testBits) put(v uint64, bits int) {
	for i := bits - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.b[len(w.b)-1] |= 0x80 >> uint(w.n%8)
		}
		w.n++
	}
}

func (w *testBits) ue(v uint32) {
	x := uint64(v) + 1
	n := 0
	for t := x; t > 1; t >>= 1 {
		n++
	}
	w.put(0, n)
	w.put(x, n+1)
}

func (w *testBits) bytes() []byte { return w.b }

// A segment far shorter than the target (a rendition's first, cut where
// its ladder started) does not set the peak BANDWIDTH while a full one is
// there; alone, it is all there is.
func TestBandwidthShortSegment(t *testing.T) {
	cfg := (&Config{SegmentDuration: 2 * time.Second}).withDefaults()
	m := newMedia("live/cam_360p", VariantMPEGTS, &cfg, time.Now())
	m.segments = []*segment{{dur: 40 * time.Millisecond, size: 100_000}}
	peak, _ := m.bandwidthLocked()
	require.Equal(t, 20_000_000, peak, "alone, the short segment is the peak")
	m.segments = append(m.segments, &segment{dur: 2 * time.Second, size: 250_000})
	peak, avg := m.bandwidthLocked()
	require.Equal(t, 1_000_000, peak)
	require.Equal(t, 350_000*8*1000/2040, avg)
}

// A rendition's first segment takes its window's number on the grid; once
// a segment exists, numbering only goes on.
func TestAlignFirstMSN(t *testing.T) {
	cfg := (&Config{SegmentDuration: 2 * time.Second}).withDefaults()
	m := newMedia("live/cam_360p", VariantMPEGTS, &cfg, time.Now())
	m.alignFirstMSN(6)
	require.Equal(t, uint64(6), m.nextMSN)
	m.addSegment(&segment{name: "s6", dur: 2 * time.Second}, []byte{0}, time.Now())
	m.alignFirstMSN(9)
	require.Equal(t, uint64(7), m.nextMSN, "never moved once segments exist")
}
