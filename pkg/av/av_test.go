package av

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestForkSharesDataNotEncodings(t *testing.T) {
	p := &Packet{Kind: KindAudio, Codec: CodecAAC, Track: 2, Header: true, DTS: 40, CTS: -3, Data: []byte{0xAF, 0, 0x12, 0x10}}
	calls := 0
	enc := func(q *Packet) []byte { calls++; return append([]byte{byte(q.DTS)}, q.Data...) }
	require.Equal(t, byte(40), p.Encoded(SlotFLV, enc)[0])

	f := p.Fork()
	require.NotSame(t, p, f)
	require.Same(t, &p.Data[0], &f.Data[0], "Data is shared, not copied")
	require.Equal(t, p.Kind, f.Kind)
	require.Equal(t, p.Codec, f.Codec)
	require.Equal(t, p.Track, f.Track)
	require.Equal(t, p.Header, f.Header)
	require.Equal(t, p.Keyframe, f.Keyframe)
	require.Equal(t, p.DTS, f.DTS)
	require.Equal(t, p.CTS, f.CTS)

	// The fork's own hub rewrites its DTS; its encodings are its own.
	f.DTS = 90
	require.Equal(t, byte(90), f.Encoded(SlotFLV, enc)[0])
	require.Equal(t, byte(40), p.Encoded(SlotFLV, enc)[0])
	require.Equal(t, 2, calls)
}
