package transcode

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
)

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 3*maxLine)
	lr := newLineReader(strings.NewReader("frame=1\nspeed=1.5x\r\n" + long + "\nlast line\n\ntail"))
	var lines []string
	for {
		b, err := lr.next()
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
			break
		}
		lines = append(lines, string(b))
	}
	require.Equal(t, []string{"frame=1", "speed=1.5x", long[:maxLine], "last line", "", "tail"}, lines)
}

func TestParseSpeed(t *testing.T) {
	for in, want := range map[string]float64{"1.02x": 1.02, " 0.5x": 0.5, "N/A": 0, "": 0, "-1x": 0, "12x": 12} {
		require.InDelta(t, want, parseSpeed(in), 1e-9, in)
	}
}

func TestStderrTail(t *testing.T) {
	var tail stderrTail
	require.Empty(t, tail.String())
	for i := range tailLines + 3 {
		tail.add(strings.Repeat("l", i+1))
	}
	parts := strings.Split(tail.String(), " | ")
	require.Len(t, parts, tailLines)
	require.Equal(t, strings.Repeat("l", 4), parts[0], "oldest kept first")
	require.Equal(t, strings.Repeat("l", tailLines+3), parts[tailLines-1])
}

// gateEnv is a stream whose first packets the gate decides on.
func gateEnv(t *testing.T) (*hub.Hub, *hub.Publisher, *hub.Reader) {
	h := hub.New(hub.Config{})
	t.Cleanup(h.Close)
	pub, err := h.Publish("live/cam", hub.PublisherInfo{Protocol: "rtmp"})
	require.NoError(t, err)
	rd, err := h.Subscribe("live/cam", hub.ReaderInfo{Protocol: Protocol})
	require.NoError(t, err)
	t.Cleanup(rd.Close)
	return h, pub, rd
}

var (
	metaVideoOnly = []byte("\x02\x00\x0aonMetaData\x08\x00\x00\x00\x01\x00\x0cvideocodecid\x00\x40\x1c\x00\x00\x00\x00\x00\x00\x00\x00\x09")
	avcHeader     = []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 4, 0x68, 0xee, 0x3c, 0x80}
	avcKey        = []byte{0x17, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88}
	aacHeader     = []byte{0xaf, 0, 0x12, 0x10}
)

func packet(kind av.Kind, dts int64, data []byte) *av.Packet {
	p := &av.Packet{Kind: kind, DTS: dts, Data: data}
	switch kind {
	case av.KindVideo:
		p.Codec = av.CodecH264
		p.Header = data[1] == 0
		p.Keyframe = !p.Header && data[0]>>4 == 1
	case av.KindAudio:
		p.Codec = av.CodecAAC
		p.Header = data[1] == 0
	}
	return p
}

func TestGateTracks(t *testing.T) {
	ctx := context.Background()
	t.Run("both tracks seen", func(t *testing.T) {
		_, pub, rd := gateEnv(t)
		for _, p := range []*av.Packet{packet(av.KindVideo, 0, avcHeader), packet(av.KindAudio, 0, aacHeader)} {
			require.NoError(t, pub.WritePacket(p))
		}
		pkts, hasAudio, hasVideo, err := gateTracks(ctx, rd, true)
		require.NoError(t, err)
		require.True(t, hasAudio && hasVideo)
		require.Len(t, pkts, 2)
	})

	t.Run("the tracks onMetaData announces", func(t *testing.T) {
		_, pub, rd := gateEnv(t)
		for _, p := range []*av.Packet{packet(av.KindData, 0, metaVideoOnly), packet(av.KindVideo, 0, avcHeader), packet(av.KindVideo, 0, avcKey)} {
			require.NoError(t, pub.WritePacket(p))
		}
		pkts, hasAudio, hasVideo, err := gateTracks(ctx, rd, true)
		require.NoError(t, err)
		require.True(t, hasVideo)
		require.False(t, hasAudio)
		require.Len(t, pkts, 3)
		require.Equal(t, int64(0), firstMediaTime(pkts))
	})

	t.Run("a fresh stream waits for its second track", func(t *testing.T) {
		_, pub, rd := gateEnv(t)
		require.NoError(t, pub.WritePacket(packet(av.KindVideo, 0, avcHeader)))
		done := make(chan struct{})
		var hasAudio, hasVideo bool
		go func() {
			defer close(done)
			_, hasAudio, hasVideo, _ = gateTracks(ctx, rd, true)
		}()
		require.NoError(t, pub.WritePacket(packet(av.KindVideo, 0, avcKey)))
		require.NoError(t, pub.WritePacket(packet(av.KindAudio, 10, aacHeader)))
		<-done
		require.True(t, hasAudio && hasVideo)
	})

	t.Run("the stream ends", func(t *testing.T) {
		_, pub, rd := gateEnv(t)
		pub.End()
		_, _, _, err := gateTracks(ctx, rd, true)
		require.ErrorIs(t, readerCause(err), errSourceEnded)
	})

	t.Run("the run ends", func(t *testing.T) {
		_, _, rd := gateEnv(t)
		ctx, cancel := context.WithCancelCause(ctx)
		cause := errors.New("stopped")
		cancel(cause)
		_, _, _, err := gateTracks(ctx, rd, true)
		require.ErrorIs(t, err, cause)
	})
}
