//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// TestERTMPBrowserAV1 is a real-client check of E-RTMP: an AV1 stream
// published as E-RTMP av01 tags (our RTMP client; SVT-AV1 frames) plays in
// the page's mpegts.js over WS-FLV in headless Chromium, the video
// advancing with no player or media error.
//
// The frames come from libaom: mpegts.js 1.8.2 throws while parsing the
// keyframe header of Debian's SVT-AV1 1.4 output ("Uncaught" exception in
// its AV1 frame header parser, which reads showable_frame even when
// show_frame is set, unlike AV1 §5.9.2), and never starts the video. Both
// encoders' streams pass through Ripple byte for byte (TestERTMPPassthrough).
func TestERTMPBrowserAV1(t *testing.T) {
	t.Parallel()
	const key = "live/av1"
	tags := av1Stream(t, 2, aomAV1...)
	srv := startServer(t)
	br := startBrowser(t)

	ctx, cancel := context.WithCancel(t.Context())
	pubErr := make(chan error, 1)
	live := make(chan struct{})
	go func() { pubErr <- publishAV1Loop(ctx, "rtmp://"+srv.RTMPAddr+"/live", "av1", tags, live) }()
	t.Cleanup(func() {
		cancel()
		// The loop returns nil when cancelled: any error is real.
		if err := await(t, "AV1 publisher", pubErr, 30*time.Second); err != nil {
			t.Errorf("AV1 publisher: %v", err)
		}
	})
	select {
	case <-live:
	case err := <-pubErr:
		t.Fatalf("AV1 publisher: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("AV1 publisher not live within 30 s")
	}
	srv.waitLive(t, key, nil)

	tb := br.newTab(t, "av1 support")
	tb.do(t, "open the page", pageTimeout, chromedp.Navigate(srv.pageURL()))
	require.True(t, eval[bool](t, tb, "MSE AV1 support", pageTimeout,
		`MediaSource.isTypeSupported('video/mp4; codecs="av01.0.04M.08"')`), "this Chromium's MSE cannot play AV1")
	playInPage(t, br, srv, key, "ws", "mpegts.js", "player-ws-flv-av1.png")
}

// publishAV1Loop publishes tags (metadata, SequenceStart, then coded
// frames at 25 fps) at real time, looping the frames with timestamps
// continuing, until ctx ends. live is closed once the publish started.
func publishAV1Loop(ctx context.Context, url, name string, tags []pubTag, live chan<- struct{}) error {
	c, err := rtmp.Dial(ctx, url, rtmp.ClientConfig{})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Publish(ctx, name); err != nil {
		return err
	}
	close(live)
	var frames []pubTag
	for _, tag := range tags {
		kind := av.KindVideo
		if tag.typ == flv.TagScript {
			kind = av.KindData
		}
		if tag.typ == flv.TagScript || tag.body[0]&0x0f == ertmpSequenceStart {
			if err := c.WritePacket(&av.Packet{Kind: kind, Data: tag.body}); err != nil {
				return err
			}
			continue
		}
		frames = append(frames, tag)
	}
	if len(frames) == 0 {
		return fmt.Errorf("no coded frames to publish")
	}
	const frameDur = 40 * time.Millisecond
	tick := time.NewTicker(frameDur)
	defer tick.Stop()
	for n := 0; ; n++ {
		f := frames[n%len(frames)]
		p := &av.Packet{Kind: av.KindVideo, DTS: int64(n) * frameDur.Milliseconds(), Data: f.body}
		if err := c.WritePacket(p); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
