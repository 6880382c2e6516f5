package bench

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// nal returns a 4-byte length-prefixed NAL unit of type typ.
func nal(typ byte, payload ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)))
	return append(append(b, 3<<5|typ), payload...)
}

func body(hdr []byte, nals ...[]byte) []byte {
	b := append([]byte(nil), hdr...)
	for _, n := range nals {
		b = append(b, n...)
	}
	return b
}

var (
	legacyKey   = []byte{0x17, 1, 0, 0, 0}
	legacyInter = []byte{0x27, 1, 0, 0x10, 0}
	exCoded     = []byte{0x80 | 0x10 | 1, 'a', 'v', 'c', '1', 0, 0, 0x21} // key, CodedFrames, SI24 CTS
	exCodedX    = []byte{0x80 | 0x20 | 3, 'a', 'v', 'c', '1'}             // inter, CodedFramesX
)

// stampCases feed the round-trip test and the fuzz seeds. The stamps
// include values whose bytes need emulation prevention (runs of zeros
// followed by 0–3).
var stampCases = []struct {
	name  string
	body  []byte
	stamp Stamp
	at    int // NAL index the stamp must land at
}{
	{"legacy key with AUD and SPS/PPS", body(legacyKey, nal(9, 0xf0), nal(7, 0x42, 0, 0x1e), nal(8, 0xce), nal(5, 0x88, 0x84)),
		Stamp{SendNs: 1_700_000_000_123_456_789, Seq: 1}, 1},
	{"legacy inter no AUD", body(legacyInter, nal(1, 0x9a, 0x02)), Stamp{SendNs: 1, Seq: 0}, 0},
	{"zeros everywhere", body(legacyInter, nal(1, 0x9a)), Stamp{SendNs: 0, Seq: 0}, 0},
	{"emulation 000003", body(legacyInter, nal(1, 0x9a)), Stamp{SendNs: 0x0000030000020000, Seq: 0x00000103}, 0},
	{"max values", body(legacyInter, nal(1, 0x9a)), Stamp{SendNs: -1, Seq: ^uint32(0)}, 0},
	{"E-RTMP avc1 CodedFrames", body(exCoded, nal(5, 0x88)), Stamp{SendNs: 42, Seq: 7}, 0},
	{"E-RTMP avc1 CodedFramesX", body(exCodedX, nal(1, 0x9a)), Stamp{SendNs: 1 << 40, Seq: 1 << 16}, 0},
}

func TestStampRoundTrip(t *testing.T) {
	for _, c := range stampCases {
		t.Run(c.name, func(t *testing.T) {
			out, err := InsertStamp(c.body, c.stamp)
			require.NoError(t, err)
			got, ok := FindStampFLV(out)
			require.True(t, ok)
			require.Equal(t, c.stamp, got)

			// The stamp lands at the expected NAL and leaves the others intact.
			off := avcNALUOffset(out)
			nals := splitAVCC(t, out[off:])
			orig := splitAVCC(t, c.body[off:])
			require.Len(t, nals, len(orig)+1)
			require.Equal(t, byte(nalSEI), nals[c.at][0]&0x1f)
			require.Equal(t, orig, append(append([][]byte{}, nals[:c.at]...), nals[c.at+1:]...))
			require.NotContains(t, string(nals[c.at]), "\x00\x00\x00", "emulation prevention")

			// Ripple's own FLV parser accepts the stamped body unchanged.
			p, err := flv.PacketFromTag(flv.TagVideo, 40, out)
			require.NoError(t, err)
			require.Equal(t, out, p.Data)

			// Annex B (MPEG-TS) carriage finds it too.
			got, ok = FindStampAnnexB(toAnnexB(nals))
			require.True(t, ok)
			require.Equal(t, c.stamp, got)

			// Without the stamp nothing is found.
			_, ok = FindStampFLV(c.body)
			require.False(t, ok)
			_, ok = FindStampAnnexB(toAnnexB(orig))
			require.False(t, ok)
		})
	}
}

func TestInsertStampRejects(t *testing.T) {
	for _, b := range [][]byte{
		nil,
		{0x17, 0, 0, 0, 0, 1, 2, 3},    // sequence header
		{0xaf, 1, 0x21, 0x10, 4, 0},    // audio-looking body
		{0x80 | 1, 'h', 'v', 'c', '1'}, // HEVC
		{0x12, 1, 0, 0, 0},             // codec 2 (Sorenson)
	} {
		_, err := InsertStamp(b, Stamp{})
		require.ErrorIs(t, err, ErrNotAVC)
	}
	_, err := InsertStamp(body(legacyKey, []byte{0, 0, 0, 50, 9, 0xf0}), Stamp{})
	require.ErrorContains(t, err, "AUD length 50")
}

func TestFindStampIgnoresOtherSEI(t *testing.T) {
	// x264 writes its own user_data_unregistered SEI with another UUID.
	other := append([]byte{seiUserDataUnreg, 40}, bytes.Repeat([]byte{0x11}, 40)...)
	b := body(legacyKey, nal(6, other...), nal(5, 0x88))
	_, ok := FindStampFLV(b)
	require.False(t, ok)
	stamped, err := InsertStamp(b, Stamp{SendNs: 5, Seq: 6})
	require.NoError(t, err)
	got, ok := FindStampFLV(stamped)
	require.True(t, ok)
	require.Equal(t, Stamp{SendNs: 5, Seq: 6}, got)
	// A stamp placed after the first VCL NAL is not looked for.
	late := body(legacyKey, nal(5, 0x88), stamped[5:])
	_, ok = FindStampFLV(late)
	require.False(t, ok)
}

func TestFindStampPrefix(t *testing.T) {
	// Players keep only a prefix of each tag: a stamp inside it is found
	// even though the prefix cuts the following NAL unit.
	big := body(legacyKey, nal(9, 0xf0), nal(5, bytes.Repeat([]byte{0x88}, 10000)...))
	out, err := InsertStamp(big, Stamp{SendNs: 99, Seq: 3})
	require.NoError(t, err)
	got, ok := FindStampFLV(out[:videoKeep])
	require.True(t, ok)
	require.Equal(t, int64(99), got.SendNs)
	for n := range 60 { // every truncation is safe
		FindStampFLV(out[:n])
	}
}

func splitAVCC(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		require.GreaterOrEqual(t, len(b), 4)
		n := int(binary.BigEndian.Uint32(b))
		require.LessOrEqual(t, 4+n, len(b))
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
	return out
}

func toAnnexB(nals [][]byte) []byte {
	var b []byte
	for _, n := range nals {
		b = append(append(b, 0, 0, 0, 1), n...)
	}
	return b
}

// TestStampThroughRTMPChunks sends stamped frames through Ripple's chunk
// writer (as a server writes them to players) and reads them back with the
// bench player's chunk parser, at the smallest and a common chunk size and
// across the extended-timestamp boundary.
func TestStampThroughRTMPChunks(t *testing.T) {
	for _, chunkSize := range []int{128, 4096} {
		for _, ts := range []uint32{0, 0xfffff0} {
			var wire []byte
			cw := rtmp.NewChunkWriter()
			if chunkSize != rtmp.DefaultChunkSize {
				wire = cw.AppendMessage(wire, 2, rtmp.SetChunkSizeMessage(uint32(chunkSize)))
				cw.SetChunkSize(chunkSize)
			}
			var want []Stamp
			for i := range 40 {
				f := mediatest.VideoFrame(0, i%10 == 0, 100+i*97, byte(i))
				s := Stamp{SendNs: int64(i) << 33, Seq: uint32(i)}
				stamped, err := InsertStamp(f.Data, s)
				require.NoError(t, err)
				want = append(want, s)
				wire = cw.AppendMessage(wire, 6, &rtmp.Message{TypeID: rtmp.TypeVideo, StreamID: 1, Timestamp: ts + uint32(i)*33, Payload: stamped})
				a := mediatest.AudioFrame(0, 300, byte(i), 2)
				wire = cw.AppendMessage(wire, 4, &rtmp.Message{TypeID: rtmp.TypeAudio, StreamID: 1, Timestamp: ts + uint32(i)*23, Payload: a.Data})
			}
			p := &rtmpPlayer{br: bufio.NewReader(bytes.NewReader(wire)), chunkSize: rtmp.DefaultChunkSize}
			var got []Stamp
			var videoTS []uint32
			for {
				c, err := p.readChunk()
				if err != nil {
					break
				}
				if c == nil {
					continue
				}
				switch c.typ {
				case rtmp.TypeSetChunkSize:
					n, err := rtmp.ParseChunkSize(c.buf)
					require.NoError(t, err)
					p.chunkSize = n
				case rtmp.TypeVideo:
					s, ok := FindStampFLV(c.buf)
					require.True(t, ok)
					got = append(got, s)
					videoTS = append(videoTS, c.ts)
				}
			}
			require.Equal(t, want, got, "chunk size %d ts %d", chunkSize, ts)
			require.Equal(t, uint64(len(wire)), p.read)
			require.Equal(t, ts+39*33, videoTS[len(videoTS)-1])
		}
	}
}
