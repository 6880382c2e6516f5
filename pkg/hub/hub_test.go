package hub

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ripplemedia/ripple/pkg/av"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestSmoke(t *testing.T) {
	h := New(Config{})
	defer h.Close()
	p, err := h.Publish("live/a", PublisherInfo{Protocol: "test"})
	require.NoError(t, err)
	r, err := h.Subscribe("live/a", ReaderInfo{})
	require.NoError(t, err)
	require.NoError(t, p.WritePacket(&av.Packet{Kind: av.KindVideo, Keyframe: true, DTS: 1000, Data: []byte{0x17, 1}}))
	require.NoError(t, p.WritePacket(&av.Packet{Kind: av.KindVideo, DTS: 1040, Data: []byte{0x27, 1}}))
	p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := r.Read(ctx, nil)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, int64(0), got[0].DTS)
	require.Equal(t, int64(40), got[1].DTS)
	_, err = r.Read(ctx, nil)
	require.ErrorIs(t, err, io.EOF)
}
