package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/ingest"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// TestHubDropsEmptyPPS wires the validator into a hub as pkg/server does
// and publishes the stream that crashed the HLS muxer: an AVC sequence
// header with an empty PPS, then keyframes. The header never reaches a
// reader or the stream's cached headers; the frames and the publisher go on.
func TestHubDropsEmptyPPS(t *testing.T) {
	h := hub.New(hub.Config{Validator: func() hub.PacketValidator { return ingest.New() }})
	defer h.Close()
	pub, err := h.Publish("live/a", hub.PublisherInfo{Protocol: "test"})
	require.NoError(t, err)
	r, err := h.Subscribe("live/a", hub.ReaderInfo{Protocol: "test"})
	require.NoError(t, err)
	defer r.Close()

	g := mediatest.New(mediatest.Config{GOP: 5})
	sps := mediatest.SPS(320, 240)
	record := append([]byte{1, sps[1], sps[2], sps[3], 0xFF, 0xE1, 0, byte(len(sps))}, sps...)
	record = append(record, 1, 0, 0) // one PPS of length 0
	bad, err := flv.PacketFromTag(flv.TagVideo, 0, append([]byte{0x17, 0, 0, 0, 0}, record...))
	require.NoError(t, err)
	require.True(t, bad.Header)

	media := g.Packets(20)
	require.NoError(t, pub.WritePacket(g.Metadata()))
	require.NoError(t, pub.WritePacket(bad))
	require.NoError(t, pub.WritePacket(g.AudioHeader()))
	for _, p := range media {
		require.NoError(t, pub.WritePacket(p))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got []*av.Packet
	for len(got) < 2+len(media) {
		got, err = r.Read(ctx, got)
		require.NoError(t, err)
	}
	for _, p := range got {
		require.NotSame(t, bad, p)
	}
	info, ok := h.Stream("live/a")
	require.True(t, ok)
	require.True(t, info.Publishing)
	require.Nil(t, info.VideoHeader)
	require.NotNil(t, info.AudioHeader)
	require.Equal(t, uint64(1), info.InvalidPackets)
	require.Equal(t, "avc sequence header: pps 0 has length 0", info.LastInvalid)
	require.Equal(t, uint64(1), h.InvalidPackets())
}
