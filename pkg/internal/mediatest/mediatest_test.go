package mediatest

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/amf0"
	"github.com/ripplemedia/ripple/pkg/av"
)

func TestGeneratorOrderAndRates(t *testing.T) {
	for _, tc := range []struct {
		name           string
		cfg            Config
		wantV, wantA   bool
		wantKeyEvery   int
		wantAudioPerS  [2]int // bounds of audio packets in the first second
		wantVideoPerS  int
		wantFirstMedia av.Kind
	}{
		{name: "av", cfg: Config{FPS: 25, GOP: 50}, wantV: true, wantA: true, wantKeyEvery: 50, wantAudioPerS: [2]int{43, 44}, wantVideoPerS: 25, wantFirstMedia: av.KindVideo},
		{name: "video only", cfg: Config{NoAudio: true}, wantV: true, wantKeyEvery: 30, wantVideoPerS: 30, wantFirstMedia: av.KindVideo},
		{name: "audio only", cfg: Config{NoVideo: true}, wantA: true, wantAudioPerS: [2]int{43, 44}, wantFirstMedia: av.KindAudio},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := New(tc.cfg)
			hdrs := g.Headers()
			require.Equal(t, av.KindData, hdrs[0].Kind)
			require.Len(t, hdrs, 1+btoi(tc.wantV)+btoi(tc.wantA))
			for _, h := range hdrs[1:] {
				require.True(t, h.Header)
			}

			pkts := g.Packets(500)
			require.Equal(t, tc.wantFirstMedia, pkts[0].Kind)
			last := map[av.Kind]int64{}
			var video, audio, videoFirstSec, audioFirstSec int
			for _, p := range pkts {
				require.False(t, p.Header)
				require.GreaterOrEqual(t, p.DTS, last[p.Kind], "DTS must not decrease per track")
				last[p.Kind] = p.DTS
				switch p.Kind {
				case av.KindVideo:
					require.Equal(t, video%tc.wantKeyEvery == 0, p.Keyframe, "video frame %d", video)
					require.Equal(t, g.VideoDTS(video), p.DTS)
					video++
					if p.DTS < 1000 {
						videoFirstSec++
					}
				case av.KindAudio:
					require.False(t, p.Keyframe)
					require.Equal(t, AudioDTS(audio), p.DTS)
					audio++
					if p.DTS < 1000 {
						audioFirstSec++
					}
				}
			}
			require.Equal(t, tc.wantV, video > 0)
			require.Equal(t, tc.wantA, audio > 0)
			require.Equal(t, tc.wantVideoPerS, videoFirstSec)
			if tc.wantA {
				require.GreaterOrEqual(t, audioFirstSec, tc.wantAudioPerS[0])
				require.LessOrEqual(t, audioFirstSec, tc.wantAudioPerS[1])
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestStartTSWraps(t *testing.T) {
	g := New(Config{StartTS: 0xFFFFFF00, NoAudio: true})
	var wire []uint32
	for range 10 {
		wire = append(wire, uint32(g.Next().DTS))
	}
	require.Equal(t, uint32(0xFFFFFF00), wire[0])
	require.Less(t, wire[9], uint32(0x1000), "wire timestamps wrap past 0xFFFFFFFF")
}

func TestVideoBodies(t *testing.T) {
	hdr := VideoHeader(0, 1280, 720)
	b := hdr.Data
	require.Equal(t, []byte{0x17, 0, 0, 0, 0}, b[:5], "keyframe|AVC, sequence header, CTS 0")
	rec := b[5:]
	require.Equal(t, byte(1), rec[0], "configurationVersion")
	require.Equal(t, byte(66), rec[1])
	require.Equal(t, byte(0xFF), rec[4], "4-byte NALU lengths")
	require.Equal(t, byte(0xE1), rec[5], "one SPS")
	spsLen := int(binary.BigEndian.Uint16(rec[6:]))
	sps := rec[8 : 8+spsLen]
	require.Equal(t, byte(0x67), sps[0])
	rest := rec[8+spsLen:]
	require.Equal(t, byte(1), rest[0], "one PPS")
	ppsLen := int(binary.BigEndian.Uint16(rest[1:]))
	require.Len(t, rest[3:], ppsLen)
	require.Equal(t, byte(0x68), rest[3])

	for _, tc := range []struct{ w, h int }{{320, 240}, {1280, 720}, {1920, 1080}, {642, 362}} {
		w, h := parseSPSSize(t, SPS(tc.w, tc.h))
		require.Equal(t, tc.w, w)
		require.Equal(t, tc.h, h)
	}

	key := VideoFrame(40, true, 10, 0)
	require.Equal(t, []byte{0x17, 1, 0, 0, 0}, key.Data[:5])
	require.Equal(t, uint32(11), binary.BigEndian.Uint32(key.Data[5:]))
	require.Equal(t, byte(0x65), key.Data[9], "IDR NAL")
	require.Len(t, key.Data, 5+4+11)
	inter := VideoFrame(80, false, 10, 0)
	require.Equal(t, []byte{0x27, 1, 0, 0, 0}, inter.Data[:5])
	require.Equal(t, byte(0x41), inter.Data[9], "non-IDR NAL")
}

func TestAudioBodies(t *testing.T) {
	require.Equal(t, []byte{0xAF, 0, 0x12, 0x10}, AudioHeader(0, 2).Data, "AAC-LC 44.1 kHz stereo")
	require.Equal(t, []byte{0xAE, 0, 0x12, 0x08}, AudioHeader(0, 1).Data, "AAC-LC 44.1 kHz mono")
	f := AudioFrame(23, 7, 0, 2)
	require.Equal(t, []byte{0xAF, 1}, f.Data[:2])
	require.Len(t, f.Data, 9)
}

func TestMetadata(t *testing.T) {
	g := New(Config{Width: 640, Height: 360, FPS: 25})
	vals, err := amf0.DecodeAll(g.Metadata().Data)
	require.NoError(t, err)
	require.Len(t, vals, 2)
	require.Equal(t, "onMetaData", vals[0])
	arr, ok := vals[1].(amf0.ECMAArray)
	require.True(t, ok, "%T", vals[1])
	w, _ := arr.Number("width")
	require.Equal(t, 640.0, w)
	fr, _ := arr.Number("framerate")
	require.Equal(t, 25.0, fr)
	vc, _ := arr.Number("videocodecid")
	require.Equal(t, 7.0, vc)
	ac, _ := arr.Number("audiocodecid")
	require.Equal(t, 10.0, ac)
	stereo, _ := arr.Get("stereo")
	require.Equal(t, true, stereo)
	require.Equal(t, "ripple-mediatest", arr.String("encoder"))
}

func TestNALEmulationPrevention(t *testing.T) {
	require.Equal(t, []byte{0x67, 0, 0, 3, 1, 0, 0, 3, 0, 5}, nalUnit(0x67, []byte{0, 0, 1, 0, 0, 0, 5}))
}

// parseSPSSize reads the frame size from a Baseline SPS (ITU-T H.264
// §7.3.2.1.1, §7.4.2.1.1); enough to check what SPS writes.
func parseSPSSize(t *testing.T, nal []byte) (w, h int) {
	t.Helper()
	var rbsp []byte
	zeros := 0
	for _, c := range nal[1:] {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		rbsp = append(rbsp, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	pos := 0
	bit := func() uint32 {
		require.Less(t, pos/8, len(rbsp), "SPS truncated")
		v := uint32(rbsp[pos/8]>>(7-pos%8)) & 1
		pos++
		return v
	}
	bits := func(n int) uint32 {
		var v uint32
		for range n {
			v = v<<1 | bit()
		}
		return v
	}
	ue := func() uint32 {
		n := 0
		for bit() == 0 {
			n++
		}
		return 1<<n - 1 + bits(n)
	}
	require.Equal(t, uint32(66), bits(8))
	bits(16)                          // constraints, level
	ue()                              // sps id
	ue()                              // log2_max_frame_num_minus4
	require.Equal(t, uint32(2), ue()) // poc type 2: nothing more
	ue()                              // max_num_ref_frames
	bits(1)
	mbW, mbH := int(ue())+1, int(ue())+1
	require.Equal(t, uint32(1), bit(), "frame_mbs_only_flag")
	bits(1)
	w, h = mbW*16, mbH*16
	if bit() == 1 {
		l, r, tp, b := ue(), ue(), ue(), ue()
		w -= 2 * int(l+r)
		h -= 2 * int(tp+b)
	}
	require.Equal(t, uint32(0), bit(), "no VUI")
	require.Equal(t, uint32(1), bit(), "rbsp_stop_one_bit")
	return w, h
}
