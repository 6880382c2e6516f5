package rtmp

import (
	"bufio"
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// hostilePartials is what a client that never connects sends to make us
// hold as much as it can: the first 128-byte chunk of maxPartialStreams
// video messages that each declare the largest length allowed, then 4096-
// byte chunks for each of them, round after round. Without a budget we
// would end up holding 64 × 8 MiB.
func hostilePartials(rounds int) []byte {
	var in []byte
	for i := range maxPartialStreams {
		in = append(in, wH0(uint32(4+i), 0, DefaultMaxMessageSize, TypeVideo, 1)...)
		in = append(in, testPayload(DefaultChunkSize, 7)...)
	}
	const chunk = 4096
	in = append(in, join(wH0(2, 0, 4, TypeSetChunkSize, 0), be32(chunk))...)
	payload := testPayload(chunk, 7)
	for range rounds {
		for i := range maxPartialStreams {
			in = append(in, wH3(uint32(4+i))...)
			in = append(in, payload...)
		}
	}
	return in
}

// TestPrePublishBoundHostileClient: a connection that has neither
// published nor played holds at most PrePublishPartialBytes in partial
// messages, however many it opens and however long they claim to be; the
// reader's accounted bytes are checked before every read it makes.
func TestPrePublishBoundHostileClient(t *testing.T) {
	in := hostilePartials(4)
	var r *ChunkReader
	peak := 0
	src := &probeReader{data: in, probe: func() {
		if r != nil {
			peak = max(peak, r.PartialBytes())
		}
	}}
	// As a server connection reads: the small read buffer, the budget of
	// a connection that does not publish.
	r = NewChunkReader(bufio.NewReaderSize(src, connReadBufferSize), 0)
	r.SetMaxPartialBytes(PrePublishPartialBytes)
	var err error
	for err == nil {
		_, err = r.ReadMessage()
	}
	requireHeldAccounted(t, r)
	peak = max(peak, r.PartialBytes())
	require.ErrorContains(t, err, fmt.Sprintf("exceeding the limit of %d", PrePublishPartialBytes))
	require.LessOrEqual(t, peak, PrePublishPartialBytes)
	require.Equal(t, maxPartialStreams, r.partial, "every partial message was opened")
	t.Logf("peak %d bytes held by %d partial messages declaring %d bytes each: %v", peak, r.partial, DefaultMaxMessageSize, err)
}

// TestPartialBudgetOnTheWire: the budget a server connection applies
// follows its state: PrePublishPartialBytes before publish or play and
// while playing, MaxPartialBytes while publishing. The test sends one
// 1 MiB video message in a single chunk.
func TestPartialBudgetOnTheWire(t *testing.T) {
	const size = 1 << 20
	big := append([]byte{0x17, 1, 0, 0, 0}, bytes.Repeat([]byte{0xAB}, size-5)...)
	for _, tc := range []struct {
		name  string
		cfg   ServerConfig
		setup func(t *testing.T, env *testEnv, r *rawConn) uint32 // returns the stream id
		limit int                                                 // 0: accepted
	}{
		{
			name:  "before connect",
			setup: func(_ *testing.T, _ *testEnv, _ *rawConn) uint32 { return 1 },
			limit: PrePublishPartialBytes,
		},
		{
			name: "player",
			setup: func(t *testing.T, env *testEnv, r *rawConn) uint32 {
				env.publisher(t, "cam1")
				r.connect(t)
				id := r.createStream(t, 2)
				r.command(t, id, "play", 3, nil, "cam1")
				require.Equal(t, codePlayReset, r.expectStatus(t).String("code"))
				return id
			},
			limit: PrePublishPartialBytes,
		},
		{
			name:  "publisher",
			setup: rawPublish,
		},
		{
			name:  "publisher with MaxPartialBytes",
			cfg:   ServerConfig{MaxPartialBytes: 512 << 10},
			setup: rawPublish,
			limit: 512 << 10,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := startServer(t, tc.cfg, hub.Config{})
			r := dialRaw(t, env.addr)
			r.handshake(t)
			id := tc.setup(t, env, r)
			r.send(t, csidControl, SetChunkSizeMessage(MaxChunkSize))
			r.cw.SetChunkSize(MaxChunkSize)
			msg := r.cw.AppendMessage(nil, csidVideo, &Message{TypeID: TypeVideo, StreamID: id, Payload: big})
			if tc.limit == 0 {
				r.write(t, msg)
				require.Eventually(t, func() bool {
					info, ok := env.hub.Stream("live/big")
					return ok && info.BytesIn >= size
				}, testTimeout, 5*time.Millisecond)
				return
			}
			_, _ = r.nc.Write(msg) // the server may close before it read it all
			r.requireClosed(t)
			line := env.logs.waitClosed(t, fmt.Sprintf("exceeding the limit of %d", tc.limit))
			require.Contains(t, line, "level=WARN")
			env.requireServes(t)
		})
	}
}

// rawPublish publishes live/big on r.
func rawPublish(t *testing.T, _ *testEnv, r *rawConn) uint32 {
	t.Helper()
	r.connect(t)
	id := r.createStream(t, 2)
	r.command(t, id, "publish", 3, nil, "big", "live")
	require.Equal(t, codePublishStart, r.expectStatus(t).String("code"))
	return id
}

// TestHostileClientOnTheWire: the hostile client of
// TestPrePublishBoundHostileClient against a server is closed with the
// budget named, and the server carries on.
func TestHostileClientOnTheWire(t *testing.T) {
	env := startServer(t, ServerConfig{}, hub.Config{})
	r := dialRaw(t, env.addr)
	r.handshake(t)
	_, _ = r.nc.Write(hostilePartials(4)) // the server closes before it read it all
	r.requireClosed(t)
	line := env.logs.waitClosed(t, fmt.Sprintf("exceeding the limit of %d", PrePublishPartialBytes))
	require.Contains(t, line, "level=WARN")
	env.requireServes(t)
}
