package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHookTargets(t *testing.T) {
	now := time.Unix(1000, 0)
	h := &hookTargets{now: func() time.Time { return now }}
	const a, b = "192.0.2.1:1000", "192.0.2.2:2000"
	require.Nil(t, h.take("live/a", a), "nothing stored")

	h.put("live/a", a, []string{"rtmp://x/app/k"})
	require.Equal(t, []string{"rtmp://x/app/k"}, h.take("live/a", a))
	require.Nil(t, h.take("live/a", a), "taken once")

	h.put("live/a", a, []string{"rtmp://x/app/k"})
	h.put("live/a", a, nil) // a later admission without targets wins
	require.Nil(t, h.take("live/a", a))

	// Two publishers admitted for one key: each keeps its own.
	h.put("live/a", a, []string{"rtmp://x/app/ka"})
	h.put("live/a", b, []string{"rtmp://x/app/kb"})
	require.Equal(t, []string{"rtmp://x/app/kb"}, h.take("live/a", b))
	require.Equal(t, []string{"rtmp://x/app/ka"}, h.take("live/a", a))

	h.put("live/b", a, []string{"rtmp://x/app/k"})
	now = now.Add(hookTargetsTTL + time.Second)
	require.Nil(t, h.take("live/b", a), "expired")

	for i := range maxHookTargetKeys + 10 {
		h.put(fmt.Sprintf("live/%d", i), a, []string{"rtmp://x/app/k"})
		now = now.Add(time.Millisecond)
	}
	require.LessOrEqual(t, len(h.m), maxHookTargetKeys, "bounded")
	require.NotNil(t, h.take(fmt.Sprintf("live/%d", maxHookTargetKeys+9), a), "the newest kept")
}
