//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// probe is the part of `ffprobe -of json` output the tests look at.
type probe struct {
	Streams []probeStream `json:"streams"`
	Packets []probePacket `json:"packets"`
}

type probeStream struct {
	Index     int    `json:"index"`
	CodecType string `json:"codec_type"`
	CodecName string `json:"codec_name"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
}

type probePacket struct {
	CodecType   string `json:"codec_type"`
	StreamIndex int    `json:"stream_index"`
	PTS         *int64 `json:"pts"` // nil: ffprobe printed N/A
	DTS         *int64 `json:"dts"`
	Flags       string `json:"flags"`
}

// stream returns the single stream of codecType, or false.
func (p probe) stream(codecType string) (probeStream, bool) {
	for _, s := range p.Streams {
		if s.CodecType == codecType {
			return s, true
		}
	}
	return probeStream{}, false
}

// packets returns the packets of codecType in file order.
func (p probe) packets(codecType string) []probePacket {
	var out []probePacket
	for _, pk := range p.Packets {
		if pk.CodecType == codecType {
			out = append(out, pk)
		}
	}
	return out
}

// runProbe runs ffprobe on target (a file or a live URL; for a live URL it
// reads until the server ends the stream) and parses streams and packets.
func runProbe(ctx context.Context, target string) (probe, error) {
	cmd := exec.CommandContext(ctx, ffprobe, "-v", "error",
		"-show_entries", "stream=index,codec_type,codec_name,width,height:packet=codec_type,stream_index,pts,dts,flags",
		"-of", "json", target)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return probe{}, fmt.Errorf("ffprobe %s: %w: %s", target, err, stderr.String())
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		return probe{}, fmt.Errorf("ffprobe %s: parse json: %w", target, err)
	}
	return p, nil
}

// source describes a clip as measured by ffprobe.
type source struct {
	probe
	VideoPackets, AudioPackets int
}

// keyframes returns the indexes of the video keyframes in decode order.
func (s source) keyframes() []int {
	var out []int
	for i, pk := range s.packets("video") {
		if strings.HasPrefix(pk.Flags, "K") {
			out = append(out, i)
		}
	}
	return out
}

// probeClip measures a clip in media/.
func probeClip(t *testing.T, path string) source {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := runProbe(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	return source{probe: p, VideoPackets: len(p.packets("video")), AudioPackets: len(p.packets("audio"))}
}

// checkPlayback checks what a player received against the source clip:
// same set of streams with the same codecs and resolution, a video frame count
// within 2 % of the source's (the player joined within the first GOP, so the
// GOP cache replays from frame 0), audio within 5 %, video starting on a
// keyframe, video DTS strictly increasing, audio DTS non-decreasing, and every
// video packet with PTS >= DTS.
func checkPlayback(t *testing.T, got probe, src source) {
	t.Helper()
	t.Logf("received %d video / %d audio packets (source %d / %d)",
		len(got.packets("video")), len(got.packets("audio")), src.VideoPackets, src.AudioPackets)
	checkStreams(t, got, src)
	checkCount(t, "video", len(got.packets("video")), src.VideoPackets, 0.02)
	checkCount(t, "audio", len(got.packets("audio")), src.AudioPackets, 0.05)
	checkTimestamps(t, got, time.Second)
}

func checkStreams(t *testing.T, got probe, src source) {
	t.Helper()
	if len(got.Streams) != len(src.Streams) {
		t.Errorf("player sees %d streams %v, source has %d %v", len(got.Streams), got.Streams, len(src.Streams), src.Streams)
	}
	for _, want := range src.Streams {
		s, ok := got.stream(want.CodecType)
		if !ok {
			t.Errorf("player has no %s stream (streams: %v)", want.CodecType, got.Streams)
			continue
		}
		if s.CodecName != want.CodecName {
			t.Errorf("%s codec %q, source %q", want.CodecType, s.CodecName, want.CodecName)
		}
		if s.Width != want.Width || s.Height != want.Height {
			t.Errorf("%s resolution %dx%d, source %dx%d", want.CodecType, s.Width, s.Height, want.Width, want.Height)
		}
	}
}

// checkCount requires got within frac of want (both ways).
func checkCount(t *testing.T, what string, got, want int, frac float64) {
	t.Helper()
	if want == 0 {
		if got != 0 {
			t.Errorf("%s packets: got %d, source has none", what, got)
		}
		return
	}
	if d := math.Abs(float64(got-want)) / float64(want); d > frac {
		t.Errorf("%s packets: got %d, want %d ± %.0f%% (off by %.1f%%)", what, got, want, frac*100, d*100)
	}
}

// checkTimestamps checks per-track DTS order, PTS >= DTS for video, and that
// no two consecutive packets of a track are more than maxGap apart (a jump
// means a broken rebase or unwrap). Packet timestamps from FLV are in ms.
func checkTimestamps(t *testing.T, got probe, maxGap time.Duration) {
	t.Helper()
	for _, kind := range []string{"video", "audio"} {
		pkts := got.packets(kind)
		var prev int64 = math.MinInt64
		var errs []string
		for i, pk := range pkts {
			if pk.DTS == nil {
				errs = append(errs, fmt.Sprintf("packet %d: no dts", i))
				continue
			}
			dts := *pk.DTS
			switch {
			case kind == "video" && dts <= prev:
				errs = append(errs, fmt.Sprintf("packet %d: dts %d after %d (not strictly increasing)", i, dts, prev))
			case kind == "audio" && dts < prev:
				errs = append(errs, fmt.Sprintf("packet %d: dts %d after %d (decreasing)", i, dts, prev))
			}
			if prev != math.MinInt64 && time.Duration(dts-prev)*time.Millisecond > maxGap {
				errs = append(errs, fmt.Sprintf("packet %d: dts jumps from %d to %d (more than %s)", i, prev, dts, maxGap))
			}
			if kind == "video" && (pk.PTS == nil || *pk.PTS < dts) {
				errs = append(errs, fmt.Sprintf("packet %d: pts %s < dts %d", i, fmtPTS(pk.PTS), dts))
			}
			prev = dts
		}
		if kind == "video" && len(pkts) > 0 && !strings.HasPrefix(pkts[0].Flags, "K") {
			errs = append(errs, fmt.Sprintf("first video packet is not a keyframe (flags %q)", pkts[0].Flags))
		}
		if len(errs) > 0 {
			t.Errorf("%s timestamps: %d problems, first: %s", kind, len(errs), strings.Join(errs[:min(len(errs), 5)], "; "))
		}
	}
}

func fmtPTS(p *int64) string {
	if p == nil {
		return "N/A"
	}
	return fmt.Sprint(*p)
}
