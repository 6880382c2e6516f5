package httpflv

import (
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// TestFFprobe plays HTTP-FLV with the real ffprobe: the stream must be
// recognised with both tracks. Skipped when ffprobe is not installed.
func TestFFprobe(t *testing.T) {
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed")
	}
	e := newEnv(t, Config{})
	p := e.publish(t, "live/probe")
	g := mediatest.New(mediatest.Config{FPS: 30, GOP: 30})
	write(t, p, g.Headers()...)
	write(t, p, g.Packets(30)...)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffprobe, "-v", "quiet", "-of", "json", "-show_streams", "-show_format",
		e.url("/live/probe.flv"))
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := cmd.Output()
		done <- result{out, err}
	}()
	e.waitReaders(t, "live/probe", 1)
	// ffprobe reads about 5 s of stream before it reports; then the stream ends.
	for range 8 {
		for pk := g.Next(); ; pk = g.Next() {
			write(t, p, pk)
			if pk.Kind == av.KindVideo && pk.Keyframe {
				break
			}
		}
	}
	p.Close()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		t.Fatal("ffprobe did not finish")
	}
	require.NoError(t, res.err, "ffprobe output: %s", res.out)
	var probe struct {
		Streams []struct {
			CodecType string `json:"codec_type"`
			CodecName string `json:"codec_name"`
			Width     int    `json:"width"`
			Height    int    `json:"height"`
		} `json:"streams"`
		Format struct {
			FormatName string `json:"format_name"`
		} `json:"format"`
	}
	require.NoError(t, json.Unmarshal(res.out, &probe))
	require.Equal(t, "flv", probe.Format.FormatName)
	got := map[string]string{}
	for _, s := range probe.Streams {
		got[s.CodecType] = s.CodecName
		if s.CodecType == "video" {
			require.Equal(t, 320, s.Width)
			require.Equal(t, 240, s.Height)
		}
	}
	require.Equal(t, map[string]string{"video": "h264", "audio": "aac"}, got)
}

// TestFFprobeFixture plays a real H.264/AAC clip through HTTP-FLV into
// ffprobe, which must decode every packet without a single error.
func TestFFprobeFixture(t *testing.T) {
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed")
	}
	pkts := mediatest.LoadFLV(t, "../../media/h264_aac_gop2s.flv")
	// What ffprobe must count: every frame from the first video keyframe
	// on (audio before it is held back so both tracks start together),
	// minus the AVC end-of-sequence tag, which is no packet for ffmpeg.
	var nv, na int
	var heads, media []*av.Packet
	keySeen := false
	for _, pk := range pkts {
		if !pk.IsMedia() || pk.Header {
			heads = append(heads, pk)
			continue
		}
		media = append(media, pk)
		keySeen = keySeen || pk.Keyframe
		switch {
		case pk.Kind == av.KindVideo && pk.Data[1] != 2:
			nv++
		case pk.Kind == av.KindAudio && keySeen:
			na++
		}
	}
	e := newEnv(t, Config{})
	p := e.publish(t, "live/clip")
	write(t, p, heads...)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffprobe, "-v", "error", "-count_packets", "-count_frames", "-of", "json",
		"-show_entries", "stream=codec_type,codec_name,width,height,nb_read_packets,nb_read_frames",
		e.url("/live/clip.flv"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	var out []byte
	go func() {
		var err error
		out, err = cmd.Output()
		done <- err
	}()
	e.waitReaders(t, "live/clip", 1)
	write(t, p, media...)
	p.Close()
	select {
	case err = <-done:
	case <-ctx.Done():
		t.Fatal("ffprobe did not finish")
	}
	require.NoError(t, err, "stderr: %s", stderr.String())
	require.Empty(t, stderr.String(), "ffprobe reported errors")
	var probe struct {
		Streams []struct {
			CodecType string `json:"codec_type"`
			CodecName string `json:"codec_name"`
			Packets   string `json:"nb_read_packets"`
			Frames    string `json:"nb_read_frames"`
		} `json:"streams"`
	}
	require.NoError(t, json.Unmarshal(out, &probe))
	got := map[string]string{}
	for _, s := range probe.Streams {
		got[s.CodecType+" "+s.CodecName] = s.Packets + "/" + s.Frames
	}
	require.Equal(t, map[string]string{
		"video h264": strconv.Itoa(nv) + "/" + strconv.Itoa(nv),
		"audio aac":  strconv.Itoa(na) + "/" + strconv.Itoa(na),
	}, got, "every packet read and decoded")
}
