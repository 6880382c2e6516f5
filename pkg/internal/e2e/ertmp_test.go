//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// TestERTMPPassthrough publishes real Enhanced RTMP tags with our own RTMP
// client (Debian's ffmpeg 5.1 cannot publish E-RTMP) to the ripple binary:
// HEVC+Opus (libx265/libopus frames, E-RTMP v2 hvc1/Opus), legacy HEVC
// codec id 12 and AV1 (SVT-AV1 and libaom, av01). An RTMP player that joins before the
// first frame must receive every tag body byte for byte; players that join
// after the second keyframe (RTMP, HTTP-FLV, WS-FLV) must start with the
// sequence starts and then a keyframe and receive every later body byte for
// byte. Legacy codec 12 comes out as E-RTMP hvc1, by design (docs/interop.md §6); the
// FLV outputs drop E-RTMP video Metadata (mpegts.js rejects it).
func TestERTMPPassthrough(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tags   func(t *testing.T) []pubTag
		legacy bool // the input is legacy codec 12: expect the hvc1 rewrite
	}{
		{name: "hevc_opus_ertmp", tags: flvFileTags("hevc_opus_ertmp.flv", 4)},
		{name: "hevc_legacy12", tags: flvFileTags("hevc_legacy12.flv", 4), legacy: true},
		{name: "av1_svt", tags: func(t *testing.T) []pubTag { return av1Stream(t, 3, svtAV1...) }},
		{name: "av1_aom", tags: func(t *testing.T) []pubTag { return av1Stream(t, 3, aomAV1...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tags := tc.tags(t)
			want := expectedMedia(t, tags)
			if tc.legacy {
				for _, w := range want {
					if w.kind == av.KindVideo {
						require.True(t, w.data[0]&0x80 != 0 && string(w.data[1:5]) == "hvc1",
							"legacy codec 12 should be rewritten to E-RTMP hvc1, got % x", w.data[:min(5, len(w.data))])
					}
				}
			}
			// The late joiners come in after the second keyframe and a few
			// more tags, so the GOP cache must skip the first GOP.
			cut := -1
			for i, keys := 0, 0; i < len(tags); i++ {
				if isKeyTag(tags[i]) {
					if keys++; keys == 2 {
						cut = i + 3
						break
					}
				}
			}
			require.Positive(t, cut, "stream has fewer than two keyframes")

			srv := startServer(t, envGrace+"=0s")
			const key = "live/ertmp"
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			pub, err := rtmp.Dial(ctx, "rtmp://"+srv.RTMPAddr+"/live", rtmp.ClientConfig{})
			require.NoError(t, err)
			defer pub.Close()
			require.NoError(t, pub.Publish(ctx, "ertmp"))

			early := startTagPlayer(ctx, "rtmp early", func(ctx context.Context, got *tagLog) error { return playRTMPTags(ctx, srv.rtmpURL(key), got) })
			// The early player is in before the first tag: its Play.Start.
			require.NoError(t, early.waitSubscribed(30*time.Second), "early player")
			writeTags(t, pub, tags[:cut])
			// Once the early player has the last tag of part one, the
			// server has ingested it.
			require.NoError(t, early.waitMedia(30*time.Second, len(fromFirstKey(expectedMedia(t, tags[:cut])))), "early player: part one")

			late := []*tagPlayer{
				startTagPlayer(ctx, "rtmp late", func(ctx context.Context, got *tagLog) error { return playRTMPTags(ctx, srv.rtmpURL(key), got) }),
				startTagPlayer(ctx, "http-flv late", func(ctx context.Context, got *tagLog) error { return playHTTPFLVTags(ctx, srv.flvURL(key), got) }),
				startTagPlayer(ctx, "ws-flv late", func(ctx context.Context, got *tagLog) error { return playWSFLVTags(ctx, srv.wsURL(key), got) }),
			}
			// Each late player has its GOP-cache replay before the rest is
			// published (and before the publisher leaves).
			for _, p := range late {
				require.NoError(t, p.waitMedia(30*time.Second, 1), p.name)
			}
			writeTags(t, pub, tags[cut:])
			require.NoError(t, pub.Close())

			for _, p := range append([]*tagPlayer{early}, late...) {
				require.NoError(t, p.wait(30*time.Second), p.name)
			}
			t.Run("rtmp_early", func(t *testing.T) {
				checkExact(t, early.got.media(), fromFirstKey(want))
			})
			for _, p := range late {
				flvOut := !strings.HasPrefix(p.name, "rtmp")
				t.Run(strings.ReplaceAll(p.name, " ", "_"), func(t *testing.T) {
					w := want
					if flvOut {
						w = withoutVideoMetadata(want)
					}
					checkLateJoin(t, p.got.media(), w)
				})
			}
		})
	}
}

// gotTag is one received audio or video tag.
type gotTag struct {
	kind   av.Kind
	key    bool
	header bool
	meta   bool // E-RTMP video Metadata (PacketType 4)
	data   []byte
}

func (g gotTag) String() string {
	return fmt.Sprintf("%v key=%v header=%v %d bytes % x", g.kind, g.key, g.header, len(g.data), g.data[:min(8, len(g.data))])
}

func gotFromPacket(p *av.Packet) gotTag {
	return gotTag{kind: p.Kind, key: p.Keyframe, header: p.Header, meta: flv.IsVideoMetadata(p), data: p.Data}
}

// flvFileTags reads pkg/flv/testdata/name and repeats its media loops times
// (sequence headers and script data only once), timestamps continuing.
func flvFileTags(name string, loops int) func(t *testing.T) []pubTag {
	return func(t *testing.T) []pubTag {
		t.Helper()
		f, err := os.Open(filepath.Join(repoRoot, "pkg", "flv", "testdata", name))
		require.NoError(t, err)
		defer f.Close()
		r := flv.NewReader(f)
		_, err = r.ReadHeader()
		require.NoError(t, err)
		var once, media []pubTag
		var end uint32
		for {
			tag, err := r.ReadTag()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			p, err := flv.PacketFromTag(tag.Type, tag.Timestamp, tag.Body)
			require.NoError(t, err)
			pt := pubTag{typ: tag.Type, ts: tag.Timestamp, body: tag.Body}
			if p == nil || p.Kind == av.KindData || p.Header {
				once = append(once, pt)
				continue
			}
			media = append(media, pt)
			end = max(end, tag.Timestamp+40)
		}
		out := once
		for i := range loops {
			for _, m := range media {
				out = append(out, pubTag{typ: m.typ, ts: m.ts + uint32(i)*end, body: m.body})
			}
		}
		return out
	}
}

// expectedMedia is what players should receive for the published tags: the
// audio and video bodies as the server classifies them (legacy codec 12 is
// rewritten to hvc1 by flv.PacketFromTag, exactly as on ingest).
func expectedMedia(t *testing.T, tags []pubTag) []gotTag {
	t.Helper()
	var out []gotTag
	for _, tag := range tags {
		p, err := flv.PacketFromTag(tag.typ, tag.ts, bytes.Clone(tag.body))
		require.NoError(t, err)
		if p != nil && p.IsMedia() {
			out = append(out, gotFromPacket(p))
		}
	}
	return out
}

// fromFirstKey drops the media before the first video keyframe, headers
// kept: a reader that joined before any frame waits for a keyframe (hub
// Reader.needKey). This includes an E-RTMP video Metadata tag sent between
// SequenceStart and the first keyframe (OBS's order for HDR colorInfo): it
// is neither a header nor in a GOP, so no reader ever gets it.
func fromFirstKey(tags []gotTag) []gotTag {
	var out []gotTag
	keyed := false
	for _, g := range tags {
		keyed = keyed || (g.kind == av.KindVideo && g.key)
		if keyed || g.header {
			out = append(out, g)
		}
	}
	return out
}

func withoutVideoMetadata(tags []gotTag) []gotTag {
	var out []gotTag
	for _, g := range tags {
		if !g.meta {
			out = append(out, g)
		}
	}
	return out
}

func isKeyTag(tag pubTag) bool {
	p, err := flv.PacketFromTag(tag.typ, tag.ts, tag.body)
	return err == nil && p != nil && p.Keyframe
}

// writeTags publishes tags as they are: the client sends p.Data on the
// wire, so a legacy body reaches the server unconverted.
func writeTags(t *testing.T, c *rtmp.ClientConn, tags []pubTag) {
	t.Helper()
	for i, tag := range tags {
		kind := map[uint8]av.Kind{flv.TagAudio: av.KindAudio, flv.TagVideo: av.KindVideo, flv.TagScript: av.KindData}[tag.typ]
		require.NotZero(t, kind, "tag %d type %d", i, tag.typ)
		require.NoError(t, c.WritePacket(&av.Packet{Kind: kind, DTS: int64(tag.ts), Data: tag.body}), "tag %d", i)
	}
}

// checkExact requires got to be want, body for body.
func checkExact(t *testing.T, got, want []gotTag) {
	t.Helper()
	require.Equal(t, len(want), len(got), "tags received")
	for i := range want {
		require.Equal(t, want[i].kind, got[i].kind, "tag %d kind", i)
		require.True(t, bytes.Equal(want[i].data, got[i].data), "tag %d body differs:\n got %v\nwant %v", i, got[i], want[i])
	}
}

// checkLateJoin requires got to be the published sequence starts, then a
// keyframe past the first GOP, then every later published tag, body for body.
func checkLateJoin(t *testing.T, got, want []gotTag) {
	t.Helper()
	var headers, rest []gotTag
	for _, w := range want {
		if w.header {
			headers = append(headers, w)
		} else {
			rest = append(rest, w)
		}
	}
	require.Greater(t, len(got), len(headers), "received only %d tags", len(got))
	// Sequence starts first, in any order between the tracks.
	gotHdr := got[:len(headers)]
	for _, h := range headers {
		found := false
		for _, g := range gotHdr {
			found = found || (g.header && g.kind == h.kind && bytes.Equal(g.data, h.data))
		}
		require.True(t, found, "late joiner's first %d tags %v lack the sequence start %v", len(headers), gotHdr, h)
	}
	tailGot := got[len(headers):]
	require.LessOrEqual(t, len(tailGot), len(rest), "received more tags than published")
	start := len(rest) - len(tailGot)
	first := tailGot[0]
	require.True(t, first.kind == av.KindVideo && first.key, "first tag after the sequence starts is not a keyframe: %v", first)
	require.Positive(t, start, "late joiner got the first GOP: the GOP cache did not move on")
	t.Logf("late joiner: %d sequence starts, then %d of %d published tags from tag %d (a keyframe)",
		len(headers), len(tailGot), len(rest), start)
	for i, g := range tailGot {
		w := rest[start+i]
		require.True(t, g.kind == w.kind && bytes.Equal(g.data, w.data), "tag %d after the join differs:\n got %v\nwant %v", i, g, w)
	}
	assert.True(t, rest[start].key, "published tag %d (the join point) is not a keyframe", start)
}

// tagLog collects received tags and wakes waiters on every change.
type tagLog struct {
	mu         sync.Mutex
	tags       []gotTag
	subscribed bool
	notify     chan struct{}
}

func (l *tagLog) update(f func()) {
	l.mu.Lock()
	f()
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
}

func (l *tagLog) add(g gotTag) { l.update(func() { l.tags = append(l.tags, g) }) }

func (l *tagLog) media() []gotTag {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]gotTag(nil), l.tags...)
}

// tagPlayer runs one player in the background.
type tagPlayer struct {
	name string
	got  *tagLog
	done chan struct{}
	err  error
}

func startTagPlayer(ctx context.Context, name string, run func(context.Context, *tagLog) error) *tagPlayer {
	p := &tagPlayer{name: name, got: &tagLog{notify: make(chan struct{})}, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = run(ctx, p.got)
	}()
	return p
}

// waitUntil waits for cond (under the log's lock), the player's end, or timeout.
func (p *tagPlayer) waitUntil(timeout time.Duration, what string, cond func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.got.mu.Lock()
		ok, ch := cond(), p.got.notify
		p.got.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-p.done:
			if cond := func() bool { p.got.mu.Lock(); defer p.got.mu.Unlock(); return cond() }; cond() {
				return nil
			}
			// A clean end leaves p.err nil, which %w would print as %!w(<nil>).
			return fmt.Errorf("%s: ended (%v) before %s (has %d: %v)", p.name, p.err, what, len(p.got.media()), p.got.media()) //nolint:errorlint // may be nil
		case <-deadline.C:
			return fmt.Errorf("%s: not %s within %s (has %d)", p.name, what, timeout, len(p.got.media()))
		}
	}
}

func (p *tagPlayer) waitSubscribed(timeout time.Duration) error {
	return p.waitUntil(timeout, "playing", func() bool { return p.got.subscribed })
}

func (p *tagPlayer) waitMedia(timeout time.Duration, n int) error {
	return p.waitUntil(timeout, fmt.Sprintf("holding %d tags", n), func() bool { return len(p.got.tags) >= n })
}

func (p *tagPlayer) wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%s still playing after %s", p.name, timeout)
	}
}

// playRTMPTags plays with our RTMP client, which announces E-RTMP support
// (fourCcList) in connect.
func playRTMPTags(ctx context.Context, url string, got *tagLog) error {
	i := strings.LastIndexByte(url, '/')
	c, err := rtmp.Dial(ctx, url[:i], rtmp.ClientConfig{})
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Play(ctx, url[i+1:]); err != nil {
		return err
	}
	got.update(func() { got.subscribed = true })
	for {
		p, err := c.ReadPacket()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if p.IsMedia() {
			got.add(gotFromPacket(p))
		}
	}
}

// readFLVTags parses an FLV byte stream until EOF into got.
func readFLVTags(r io.Reader, got *tagLog) error {
	fr := flv.NewReader(r)
	if _, err := fr.ReadHeader(); err != nil {
		return fmt.Errorf("flv header: %w", err)
	}
	got.update(func() { got.subscribed = true })
	for {
		tag, err := fr.ReadTag()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p, err := flv.PacketFromTag(tag.Type, tag.Timestamp, tag.Body)
		if err != nil {
			return fmt.Errorf("tag at %d ms: %w", tag.Timestamp, err)
		}
		if p != nil && p.IsMedia() {
			got.add(gotFromPacket(p))
		}
	}
}

func playHTTPFLVTags(ctx context.Context, url string, got *tagLog) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return readFLVTags(resp.Body, got)
}

func playWSFLVTags(ctx context.Context, url string, got *tagLog) error {
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return fmt.Errorf("ws dial %s: %w", url, err)
	}
	defer c.CloseNow()
	c.SetReadLimit(32 << 20)
	err = readFLVTags(websocket.NetConn(ctx, c, websocket.MessageBinary), got)
	// The server ends the stream with a close frame (normal closure).
	if s := websocket.CloseStatus(err); s == websocket.StatusNormalClosure || s == websocket.StatusGoingAway {
		return nil
	}
	return err
}
