package record

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/ac3"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/codec/av1"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// ffmpeg runs ffmpeg with args (after the common flags) and returns the
// path of its output, out, in a temporary directory.
func ffmpeg(t *testing.T, out string, args ...string) string {
	t.Helper()
	bin := "/usr/bin/ffmpeg"
	if _, err := os.Stat(bin); err != nil {
		if testing.Short() {
			t.Skip("ffmpeg missing (short mode)")
		}
		t.Fatalf("ffmpeg missing: %v", err)
	}
	path := filepath.Join(t.TempDir(), out)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...), path)...)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	return path
}

var (
	testVideo = []string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "3"}
	testAudio = []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "3"}
	x264      = []string{"-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p"}
)

// ffmpegFLV has ffmpeg write an FLV (legacy codecs) and returns its
// packets as RTMP ingest makes them.
func ffmpegFLV(t *testing.T, args ...string) []*av.Packet {
	t.Helper()
	return mediatest.LoadFLV(t, ffmpeg(t, "clip.flv", append(args, "-f", "flv")...))
}

// av1Packets encodes AV1 with SVT-AV1 into IVF and wraps each temporal
// unit as an E-RTMP av01 CodedFrames tag, after a SequenceStart carrying
// an AV1CodecConfigurationRecord with the sequence header.
func av1Packets(t *testing.T) []*av.Packet {
	t.Helper()
	path := ffmpeg(t, "av1.ivf", append(append([]string{}, testVideo...),
		"-c:v", "libsvtav1", "-preset", "12", "-g", "25", "-pix_fmt", "yuv420p", "-f", "ivf")...)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "DKIF", string(b[:4]))
	b = b[binary.LittleEndian.Uint16(b[6:]):] // the header's length
	var out []*av.Packet
	for i := 0; len(b) >= 12; i++ {
		n := int(binary.LittleEndian.Uint32(b))
		tu := b[12 : 12+n]
		b = b[12+n:]
		key := false
		var kept []byte
		for off := 0; off < len(tu); {
			var o av1.OBU
			require.NoError(t, o.Unmarshal(tu[off:]))
			obu := tu[off : off+o.Len]
			off += o.Len
			switch o.Type {
			case av1.OBUTemporalDelimiter:
				continue
			case av1.OBUSequenceHeader:
				key = true // SVT-AV1 repeats it on every keyframe
				if len(out) == 0 {
					rec, err := av1.DecoderConfig{ConfigOBUs: obu}.Marshal()
					require.NoError(t, err)
					out = append(out, &av.Packet{Kind: av.KindVideo, Codec: av.CodecAV1, Header: true,
						Data: append([]byte{0x80 | 1<<4 /* key, SequenceStart */, 'a', 'v', '0', '1'}, rec...)})
				}
			}
			kept = append(kept, obu...)
		}
		ft := byte(2)
		if key {
			ft = 1
		}
		p, err := flv.PacketFromTag(flv.TagVideo, uint32(i*40), append([]byte{0x80 | ft<<4 | 1, 'a', 'v', '0', '1'}, kept...))
		require.NoError(t, err)
		require.Equal(t, key, p.Keyframe)
		out = append(out, p)
	}
	return out
}

// ac3Packets encodes AC-3 and wraps each sync frame as an E-RTMP ac-3
// CodedFrames audio tag.
func ac3Packets(t *testing.T) []*av.Packet {
	t.Helper()
	path := ffmpeg(t, "a.ac3", append(append([]string{}, testAudio...), "-c:a", "ac3", "-f", "ac3")...)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []*av.Packet
	for i := 0; len(b) > 0; i++ {
		var si ac3.SyncInfo
		require.NoError(t, si.Unmarshal(b))
		frame := b[:si.FrameSize()]
		b = b[si.FrameSize():]
		p, err := flv.PacketFromTag(flv.TagAudio, uint32(i*32), append([]byte{9<<4 | 1, 'a', 'c', '-', '3'}, frame...))
		require.NoError(t, err)
		require.Equal(t, av.CodecAC3, p.Codec)
		out = append(out, p)
	}
	return out
}

// TestCodecs records every codec fMP4 holds (and FLV for what ffprobe
// 5.1 reads of FLV: legacy codecs) and reads the files with ffprobe.
func TestCodecs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pkts    func(t *testing.T) []*av.Packet
		formats []Format
		want    map[string]string // ffprobe codec_type → codec_name, fMP4
		wantFLV map[string]string
		minEnd  float64
	}{
		{
			name: "hevc opus ertmp", formats: []Format{FormatFMP4}, minEnd: 0.3,
			pkts: func(t *testing.T) []*av.Packet {
				return mediatest.LoadFLV(t, mediatest.RepoPath(t, "pkg/flv/testdata/hevc_opus_ertmp.flv"))
			},
			want: map[string]string{"video": "hevc", "audio": "opus"},
		},
		{
			name: "hevc legacy id 12", formats: []Format{FormatFMP4}, minEnd: 0.3,
			pkts: func(t *testing.T) []*av.Packet {
				return mediatest.LoadFLV(t, mediatest.RepoPath(t, "pkg/flv/testdata/hevc_legacy12.flv"))
			},
			want: map[string]string{"video": "hevc"},
		},
		{
			name: "av1", formats: []Format{FormatFMP4}, minEnd: 2.9, pkts: av1Packets,
			want: map[string]string{"video": "av1"},
		},
		{
			name: "ac3 ertmp", formats: []Format{FormatFMP4}, minEnd: 2.9, pkts: ac3Packets,
			want: map[string]string{"audio": "ac3"},
		},
		{
			name: "h264 mp3", formats: []Format{FormatFMP4, FormatFLV}, minEnd: 2.9,
			pkts: func(t *testing.T) []*av.Packet {
				return ffmpegFLV(t, append(append(append(append([]string{}, testVideo...), testAudio...), x264...),
					"-c:a", "libmp3lame", "-ar", "44100")...)
			},
			want: map[string]string{"video": "h264", "audio": "mp3"},
		},
		{
			name: "h264 pcm", formats: []Format{FormatFMP4, FormatFLV}, minEnd: 2.9,
			pkts: func(t *testing.T) []*av.Packet {
				return ffmpegFLV(t, append(append(append(append([]string{}, testVideo...), testAudio...), x264...),
					"-c:a", "pcm_s16le", "-ar", "44100")...)
			},
			want: map[string]string{"video": "h264", "audio": "pcm_s16le"},
		},
		{
			// G.711 has no sample entry in mediacommon: fMP4 leaves it out.
			name: "h264 g711", formats: []Format{FormatFMP4, FormatFLV}, minEnd: 2.9,
			pkts: func(t *testing.T) []*av.Packet {
				return ffmpegFLV(t, append(append(append(append([]string{}, testVideo...), testAudio...), x264...),
					"-c:a", "pcm_alaw", "-ar", "8000", "-ac", "1")...)
			},
			want:    map[string]string{"video": "h264"},
			wantFLV: map[string]string{"video": "h264", "audio": "pcm_alaw"},
		},
		{
			name: "h264 b-frames aac", formats: []Format{FormatFMP4, FormatFLV}, minEnd: 2.9,
			pkts: func(t *testing.T) []*av.Packet {
				return ffmpegFLV(t, append(append(append(append([]string{}, testVideo...), testAudio...), x264...),
					"-bf", "2", "-c:a", "aac")...)
			},
			want: map[string]string{"video": "h264", "audio": "aac"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkts := tc.pkts(t)
			for _, f := range tc.formats {
				t.Run(f.String(), func(t *testing.T) {
					e := newEnv(t, Rule{Enabled: true, Format: f}, graceZero)
					pub := e.publish(testKey)
					write(t, pub, pkts...)
					pub.Close()
					done := e.wait(EventDone)
					p := ffprobe(t, done.Recording.Path)
					want := tc.want
					if f == FormatFLV && tc.wantFLV != nil {
						want = tc.wantFLV
					}
					require.Equal(t, want, p.codecs())
					require.GreaterOrEqual(t, p.end(""), tc.minEnd)
					require.InDelta(t, done.Recording.Duration.Seconds(), p.end(""), 0.1)
					if _, ok := want["video"]; ok {
						pts, key := p.first("video")
						require.True(t, key)
						require.Less(t, pts, 0.2)
					}
					checkDecodes(t, done.Recording.Path)
				})
			}
		})
	}
}

// checkDecodes decodes a file with ffmpeg: no error on the way.
func checkDecodes(t *testing.T, path string) {
	t.Helper()
	cmd := exec.Command("/usr/bin/ffmpeg", "-hide_banner", "-v", "error", "-i", path, "-f", "null", "-")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Empty(t, string(out), "decoding %s", path)
}
