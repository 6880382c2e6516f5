package hls

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/codec/hevc"
)

// lookTool finds an ffmpeg tool; CI must have it (it fails there rather
// than skipping), a developer machine without it skips.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// splitAnnexB returns the NAL units of an Annex-B byte stream.
func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				out = append(out, bytes.TrimRight(b[start:i], "\x00"))
			}
			start = i + 3
			i += 2
		}
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

// TestHEVC encodes a real HEVC clip with libx265, feeds it through the
// segmenter as FLV would carry it (an HEVCDecoderConfigurationRecord, then
// length-prefixed access units) and decodes the fMP4 and MPEG-TS output
// with ffmpeg.
func TestHEVC(t *testing.T) {
	ffmpeg := lookTool(t, "ffmpeg")
	dir := t.TempDir()
	raw := filepath.Join(dir, "clip.hevc")
	out, err := exec.Command(ffmpeg, "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-t", "3", "-c:v", "libx265", "-preset", "ultrafast",
		"-x265-params", "keyint=25:min-keyint=25:bframes=0:aud=1:repeat-headers=1:log-level=error",
		"-f", "hevc", raw).CombinedOutput()
	require.NoError(t, err, "%s", out)
	b, err := os.ReadFile(raw)
	require.NoError(t, err)

	// Parameter sets into a decoder configuration record; access units
	// split on the access unit delimiters.
	dc := hevc.DecoderConfig{LengthSize: 4, GeneralProfileIdc: 1, GeneralProfileCompatibilityFlags: 0x60000000,
		GeneralLevelIdc: 60, ChromaFormat: 1, BitDepthLuma: 8, BitDepthChroma: 8}
	var aus [][][]byte
	seen := map[hevc.NALUType]bool{}
	for _, n := range splitAnnexB(b) {
		switch typ := hevc.TypeOf(n); typ {
		case hevc.NALUVPS, hevc.NALUSPS, hevc.NALUPPS:
			// Repeated before every keyframe; FLV carries them in the
			// sequence header only.
			if !seen[typ] {
				seen[typ] = true
				dc.Arrays = append(dc.Arrays, hevc.NALUArray{Complete: true, Type: typ, NALUs: [][]byte{n}})
			}
		case hevc.NALUAUD:
			aus = append(aus, nil)
		default:
			if len(aus) == 0 {
				aus = append(aus, nil)
			}
			aus[len(aus)-1] = append(aus[len(aus)-1], n)
		}
	}
	require.GreaterOrEqual(t, len(aus), 70, "access units")
	record, err := dc.Marshal()
	require.NoError(t, err)

	for _, v := range []Variant{VariantFMP4, VariantMPEGTS} {
		t.Run(v.String(), func(t *testing.T) {
			cfg := Config{Variant: v, SegmentDuration: time.Second}
			cfg = cfg.withDefaults()
			m := newMedia(testKey, v, &cfg, time.Now())
			s := newSegmenter(m, &cfg, nil)
			vt, err := parseVideoConfig(av.CodecHEVC, record)
			require.NoError(t, err)
			require.Equal(t, "hvc1.1.6.L60", vt.codecStr)
			require.NoError(t, s.configure(vt, nil))
			for i, au := range aus {
				var avcc []byte
				key := false
				for _, n := range au {
					key = key || hevc.TypeOf(n).IsIRAP()
					avcc = append(avcc, byte(len(n)>>24), byte(len(n)>>16), byte(len(n)>>8), byte(len(n)))
					avcc = append(avcc, n...)
				}
				require.NoError(t, s.video(int64(i)*40, 0, key, avcc))
			}
			m.mu.Lock()
			segs := append([]*segment(nil), m.segments...)
			initName := m.nextInit
			m.mu.Unlock()
			require.Len(t, segs, 2)
			var file []byte
			if v == VariantFMP4 {
				f, _ := m.lookup(initName)
				file = append(file, f.data...)
			}
			for _, sg := range segs {
				require.Equal(t, time.Second, sg.dur)
				f, _ := m.lookup(sg.name)
				file = append(file, f.data...)
			}
			path := filepath.Join(dir, "out-"+v.String())
			require.NoError(t, os.WriteFile(path, file, 0o644))
			out, err := exec.Command(ffmpeg, "-nostdin", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
			require.NoError(t, err, "%s", out)
			require.Empty(t, strings.TrimSpace(string(out)))
			probe, err := exec.Command(ffmpeg, "-nostdin", "-hide_banner", "-i", path).CombinedOutput()
			require.Contains(t, string(probe), "Video: hevc", "%s (%v)", probe, err)
		})
	}
}
